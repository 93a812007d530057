// Package agenda works out the renewals of stored enrollments whose reminders fall due in a date
// range: what `renewald schedule` prints and what the status pages' timeline draws, from one place.
package agenda

import (
	"context"
	"errors"
	"fmt"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// Entry is one renewal of one enrollment with its reminders in the requested range (the
// `schedule --json` contract).
type Entry struct {
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
	Reminders        []Reminder         `json:"reminders"`
}

// Reminder is one reminder of an entry and what will really happen to it (Annotate).
type Reminder struct {
	OffsetDays int          `json:"offset_days"`
	DueOn      renewal.Date `json:"due_on"`
	// Status is the status its outbox rows share, StatusMixed when they differ; with no row yet,
	// StatusScheduled, or cancelled (a renewal is recorded) or no_recipients (nobody to mail today).
	Status string         `json:"status"`
	Rows   map[string]int `json:"rows"` // its outbox rows counted per status ({} when none)
}

// The words of a reminder's status that are not an outbox row's status.
const (
	StatusScheduled = "scheduled" // no row yet: a tick queues it on its day
	StatusMixed     = "mixed"     // its rows are in different statuses (Rows tells which)
)

// ReminderStatus is the status of a reminder with the given outbox rows (status → count): the one
// they share, StatusMixed when they differ; with none, what a tick would record: cancelled when the
// renewal is recorded (R15), no_recipients when the partner has nobody with a recipient role (R8),
// else StatusScheduled.
func ReminderStatus(rows map[string]int, renewed, hasRecipients bool) string {
	status := ""
	for st, n := range rows {
		switch {
		case n == 0:
		case status == "":
			status = st
		case status != st:
			return StatusMixed
		}
	}
	switch {
	case status != "":
		return status
	case renewed:
		return string(store.StatusCancelled)
	case !hasRecipients:
		return string(store.StatusNoRecipients)
	}
	return StatusScheduled
}

// ErrUnknownSpecialization marks an enrollment whose specialization the catalog lacks: callers skip it.
var ErrUnknownSpecialization = errors.New("specialization not in the catalog")

// New returns the entry of one renewal of e, without reminders; outcomes maps an anniversary
// (YYYY-MM-DD) to the day it was recorded renewed.
func New(e store.EnrollmentInfo, attained renewal.Date, rn renewal.Renewal, outcomes map[string]renewal.Date) Entry {
	en := Entry{
		EnrollmentID: e.ID, PartnerID: e.PartnerID, PartnerName: e.PartnerName,
		Specialization: e.Specialization, AttainedOn: attained, AnniversaryOn: rn.Anniversary,
		RenewalYear: rn.Year, ManualValidation: rn.ManualValidation, WindowOpensOn: rn.WindowOpens,
		WindowClosesOn: rn.WindowCloses, GraceEndsOn: rn.GraceEnds, Outcome: "open",
	}
	if on, ok := outcomes[rn.Anniversary.String()]; ok {
		en.Outcome, en.RenewedOn = renewal.OutcomeRenewed, &on
	}
	return en
}

// Of returns the renewals of enrollment e that have reminders due in [from, to], each with those
// reminders, in due order.
func Of(e store.EnrollmentInfo, cat *renewal.Catalog, rules renewal.Rules, from, to renewal.Date, outcomes map[string]renewal.Date) ([]Entry, error) {
	spec, err := cat.Lookup(e.Specialization)
	if err != nil {
		return nil, fmt.Errorf("enrollment %d: %w: %w", e.ID, ErrUnknownSpecialization, err)
	}
	attained, err := renewal.ParseDate(e.AttainedOn)
	if err != nil {
		return nil, fmt.Errorf("enrollment %d: %w", e.ID, err)
	}
	var out []Entry
	for _, ms := range rules.Milestones(attained, spec.Validation, from, to) {
		n := len(out)
		if n == 0 || out[n-1].AnniversaryOn != ms.Anniversary {
			out = append(out, New(e, attained, ms.Renewal, outcomes))
			n++
		}
		out[n-1].Reminders = append(out[n-1].Reminders, Reminder{OffsetDays: ms.Offset, DueOn: ms.DueOn, Rows: map[string]int{}})
	}
	return out, nil
}

// StatusSource is what Annotate reads from the store.
type StatusSource interface {
	ReminderStatuses(ctx context.Context, enrollmentIDs []int64, from, to renewal.Date) (map[store.RenewalKey][]store.ReminderStatus, error)
	PartnersWithRecipients(ctx context.Context, partnerIDs []string, roleKeys []string) (map[string]bool, error)
}

// Annotate sets the Status and Rows of every reminder of entries (a page: two bounded queries, the
// outbox rows of their enrollments' anniversaries in the page's span and which partners have a
// recipient under roles).
func Annotate(ctx context.Context, src StatusSource, roles renewal.RoleMatcher, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	var ids []int64
	var partners []string
	seenID, seenPartner := map[int64]bool{}, map[string]bool{}
	first, last := entries[0].AnniversaryOn, entries[0].AnniversaryOn
	for _, e := range entries {
		if !seenID[e.EnrollmentID] {
			seenID[e.EnrollmentID] = true
			ids = append(ids, e.EnrollmentID)
		}
		if !seenPartner[e.PartnerID] {
			seenPartner[e.PartnerID] = true
			partners = append(partners, e.PartnerID)
		}
		if e.AnniversaryOn.Before(first) {
			first = e.AnniversaryOn
		}
		if e.AnniversaryOn.After(last) {
			last = e.AnniversaryOn
		}
	}
	statuses, err := src.ReminderStatuses(ctx, ids, first, last)
	if err != nil {
		return err
	}
	withRecipients, err := src.PartnersWithRecipients(ctx, partners, roles.Keys())
	if err != nil {
		return err
	}
	for i := range entries {
		e := &entries[i]
		rows := map[int]map[string]int{}
		for _, st := range statuses[store.RenewalKey{EnrollmentID: e.EnrollmentID, Anniversary: e.AnniversaryOn.String()}] {
			if rows[st.OffsetDays] == nil {
				rows[st.OffsetDays] = map[string]int{}
			}
			rows[st.OffsetDays][st.Status] += st.N
		}
		for j := range e.Reminders {
			r := &e.Reminders[j]
			r.Rows = rows[r.OffsetDays]
			if r.Rows == nil {
				r.Rows = map[string]int{}
			}
			r.Status = ReminderStatus(r.Rows, e.RenewedOn != nil, withRecipients[e.PartnerID])
		}
	}
	return nil
}

// Source is what Schedule reads from the store.
type Source interface {
	Enrollments(ctx context.Context, partnerID string, all bool, afterID int64, limit int) ([]store.EnrollmentInfo, error)
	Outcomes(ctx context.Context, enrollmentIDs []int64) (map[int64]map[string]renewal.Date, error)
	StatusSource
}

// Schedule returns every renewal of the active enrollments (of one partner when partnerID is not
// empty) with reminders due in [from, to], in enrollment order, each reminder with its status
// (Annotate, recipients under roles); skip is told of each enrollment whose specialization the
// catalog lacks.
func Schedule(ctx context.Context, src Source, cat *renewal.Catalog, rules renewal.Rules, roles renewal.RoleMatcher, partnerID string, from, to renewal.Date, skip func(enrollmentID int64, err error)) ([]Entry, error) {
	entries := []Entry{}
	var after int64
	for {
		page, err := src.Enrollments(ctx, partnerID, false, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return entries, nil
		}
		after = page[len(page)-1].ID
		ids := make([]int64, len(page))
		for i, e := range page {
			ids[i] = e.ID
		}
		outcomes, err := src.Outcomes(ctx, ids)
		if err != nil {
			return nil, err
		}
		pageStart := len(entries)
		for _, e := range page {
			es, err := Of(e, cat, rules, from, to, outcomes[e.ID])
			if errors.Is(err, ErrUnknownSpecialization) {
				skip(e.ID, err)
				continue
			}
			if err != nil {
				return nil, err
			}
			entries = append(entries, es...)
		}
		if err := Annotate(ctx, src, roles, entries[pageStart:]); err != nil {
			return nil, err
		}
	}
}
