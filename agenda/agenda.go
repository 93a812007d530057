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

// Reminder is one reminder of an entry.
type Reminder struct {
	OffsetDays int          `json:"offset_days"`
	DueOn      renewal.Date `json:"due_on"`
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
		out[n-1].Reminders = append(out[n-1].Reminders, Reminder{ms.Offset, ms.DueOn})
	}
	return out, nil
}

// Source is what Schedule reads from the store.
type Source interface {
	Enrollments(ctx context.Context, partnerID string, all bool, afterID int64, limit int) ([]store.EnrollmentInfo, error)
	Outcomes(ctx context.Context, enrollmentIDs []int64) (map[int64]map[string]renewal.Date, error)
}

// Schedule returns every renewal of the active enrollments (of one partner when partnerID is not
// empty) with reminders due in [from, to], in enrollment order; skip is told of each enrollment whose
// specialization the catalog lacks.
func Schedule(ctx context.Context, src Source, cat *renewal.Catalog, rules renewal.Rules, partnerID string, from, to renewal.Date, skip func(enrollmentID int64, err error)) ([]Entry, error) {
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
	}
}
