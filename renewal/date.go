// Package renewal holds the domain rules of specialization renewals: calendar dates, anniversaries,
// renewal years, windows, reminder milestones, the specialization catalog, recipient roles and the
// capability-score judgement. It is pure: no I/O and no clock; callers pass every date in.
package renewal

import (
	"errors"
	"fmt"
	"time"
)

// Date is a calendar date without a time of day or zone. The zero Date is "no date".
type Date struct {
	t time.Time // midnight UTC of the date
}

// ErrBadDate is returned by ParseDate for anything that is not a real YYYY-MM-DD date.
var ErrBadDate = errors.New("not a valid date")

// NewDate returns the date y-m-d. Out-of-range values normalise as time.Date does.
func NewDate(y int, m time.Month, d int) Date {
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// DateOf returns the calendar date of t in the location loc ("today" in the configured zone).
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return NewDate(y, m, d)
}

// ParseDate parses a strict YYYY-MM-DD date between years 1000 and 9999 and rejects impossible dates
// such as 2023-02-30.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("%w: %q (want YYYY-MM-DD)", ErrBadDate, s)
	}
	var parts [3]int
	for i, span := range [3][2]int{{0, 4}, {5, 7}, {8, 10}} {
		n := 0
		for _, c := range s[span[0]:span[1]] {
			if c < '0' || c > '9' {
				return Date{}, fmt.Errorf("%w: %q (want YYYY-MM-DD)", ErrBadDate, s)
			}
			n = n*10 + int(c-'0')
		}
		parts[i] = n
	}
	y, m, d := parts[0], parts[1], parts[2]
	if y < 1000 || m < 1 || m > 12 || d < 1 || d > DaysIn(y, time.Month(m)) {
		return Date{}, fmt.Errorf("%w: %q does not exist", ErrBadDate, s)
	}
	return NewDate(y, time.Month(m), d), nil
}

// MustParseDate is ParseDate for constants in tests and defaults; it panics on a bad date.
func MustParseDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsLeap reports whether y is a leap year in the proleptic Gregorian calendar.
func IsLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// DaysIn returns the number of days in month m of year y.
func DaysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// Year, Month and Day return the parts of d.
func (d Date) Year() int { return d.t.Year() }

// Month returns the month of d.
func (d Date) Month() time.Month { return d.t.Month() }

// Day returns the day of the month of d.
func (d Date) Day() int { return d.t.Day() }

// AddDays returns d plus n calendar days (n may be negative).
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// DaysUntil returns the number of calendar days from d to e (negative when e is before d).
func (d Date) DaysUntil(e Date) int { return int((e.t.Unix() - d.t.Unix()) / 86400) }

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.t.After(e.t) }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int { return d.t.Compare(e.t) }

// Time returns midnight of d in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
}

// MonthDay returns "MM-DD", the key under which anniversaries are indexed.
func (d Date) MonthDay() string { return d.t.Format("01-02") }

// String formats d as YYYY-MM-DD ("" for the zero Date).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

// MarshalText implements encoding.TextMarshaler (YYYY-MM-DD).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDate's strictness.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// MaxDate returns the later of a and b.
func MaxDate(a, b Date) Date {
	if a.After(b) {
		return a
	}
	return b
}
