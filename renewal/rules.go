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
	seen := map[int]bool{}
	for _, o := range r.OffsetsDays {
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

// Renewal returns the n-th anniversary's renewal of an enrollment attained on attained whose catalog
// validation kind is kind; ok is false when that anniversary is not in the programme.
func (r Rules) Renewal(attained Date, kind Validation, n int) (rn Renewal, ok bool) {
	k := r.RenewalYear(attained, n)
	if k == 0 {
		return Renewal{}, false
	}
	ann := Anniversary(attained, n)
	mv := ValidationNone
	if k%2 == 0 {
		mv = kind
	}
	return Renewal{
		Number:           n,
		Anniversary:      ann,
		Year:             k,
		ManualValidation: mv,
		WindowOpens:      ann.AddDays(-r.WindowOpensDaysBefore),
		WindowCloses:     ann,
		GraceEnds:        ann.AddDays(r.GracePeriodDays),
	}, true
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
