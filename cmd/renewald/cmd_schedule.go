package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/renewald/renewald/agenda"
	"github.com/renewald/renewald/renewal"
)

// cmdSchedule prints upcoming reminders and renewal windows, each reminder with what will really
// happen to it (its outbox rows' status, or scheduled, cancelled or no_recipients before any).
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
	entries, err := agenda.Schedule(ctx, db, cat, cfg.Rules(), renewal.NewRoleMatcher(cfg.Renewal.RecipientRoles), *partner, from.Date, to.Date, func(id int64, err error) {
		m.logger.Warn("enrollment names a specialization the catalog lacks", "enrollment", id, "err", err)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(m.Stdout, entries)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTNER\tSPECIALIZATION\tANNIVERSARY\tYEAR\tVALIDATION\tWINDOW\tGRACE END\tOUTCOME\tREMINDERS")
	for _, e := range entries {
		var rs []string
		for _, r := range e.Reminders {
			rs = append(rs, fmt.Sprintf("%s(%+d) %s", r.DueOn.String()[5:], r.OffsetDays, r.Status))
		}
		outcome := e.Outcome
		if e.RenewedOn != nil {
			outcome += " " + e.RenewedOn.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s..%s\t%s\t%s\t%s\n", truncate(e.PartnerName, 14), truncate(e.Specialization, 24),
			e.AnniversaryOn, e.RenewalYear, e.ManualValidation, e.WindowOpensOn.String()[5:], e.WindowClosesOn.String()[5:],
			e.GraceEndsOn.String()[5:], outcome, strings.Join(rs, ", "))
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "%d renewals with reminders due %s..%s\n", len(entries), from.Date, to.Date)
	return nil
}
