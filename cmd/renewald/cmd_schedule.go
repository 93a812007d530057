package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/renewald/renewald/renewal"
)

// scheduleEntry is one renewal of one enrollment with its reminders in the requested range.
type scheduleEntry struct {
	EnrollmentID     int64              `json:"enrollment_id"`
	PartnerID        string             `json:"partner_id"`
	PartnerName      string             `json:"partner_name"`
	Specialization   string             `json:"specialization"`
	AttainedOn       renewal.Date       `json:"attained_on"`
	AnniversaryOn    renewal.Date       `json:"anniversary_on"`
	RenewalYear      int                `json:"renewal_year"`
	ManualValidation renewal.Validation `json:"manual_validation"`
	WindowOpensOn    renewal.Date       `json:"window_opens_on"`
	WindowClosesOn   renewal.Date       `json:"window_closes_on"`
	GraceEndsOn      renewal.Date       `json:"grace_ends_on"`
	Outcome          string             `json:"outcome"`    // "open", or "renewed" when recorded
	RenewedOn        *renewal.Date      `json:"renewed_on"` // when recorded renewed, else null
	Reminders        []scheduleReminder `json:"reminders"`
}

type scheduleReminder struct {
	OffsetDays int          `json:"offset_days"`
	DueOn      renewal.Date `json:"due_on"`
}

// cmdSchedule prints upcoming reminders and renewal windows.
func (m *Main) cmdSchedule(ctx context.Context, args []string) error {
	fs := m.newFlagSet("schedule")
	partner := fs.String("partner", "", "only this partner id")
	asJSON := fs.Bool("json", false, "print JSON")
	var from, to dateFlag
	fs.Var(&from, "from", "first due date (default today)")
	fs.Var(&to, "to", "last due date (default a year after --from)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	cat, err := cfg.Catalog()
	if err != nil {
		return asUsage(err)
	}
	if from.IsZero() {
		from.Date = m.today(cfg)
	}
	if to.IsZero() {
		to.Date = from.AddDays(365)
	}
	if to.Before(from.Date) {
		return usageErrorf("--to %s is before --from %s", to.Date, from.Date)
	}
	db, err := m.openStoreReadOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	rules := cfg.Rules()
	entries := []scheduleEntry{}
	var after int64
	for {
		page, err := db.Enrollments(ctx, *partner, false, after, 1000)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		ids := make([]int64, len(page))
		for i, e := range page {
			ids[i] = e.ID
		}
		outcomes, err := db.Outcomes(ctx, ids)
		if err != nil {
			return err
		}
		for _, e := range page {
			spec, err := cat.Lookup(e.Specialization)
			if err != nil {
				m.logger.Warn("enrollment names a specialization the catalog lacks", "enrollment", e.ID, "err", err)
				continue
			}
			attained, err := renewal.ParseDate(e.AttainedOn)
			if err != nil {
				return fmt.Errorf("enrollment %d: %w", e.ID, err)
			}
			for _, ms := range rules.Milestones(attained, spec.Validation, from.Date, to.Date) {
				n := len(entries)
				if n == 0 || entries[n-1].EnrollmentID != e.ID || entries[n-1].AnniversaryOn != ms.Anniversary {
					entries = append(entries, scheduleEntry{
						EnrollmentID: e.ID, PartnerID: e.PartnerID, PartnerName: e.PartnerName,
						Specialization: e.Specialization, AttainedOn: attained, AnniversaryOn: ms.Anniversary,
						RenewalYear: ms.Year, ManualValidation: ms.ManualValidation, WindowOpensOn: ms.WindowOpens,
						WindowClosesOn: ms.WindowCloses, GraceEndsOn: ms.GraceEnds, Outcome: "open",
					})
					if on, ok := outcomes[e.ID][ms.Anniversary.String()]; ok {
						entries[n].Outcome, entries[n].RenewedOn = renewal.OutcomeRenewed, &on
					}
					n++
				}
				entries[n-1].Reminders = append(entries[n-1].Reminders, scheduleReminder{ms.Offset, ms.DueOn})
			}
		}
	}
	if *asJSON {
		return writeJSON(m.Stdout, entries)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTNER\tSPECIALIZATION\tANNIVERSARY\tYEAR\tVALIDATION\tWINDOW\tGRACE END\tOUTCOME\tREMINDERS")
	for _, e := range entries {
		var rs []string
		for _, r := range e.Reminders {
			rs = append(rs, fmt.Sprintf("%s(%+d)", r.DueOn.String()[5:], r.OffsetDays))
		}
		outcome := e.Outcome
		if e.RenewedOn != nil {
			outcome += " " + e.RenewedOn.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s..%s\t%s\t%s\t%s\n", truncate(e.PartnerName, 14), truncate(e.Specialization, 24),
			e.AnniversaryOn, e.RenewalYear, e.ManualValidation, e.WindowOpensOn.String()[5:], e.WindowClosesOn.String()[5:],
			e.GraceEndsOn.String()[5:], outcome, strings.Join(rs, " "))
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "%d renewals with reminders due %s..%s\n", len(entries), from.Date, to.Date)
	return nil
}
