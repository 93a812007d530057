package renewal

import (
	"errors"
	"fmt"
	"slices"
)

// Validation is the kind of manual validation a specialization needs in even renewal years (R4).
type Validation string

// The manual validation kinds of the catalog.
const (
	ValidationNone               Validation = "none"
	ValidationAudit              Validation = "audit"
	ValidationCustomerReferences Validation = "customer_references"
)

// Valid reports whether v is one of the known kinds.
func (v Validation) Valid() bool {
	return v == ValidationNone || v == ValidationAudit || v == ValidationCustomerReferences
}

// Label is the human wording of the kind ("an audit", "customer references", "none").
func (v Validation) Label() string {
	switch v {
	case ValidationAudit:
		return "an audit"
	case ValidationCustomerReferences:
		return "customer references"
	}
	return "none"
}

// Rules are the configurable figures of the renewal programme (R3, R5, R6).
type Rules struct {
	ProgramStart          Date  // first anniversary date that enters the programme
	WindowOpensDaysBefore int   // the window opens this many days before the anniversary
	GracePeriodDays       int   // days after the anniversary the requirements may still be met
	OffsetsDays           []int // reminder offsets from the anniversary, in days
}

// DefaultRules are the programme's published figures.
func DefaultRules() Rules {
	return Rules{
		ProgramStart:          NewDate(2023, 2, 1),
		WindowOpensDaysBefore: 60,
		GracePeriodDays:       30,
		OffsetsDays:           []int{-120, -90, -60, -30, 0, 30},
	}
}

// MaxOffsetMagnitude bounds offsets and window figures: a reminder more than a year away from its
// anniversary would belong to another anniversary.
const MaxOffsetMagnitude = 365

// Validate checks the figures and returns an error naming the first bad one.
func (r Rules) Validate() error {
	var errs []error
	if r.ProgramStart.IsZero() {
		errs = append(errs, errors.New("program_start: must be set"))
	}
	if r.WindowOpensDaysBefore < 0 || r.WindowOpensDaysBefore > MaxOffsetMagnitude {
		errs = append(errs, fmt.Errorf("window_opens_days_before: %d is out of range 0..%d", r.WindowOpensDaysBefore, MaxOffsetMagnitude))
	}
	if r.GracePeriodDays < 0 || r.GracePeriodDays > MaxOffsetMagnitude {
		errs = append(errs, fmt.Errorf("grace_period_days: %d is out of range 0..%d", r.GracePeriodDays, MaxOffsetMagnitude))
	}
	if len(r.OffsetsDays) == 0 {
		errs = append(errs, errors.New("offsets_days: must list at least one offset"))
	}
	if r.WindowOpensDaysBefore == 0 && r.GracePeriodDays == 0 {
		errs = append(errs, errors.New("window_opens_days_before and grace_period_days: both 0 leave no day to meet the requirements"))
	}
	seen := map[int]bool{}
	for _, o := range r.OffsetsDays {
		if o > r.GracePeriodDays && o <= MaxOffsetMagnitude {
			errs = append(errs, fmt.Errorf("offsets_days: %+d is after the grace period ends (grace_period_days = %d): that reminder could never be sent (R13)", o, r.GracePeriodDays))
		}
		if o < -MaxOffsetMagnitude || o > MaxOffsetMagnitude {
			errs = append(errs, fmt.Errorf("offsets_days: %d is out of range -%d..%d", o, MaxOffsetMagnitude, MaxOffsetMagnitude))
		}
		if seen[o] {
			errs = append(errs, fmt.Errorf("offsets_days: %d is listed twice", o))
		}
		seen[o] = true
	}
	return errors.Join(errs...)
}

// sortedOffsets returns the offsets in ascending order.
func (r Rules) sortedOffsets() []int {
	o := slices.Clone(r.OffsetsDays)
	slices.Sort(o)
	return o
}

// Anniversary returns the n-th anniversary of a date attained on a: a plus n years, with a 29 February
// attainment falling on 28 February in common years (R2).
func Anniversary(attained Date, n int) Date {
	y := attained.Year() + n
	d := attained.Day()
	if attained.Month() == 2 && d == 29 && !IsLeap(y) {
		d = 28
	}
	return NewDate(y, attained.Month(), d)
}

// AttainedMonthDays returns the attainment month-days (MM-DD) whose anniversary falls on d: d's own,
// and 29 February as well when d is 28 February of a common year (R2).
func AttainedMonthDays(d Date) []string {
	if d.Month() == 2 && d.Day() == 28 && !IsLeap(d.Year()) {
		return []string{"02-28", "02-29"}
	}
	return []string{d.MonthDay()}
}

// firstProgramAnniversary returns the number of the first anniversary on or after the programme start.
func (r Rules) firstProgramAnniversary(attained Date) int {
	n := r.ProgramStart.Year() - attained.Year() - 1
	if n < 1 {
		n = 1
	}
	for Anniversary(attained, n).Before(r.ProgramStart) {
		n++
	}
	return n
}

// RenewalYear returns the renewal year k of the n-th anniversary of an enrollment attained on attained:
// how many of its anniversaries fall on or after the programme start, this one included (R3). It is 0
// when the anniversary is before the programme start (or n < 1).
func (r Rules) RenewalYear(attained Date, n int) int {
	if n < 1 {
		return 0
	}
	k := n - r.firstProgramAnniversary(attained) + 1
	if k < 1 {
		return 0
	}
	return k
}

// Renewal is one anniversary of an enrollment with everything that follows from it.
type Renewal struct {
	Number           int        // n: the n-th anniversary
	Anniversary      Date       // attained + n years (R2)
	Year             int        // renewal year k (R3), ≥ 1
	ManualValidation Validation // due this year: the catalog kind in even years, none in odd years (R4)
	WindowOpens      Date       // WindowOpensDaysBefore days before the anniversary (R5)
	WindowCloses     Date       // the anniversary
	GraceEnds        Date       // GracePeriodDays after the anniversary
}

// Even reports whether the renewal year is even (qualification plus manual validation).
func (rn Renewal) Even() bool { return rn.Year%2 == 0 }

// DaysToClose returns the calendar days from on to the window's close (negative once it closed).
func (rn Renewal) DaysToClose(on Date) int { return on.DaysUntil(rn.WindowCloses) }

// DaysToGraceEnd returns the calendar days from on to the end of the grace period.
func (rn Renewal) DaysToGraceEnd(on Date) int { return on.DaysUntil(rn.GraceEnds) }

// Window returns the window's opening and closing dates and the end of the grace period of an
// anniversary (R5).
func (r Rules) Window(anniversary Date) (opens, closes, graceEnds Date) {
	return anniversary.AddDays(-r.WindowOpensDaysBefore), anniversary, lastDayOfGrace(anniversary, r.GracePeriodDays)
}

// lastDayOfGrace returns the last day of a grace period of days after anniversary (R5).
func lastDayOfGrace(anniversary Date, days int) Date { return anniversary.AddDays(days) }

// RenewalOn returns the renewal of an anniversary whose renewal year and due manual validation are
// already known (as stored with a queued reminder).
func (r Rules) RenewalOn(anniversary Date, year int, mv Validation) Renewal {
	opens, closes, grace := r.Window(anniversary)
	return Renewal{Anniversary: anniversary, Year: year, ManualValidation: mv,
		WindowOpens: opens, WindowCloses: closes, GraceEnds: grace}
}

// GraceOpenFrom returns the earliest anniversary whose grace period has not ended on today: an
// anniversary before it can no longer be renewed, so its reminders are stale (R13).
func (r Rules) GraceOpenFrom(today Date) Date { return today.AddDays(-r.GracePeriodDays) }

// Complete returns rem with the window and grace dates of its renewal worked out (R5). A reminder
// read back from the outbox carries only what the row stores: the anniversary, the renewal year and
// the manual validation due.
func (r Rules) Complete(rem Reminder) Reminder {
	m := &rem.Milestone
	m.WindowOpens, m.WindowCloses, m.GraceEnds = r.Window(m.Anniversary)
	return rem
}

// CompleteAll completes every reminder of rems in place (Complete) and returns rems.
func (r Rules) CompleteAll(rems []Reminder) []Reminder {
	for i := range rems {
		rems[i] = r.Complete(rems[i])
	}
	return rems
}

// Expiry is R13 on one day, in the form a store applies it to the reminders still waiting to be
// sent: those of an anniversary before OpenFrom had their grace period end before that day, so they
// are not sent but expired, recording Reason. The zero Expiry expires nothing.
type Expiry struct {
	OpenFrom  Date // the earliest anniversary whose grace period has not ended (GraceOpenFrom)
	graceDays int
}

// ExpiryOn returns R13 as it applies on today.
func (r Rules) ExpiryOn(today Date) Expiry {
	return Expiry{OpenFrom: r.GraceOpenFrom(today), graceDays: r.GracePeriodDays}
}

// Reason returns what an expired reminder of anniversary records (ExpiredReason of the last day of
// its grace period).
func (e Expiry) Reason(anniversary Date) string {
	return ExpiredReason(lastDayOfGrace(anniversary, e.graceDays))
}

// Renewal returns the n-th anniversary's renewal of an enrollment attained on attained whose catalog
// validation kind is kind; ok is false when that anniversary is not in the programme.
func (r Rules) Renewal(attained Date, kind Validation, n int) (rn Renewal, ok bool) {
	k := r.RenewalYear(attained, n)
	if k == 0 {
		return Renewal{}, false
	}
	mv := ValidationNone
	if k%2 == 0 {
		mv = kind
	}
	rn = r.RenewalOn(Anniversary(attained, n), k, mv)
	rn.Number = n
	return rn, true
}

// NextRenewal returns the first renewal whose grace period has not ended on date on: the renewal an
// enrollment arriving on that day is in (R14).
func (r Rules) NextRenewal(attained Date, kind Validation, on Date) Renewal {
	n := max(on.Year()-attained.Year()-1, r.firstProgramAnniversary(attained))
	for {
		rn, _ := r.Renewal(attained, kind, n)
		if !rn.GraceEnds.Before(on) {
			return rn
		}
		n++
	}
}

// Milestone is one reminder of one renewal: due Offset days from the anniversary.
type Milestone struct {
	Renewal
	Offset     int
	DueOn      Date
	Superseded bool // a later reminder of the same anniversary is due in the same range (R11)
}

// Milestones returns every reminder of an enrollment attained on attained that is due in [from, to]
// (both inclusive), ordered by due date. Within the range, all but the latest reminder of each
// anniversary are marked Superseded (R11).
func (r Rules) Milestones(attained Date, kind Validation, from, to Date) []Milestone {
	if to.Before(from) {
		return nil
	}
	offsets := r.sortedOffsets()
	lo, hi := offsets[0], offsets[len(offsets)-1]
	// Anniversaries that can have a reminder in range lie in [from-hi, to-lo].
	first := max(from.AddDays(-hi).Year()-attained.Year(), 1)
	last := to.AddDays(-lo).Year() - attained.Year()
	var out []Milestone
	for n := first; n <= last; n++ {
		rn, ok := r.Renewal(attained, kind, n)
		if !ok {
			continue
		}
		start := len(out)
		for _, o := range offsets {
			due := rn.Anniversary.AddDays(o)
			if due.Before(from) || due.After(to) {
				continue
			}
			out = append(out, Milestone{Renewal: rn, Offset: o, DueOn: due})
		}
		for i := start; i < len(out)-1; i++ {
			out[i].Superseded = true
		}
	}
	slices.SortStableFunc(out, func(a, b Milestone) int {
		if c := a.DueOn.Compare(b.DueOn); c != 0 {
			return c
		}
		return a.Anniversary.Compare(b.Anniversary)
	})
	return out
}

// SupersedeOn applies R11 as decided on today to ms (as Milestones returns them): a reminder is
// superseded only by a later reminder of the same anniversary in ms that is itself due on or before
// today, so a range reaching past today leaves the reminders after today each for its own day. It
// returns ms.
func SupersedeOn(ms []Milestone, today Date) []Milestone {
	latest := map[Date]int{}
	for _, m := range ms {
		if m.DueOn.After(today) {
			continue
		}
		if o, ok := latest[m.Anniversary]; !ok || m.Offset > o {
			latest[m.Anniversary] = m.Offset
		}
	}
	for i, m := range ms {
		o, ok := latest[m.Anniversary]
		ms[i].Superseded = ok && m.Offset < o
	}
	return ms
}

// Stage is where a renewal stands on a given day; an email's wording follows from the stage on the
// day it is sent (R12).
type Stage string

// The stages of a renewal, in time order.
const (
	StageEarly       Stage = "early"       // before the window opens
	StageWindowOpen  Stage = "window-open" // the window opens today
	StageWindow      Stage = "window"      // the window is open and closes on a later day
	StageAnniversary Stage = "anniversary" // the anniversary: the window closes today
	StageGrace       Stage = "grace"       // the window has closed; the grace period ends on a later day
	StageLastDay     Stage = "last-day"    // the grace period ends today
	StageEnded       Stage = "ended"       // the grace period has ended: too late to renew
)

// StageOn returns the stage of the renewal on day d.
func (rn Renewal) StageOn(d Date) Stage {
	switch {
	case d.Before(rn.WindowOpens):
		return StageEarly
	case d.Before(rn.WindowCloses) && d.Compare(rn.WindowOpens) == 0:
		return StageWindowOpen
	case d.Before(rn.WindowCloses):
		return StageWindow
	case d.Compare(rn.WindowCloses) == 0:
		return StageAnniversary
	case d.Before(rn.GraceEnds):
		return StageGrace
	case d.Compare(rn.GraceEnds) == 0:
		return StageLastDay
	}
	return StageEnded
}

// Ended reports whether the renewal's grace period ended before day d (R13).
func (rn Renewal) Ended(d Date) bool { return rn.GraceEnds.Before(d) }

// ExpiredReason is what an outbox row that expired records: its grace period ended on graceEnds
// before it could be sent (R13).
func ExpiredReason(graceEnds Date) string {
	return "grace period ended on " + graceEnds.String() + " before it could be sent"
}
