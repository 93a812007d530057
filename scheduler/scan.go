// Package scheduler runs renewald's daily cycle: it scans the dates due since the last scan, queues
// the reminders they hold in the outbox (R10, R11), records the scan, and hands the outbox to
// delivery. It also runs backfills over explicit ranges and drives ticks from a robfig/cron schedule
// without overlap.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// Mode says what a scan does with the reminders it finds.
type Mode int

// Scan modes.
const (
	Queue      Mode = iota // queue as pending (superseded where R11 says so)
	RecordOnly             // record as skipped: history of a first install, never mailed
	DryRun                 // print, write nothing
)

// Scanner finds due reminders and queues them.
type Scanner struct {
	DB              *store.DB
	Rules           renewal.Rules
	Catalog         *renewal.Catalog
	Roles           renewal.RoleMatcher
	MessageIDDomain string
	Logger          *slog.Logger
	Location        *time.Location // the zone of "today" (schedule.timezone); nil: UTC
	ScoresStaleDays int            // capability scores older than this count as unknown in the risk list (0: 45)
	PageSize        int            // enrollments per page and per transaction (default 4000)
	DryRunOut       io.Writer      // where DryRun prints a line per row it would write, unless Planned is set
	// Planned, when set, receives each row a DryRun would write, with the status the real run
	// records (the decisions are made in a transaction that is rolled back).
	Planned func(PlannedRow) error
}

// PlannedRow is one outbox row a dry run would write, in the fields of "outbox list --json" that
// exist before a send.
type PlannedRow struct {
	EnrollmentID     int64   `json:"enrollment_id"`
	PartnerID        string  `json:"partner_id"`
	Specialization   string  `json:"specialization"`
	AttainedOn       string  `json:"attained_on"`
	AnniversaryOn    string  `json:"anniversary_on"`
	RenewalYear      int     `json:"renewal_year"`
	ManualValidation string  `json:"manual_validation"`
	OffsetDays       int     `json:"offset_days"`
	DueOn            string  `json:"due_on"`
	Recipient        *string `json:"recipient"`
	Status           string  `json:"status"`
	LastError        *string `json:"last_error"`
	MessageID        string  `json:"message_id"`
}

// ScanStats counts a scan.
type ScanStats struct {
	From, To    renewal.Date
	Dates       int // dates scanned
	Enrollments int // enrollments read
	Reminders   int // reminders found (one per recipient, or one no_recipients record)
	Arrived     int // enrollments seen by a daily scan for the first time (R14)
	store.EnqueueStats
}

// monthDays returns the anniversary month-days whose reminders can fall in [from, to]: for every
// date and offset, the month-day of date − offset, plus 02-29 where that is 28 February of a common
// year (R2). A range of a year or more needs every month-day.
func (s *Scanner) monthDays(from, to renewal.Date) []string {
	set := map[string]bool{}
	if from.DaysUntil(to) >= 366 {
		for d := renewal.NewDate(2024, 1, 1); d.Year() == 2024; d = d.AddDays(1) {
			set[d.MonthDay()] = true
		}
	} else {
		for d := from; !d.After(to); d = d.AddDays(1) {
			for _, o := range s.Rules.OffsetsDays {
				for _, md := range renewal.AttainedMonthDays(d.AddDays(-o)) {
					set[md] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for md := range set {
		out = append(out, md)
	}
	slices.Sort(out)
	return out
}

// Scan queues (or records, or prints) every reminder due in [from, to]: a backfill, which leaves the
// daily scan state alone. It stops between pages when ctx ends; what it queued stays queued and a
// re-run queues nothing twice (R10).
func (s *Scanner) Scan(ctx context.Context, from, to renewal.Date, mode Mode, now time.Time) (ScanStats, error) {
	return s.scan(ctx, from, to, mode, false, now)
}

// ScanDaily is the daily tick's scan of [from, to]: it queues the reminders of enrollments arriving
// mid-window (R14) and of partners who gained a recipient, then every reminder due in the range, and
// records the scan state through to once everything is queued. A re-run queues nothing twice (R10).
func (s *Scanner) ScanDaily(ctx context.Context, from, to renewal.Date, now time.Time) (ScanStats, error) {
	st, err := s.scan(ctx, from, to, Queue, true, now)
	if err != nil {
		return st, err
	}
	if err := s.DB.MarkScannedAt(ctx, to, s.zoneName(), now); err != nil {
		return st, err
	}
	// The outbox counts the status pages and metrics read, recounted once a day, and the pages'
	// list of renewals at risk (without it they judge every renewal): a failure of either is
	// logged and the scan stands.
	if err := s.DB.RecountOutbox(ctx); err != nil {
		s.Logger.Warn("outbox counts not recounted", "err", err)
	}
	if rs, err := RefreshRisks(ctx, s.DB, s.Catalog, renewal.Freshness{On: s.today(now), StaleDays: s.ScoresStaleDays}); err != nil {
		s.Logger.Warn("risk list not rebuilt", "err", err)
	} else if rs.Rebuilt {
		s.Logger.Info("risk list rebuilt", "partners", rs.Partners, "at_risk", rs.AtRisk)
	}
	return st, nil
}

// today is the date of now in the scanner's zone: the day its decisions are made on.
func (s *Scanner) today(now time.Time) renewal.Date {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	return renewal.DateOf(now, loc)
}

// ScanSameDay is the part of the daily scan that a tick on a day already scanned still does: it
// queues the reminders of enrollments that arrived since (R14) and of partners who gained a recipient
// since (R8), scanning no date.
func (s *Scanner) ScanSameDay(ctx context.Context, today renewal.Date, now time.Time) (ScanStats, error) {
	st := ScanStats{From: today, To: today}
	roleKeys := s.Roles.Keys()
	pageSize := s.PageSize
	if pageSize <= 0 {
		pageSize = 4000
	}
	if err := s.arrivals(ctx, today, now, pageSize, roleKeys, map[string]*renewal.Specialization{}, &st); err != nil {
		return st, err
	}
	if err := s.recheckNoRecipients(ctx, today, now, roleKeys, &st); err != nil {
		return st, err
	}
	return st, nil
}

func (s *Scanner) zoneName() string {
	if s.Location == nil {
		return "UTC"
	}
	return s.Location.String()
}

func (s *Scanner) scan(ctx context.Context, from, to renewal.Date, mode Mode, daily bool, now time.Time) (ScanStats, error) {
	st := ScanStats{From: from, To: to, Dates: from.DaysUntil(to) + 1}
	today := s.today(now)
	decision := store.Decision{Today: today, Expiry: s.Rules.ExpiryOn(today), DryRun: mode == DryRun}
	pageSize := s.PageSize
	if pageSize <= 0 {
		pageSize = 4000
	}
	roleKeys := s.Roles.Keys()
	kinds := map[string]*renewal.Specialization{}
	// One page reader per month-day through the index; when the range needs every month-day, one
	// pass over all active enrollments in id order instead (the outbox is then written in key order).
	var readers []func(after int64) ([]store.DueEnrollment, error)
	if mds := s.monthDays(from, to); len(mds) >= 366 {
		readers = append(readers, func(after int64) ([]store.DueEnrollment, error) {
			return s.DB.ActiveEnrollments(ctx, after, pageSize)
		})
	} else {
		for _, md := range mds {
			readers = append(readers, func(after int64) ([]store.DueEnrollment, error) {
				return s.DB.DueEnrollments(ctx, md, after, pageSize)
			})
		}
	}
	if daily {
		if err := s.arrivals(ctx, to, now, pageSize, roleKeys, kinds, &st); err != nil {
			return st, err
		}
		if err := s.recheckNoRecipients(ctx, to, now, roleKeys, &st); err != nil {
			return st, err
		}
	}
	for _, read := range readers {
		var after int64
		for {
			if err := ctx.Err(); err != nil {
				return st, fmt.Errorf("scan interrupted: %w", err)
			}
			page, err := read(after)
			if err != nil {
				return st, err
			}
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1].ID
			st.Enrollments += len(page)
			items, err := s.items(ctx, page, mode, roleKeys, kinds, func(attained renewal.Date, kind renewal.Validation) []renewal.Milestone {
				return renewal.SupersedeOn(s.Rules.Milestones(attained, kind, from, to), today)
			})
			if err != nil {
				return st, err
			}
			st.Reminders += len(items)
			if len(items) == 0 {
				continue
			}
			es, written, err := s.DB.EnqueueOn(ctx, items, decision, now)
			if err != nil {
				return st, err
			}
			st.EnqueueStats.Add(es)
			if mode == DryRun {
				if err := s.plan(written, page); err != nil {
					return st, err
				}
			}
		}
	}
	return st, nil
}

// arrivals queues, for every enrollment that has not yet been through a daily scan, the latest
// reminder of its current anniversary that fell due on or before today, the earlier ones recorded
// superseded (R14); an anniversary whose grace period has ended gets nothing. Each page is recorded
// as seen in the transaction that queues its reminders.
func (s *Scanner) arrivals(ctx context.Context, today renewal.Date, now time.Time, pageSize int, roleKeys []string,
	kinds map[string]*renewal.Specialization, st *ScanStats) error {
	lo := slices.Min(s.Rules.OffsetsDays)
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan interrupted: %w", err)
		}
		page, err := s.DB.ArrivingEnrollments(ctx, after, pageSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].ID
		st.Enrollments += len(page)
		items, err := s.items(ctx, page, Queue, roleKeys, kinds, func(attained renewal.Date, kind renewal.Validation) []renewal.Milestone {
			return s.Arrival(attained, kind, today, lo)
		})
		if err != nil {
			return err
		}
		st.Reminders += len(items)
		ids := make([]int64, len(page))
		for i, e := range page {
			ids[i] = e.ID
		}
		es, err := s.DB.EnqueueArrived(ctx, items, ids, now)
		if err != nil {
			return err
		}
		st.Arrived += len(page)
		st.EnqueueStats.Add(es)
	}
}

// recheckNoRecipients queues, for every no_recipients record of a renewal still open whose partner
// has gained a recipient since (an import gave it an admin), that reminder to each recipient now
// there, and records the no_recipients row superseded by them. The queue's rules then apply: only the
// latest reminder of an anniversary stays pending (R11), and it is worded from the day it goes out.
func (s *Scanner) recheckNoRecipients(ctx context.Context, today renewal.Date, now time.Time, roleKeys []string, st *ScanStats) error {
	rows, err := s.DB.NoRecipientsNowCovered(ctx, s.Rules.GraceOpenFrom(today), roleKeys)
	if err != nil || len(rows) == 0 {
		return err
	}
	var partners []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.PartnerID] {
			seen[r.PartnerID] = true
			partners = append(partners, r.PartnerID)
		}
	}
	rcpts, err := s.DB.Recipients(ctx, partners, roleKeys)
	if err != nil {
		return err
	}
	var items []store.OutboxItem
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ann, err1 := renewal.ParseDate(r.AnniversaryOn)
		due, err2 := renewal.ParseDate(r.DueOn)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("outbox row %d: %w", r.ID, err)
		}
		m := renewal.Milestone{Renewal: s.Rules.RenewalOn(ann, r.RenewalYear, renewal.Validation(r.ManualValidation)), Offset: r.OffsetDays, DueOn: due}
		for _, rc := range rcpts[r.PartnerID] {
			items = append(items, s.item(r.EnrollmentID, m, rc.Email, renewal.RecipientTag(rc.Email), store.StatusPending))
		}
		if len(rcpts[r.PartnerID]) > 0 { // recipients gone again since the first query: leave the record
			ids = append(ids, r.ID)
		}
	}
	es, err := s.DB.EnqueueCovering(ctx, items, ids, now, "recipients added since: the reminder was queued to them")
	if err != nil {
		return err
	}
	st.EnqueueStats.Add(es)
	s.Logger.Info("partners without recipients have some now: their reminders are queued", "records", len(ids), "queued", es.Queued)
	return nil
}

// Arrival returns the reminders that an enrollment arriving on today has already missed: those of
// every anniversary whose grace period has not ended, due from its first reminder to today, all but
// the latest of each anniversary superseded (R14). lo is the earliest reminder offset.
func (s *Scanner) Arrival(attained renewal.Date, kind renewal.Validation, today renewal.Date, lo int) []renewal.Milestone {
	current := s.Rules.NextRenewal(attained, kind, today)
	ms := s.Rules.Milestones(attained, kind, current.Anniversary.AddDays(lo), today)
	return slices.DeleteFunc(ms, func(m renewal.Milestone) bool { return m.Ended(today) })
}

// items turns a page of enrollments into outbox items for the milestones due returns for each.
func (s *Scanner) items(ctx context.Context, page []store.DueEnrollment, mode Mode, roleKeys []string,
	specs map[string]*renewal.Specialization, due func(attained renewal.Date, kind renewal.Validation) []renewal.Milestone) ([]store.OutboxItem, error) {
	type dueEnrollment struct {
		e  store.DueEnrollment
		ms []renewal.Milestone
	}
	var dues []dueEnrollment
	var partners []string
	seen := map[string]bool{}
	for _, e := range page {
		spec, ok := specs[e.Specialization]
		if !ok {
			var err error
			spec, err = s.Catalog.Lookup(e.Specialization)
			if err != nil {
				s.Logger.Warn("skipping enrollment: specialization not in the catalog", "enrollment", e.ID, "err", err)
				continue
			}
			specs[e.Specialization] = spec
		}
		attained, err := renewal.ParseDate(e.AttainedOn)
		if err != nil {
			return nil, fmt.Errorf("enrollment %d: %w", e.ID, err)
		}
		ms := due(attained, spec.Validation)
		if len(ms) == 0 {
			continue
		}
		dues = append(dues, dueEnrollment{e, ms})
		if !seen[e.PartnerID] {
			seen[e.PartnerID] = true
			partners = append(partners, e.PartnerID)
		}
	}
	if len(dues) == 0 {
		return nil, nil
	}
	rcpts, err := s.DB.Recipients(ctx, partners, roleKeys)
	if err != nil {
		return nil, err
	}
	var items []store.OutboxItem
	tags := map[string]string{"": renewal.RecipientTag("")}
	for _, rs := range rcpts {
		for _, r := range rs {
			tags[r.Email] = renewal.RecipientTag(r.Email)
		}
	}
	for _, d := range dues {
		rs := rcpts[d.e.PartnerID]
		for _, m := range d.ms {
			status := store.StatusPending
			switch {
			case mode == RecordOnly:
				status = store.StatusSkipped
			case m.Superseded:
				status = store.StatusSuperseded
			}
			if len(rs) == 0 {
				if status == store.StatusPending {
					status = store.StatusNoRecipients
				}
				items = append(items, s.item(d.e.ID, m, "", tags[""], status))
				continue
			}
			for _, r := range rs {
				items = append(items, s.item(d.e.ID, m, r.Email, tags[r.Email], status))
			}
		}
	}
	return items, nil
}

func (s *Scanner) item(enrollmentID int64, m renewal.Milestone, recipient, tag, status string) store.OutboxItem {
	return store.OutboxItem{
		EnrollmentID: enrollmentID, Milestone: m, Recipient: recipient, Status: status,
		MessageID: renewal.MessageIDTagged(enrollmentID, m.Anniversary, m.Offset, tag, s.MessageIDDomain),
	}
}

// plan reports the rows a dry run would write: to Planned, else as lines on DryRunOut.
func (s *Scanner) plan(written []store.OutboxItem, page []store.DueEnrollment) error {
	byID := map[int64]store.DueEnrollment{}
	for _, e := range page {
		byID[e.ID] = e
	}
	for _, it := range written {
		e, m := byID[it.EnrollmentID], it.Milestone
		p := PlannedRow{EnrollmentID: it.EnrollmentID, PartnerID: e.PartnerID, Specialization: e.Specialization,
			AttainedOn: e.AttainedOn, AnniversaryOn: m.Anniversary.String(), RenewalYear: m.Year,
			ManualValidation: string(m.ManualValidation), OffsetDays: m.Offset, DueOn: m.DueOn.String(),
			Status: string(it.Status), MessageID: it.MessageID}
		if it.Recipient != "" {
			p.Recipient = &it.Recipient
		}
		if it.LastError != "" {
			p.LastError = &it.LastError
		}
		if s.Planned != nil {
			if err := s.Planned(p); err != nil {
				return err
			}
			continue
		}
		if s.DryRunOut == nil {
			continue
		}
		r := it.Recipient
		if r == "" {
			r = "-"
		}
		fmt.Fprintf(s.DryRunOut, "%s\t%+d\t%s\t%s\t%s\t%s\t%s\n", p.DueOn, p.OffsetDays, p.Status, p.PartnerID,
			p.Specialization, p.AnniversaryOn, r)
	}
	return nil
}
