package renewal

import (
	"strings"
	"testing"
)

// FuzzMilestones checks the invariants of R2, R3, R6 and R11 over random attainments and ranges.
func FuzzMilestones(f *testing.F) {
	f.Add(int64(0), uint16(0), uint16(365))
	f.Add(int64(1520), uint16(100), uint16(40)) // around 2024-02-29
	f.Add(int64(-2000), uint16(3000), uint16(1))
	base := NewDate(2020, 1, 1)
	r := DefaultRules()
	f.Fuzz(func(t *testing.T, attainOff int64, fromOff, span uint16) {
		attained := base.AddDays(int(attainOff % 5000))
		from := attained.AddDays(int(fromOff % 4000))
		to := from.AddDays(int(span % 800))
		ms := r.Milestones(attained, ValidationAudit, from, to)
		perAnn := map[Date][]Milestone{}
		for _, m := range ms {
			if m.DueOn.Before(from) || m.DueOn.After(to) {
				t.Fatalf("due %s outside [%s, %s]", m.DueOn, from, to)
			}
			if m.Anniversary.AddDays(m.Offset) != m.DueOn {
				t.Fatalf("due %s is not anniversary %s %+d days", m.DueOn, m.Anniversary, m.Offset)
			}
			if m.Anniversary.Before(r.ProgramStart) || m.Year < 1 {
				t.Fatalf("milestone before programme start: %+v", m)
			}
			if Anniversary(attained, m.Number) != m.Anniversary {
				t.Fatalf("anniversary %s is not the %d-th of %s", m.Anniversary, m.Number, attained)
			}
			if m.Anniversary.Day() != attained.Day() && !(attained.Month() == 2 && attained.Day() == 29 && m.Anniversary.Day() == 28) {
				t.Fatalf("anniversary %s drifted from %s", m.Anniversary, attained)
			}
			perAnn[m.Anniversary] = append(perAnn[m.Anniversary], m)
		}
		for ann, group := range perAnn {
			latest := group[0]
			for _, m := range group {
				if m.DueOn.After(latest.DueOn) {
					latest = m
				}
			}
			for _, m := range group {
				if m.Superseded == (m.DueOn == latest.DueOn) {
					t.Fatalf("anniversary %s: superseded=%v on %s, latest %s", ann, m.Superseded, m.DueOn, latest.DueOn)
				}
			}
			// When the range covers all offsets of the anniversary, every configured offset is present.
			if !ann.AddDays(-120).Before(from) && !ann.AddDays(30).After(to) && len(group) != len(r.OffsetsDays) {
				t.Fatalf("anniversary %s has %d reminders, want %d", ann, len(group), len(r.OffsetsDays))
			}
		}
		// Renewal years increase by one per anniversary.
		prev := 0
		for n := 1; n < 12; n++ {
			k := r.RenewalYear(attained, n)
			if prev > 0 && k != prev+1 {
				t.Fatalf("renewal year of anniversary %d is %d after %d", n, k, prev)
			}
			if (k == 0) != Anniversary(attained, n).Before(r.ProgramStart) {
				t.Fatalf("anniversary %s year %d", Anniversary(attained, n), k)
			}
			prev = k
		}
	})
}

// FuzzParseDate checks that every accepted date round-trips and every rejected one errs cleanly.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "2023-02-30", "9999-12-31", "1000-01-01", "2023-1-1", "abcd-ef-gh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDate(%q) round-trips to %q", s, d)
		}
	})
}

// FuzzNormalizeName: the one-pass ASCII normalization gives what folding with the strings package
// gives, for any input.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Solutions Partner for Security", "  data \t&  AI ", "already normal", "", " ", "İstanbul", "A\u00a0B", "x\vy\fz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.ToLower(strings.Join(strings.Fields(s), " "))
		if got := NormalizeName(s); got != want {
			t.Fatalf("NormalizeName(%q) = %q, want %q", s, got, want)
		}
	})
}
