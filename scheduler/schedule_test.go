package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// firings returns the first n firings of spec in zone after from.
func firings(t *testing.T, spec string, loc *time.Location, from time.Time, n int) []time.Time {
	t.Helper()
	s, err := ParseSchedule(spec, loc)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for at := from; len(out) < n; {
		at = s.Next(at)
		if at.IsZero() {
			t.Fatalf("%q in %s: no firing after %s", spec, loc, out)
		}
		out = append(out, at)
	}
	return out
}

// TestScheduleSpringForwardGapRunsAfterTheGap: a cron time that the clock skips fires at the first
// instant after the gap, the same day, instead of skipping the day.
func TestScheduleSpringForwardGapRunsAfterTheGap(t *testing.T) {
	ny, lh := mustZone(t, "America/New_York"), mustZone(t, "Australia/Lord_Howe")
	for _, tc := range []struct {
		spec string
		loc  *time.Location
		from time.Time
		want []string // local wall times
	}{
		// New York jumps from 02:00 EST to 03:00 EDT on 2026-03-08.
		{"30 2 * * *", ny, time.Date(2026, 3, 7, 0, 0, 0, 0, ny),
			[]string{"2026-03-07 02:30 EST", "2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"}},
		// Lord Howe jumps half an hour, from 02:00 to 02:30, on 2026-10-04.
		{"15 2 * * *", lh, time.Date(2026, 10, 3, 0, 0, 0, 0, lh),
			[]string{"2026-10-03 02:15 +1030", "2026-10-04 02:30 +11", "2026-10-05 02:15 +11"}},
		{"0 2 * * *", lh, time.Date(2026, 10, 3, 0, 0, 0, 0, lh),
			[]string{"2026-10-03 02:00 +1030", "2026-10-04 02:30 +11", "2026-10-05 02:00 +11"}},
		// Hourly across the gap: 01:00, then 03:00 once (02:00 does not exist), then 04:00.
		{"0 * * * *", ny, time.Date(2026, 3, 8, 0, 30, 0, 0, ny),
			[]string{"2026-03-08 01:00 EST", "2026-03-08 03:00 EDT", "2026-03-08 04:00 EDT"}},
		// Falling back, 01:30 happens twice: it fires once, the first time.
		{"30 1 * * *", ny, time.Date(2026, 10, 31, 12, 0, 0, 0, ny),
			[]string{"2026-11-01 01:30 EDT", "2026-11-02 01:30 EST", "2026-11-03 01:30 EST"}},
		// Days without a change are untouched.
		{"0 6 * * 1-5", ny, time.Date(2026, 3, 6, 7, 0, 0, 0, ny),
			[]string{"2026-03-09 06:00 EDT", "2026-03-10 06:00 EDT", "2026-03-11 06:00 EDT"}},
	} {
		var got []string
		for _, at := range firings(t, tc.spec, tc.loc, tc.from, len(tc.want)) {
			got = append(got, at.In(tc.loc).Format("2006-01-02 15:04 MST"))
		}
		if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
			t.Errorf("%q in %s from %s:\n got %v\nwant %v", tc.spec, tc.loc, tc.from, got, tc.want)
		}
	}
}

// TestScheduleRefusesWhatCannotWork: a TZ prefix (robfig/cron panics on "TZ=UTC") and a spec with
// no firing in four years are refused.
func TestScheduleRefusesWhatCannotWork(t *testing.T) {
	for _, spec := range []string{"TZ=UTC", "CRON_TZ=UTC", "TZ=UTC 0 6 * * *", "CRON_TZ=Europe/Paris 0 6 * * *", " TZ=UTC"} {
		if _, err := ParseSchedule(spec, time.UTC); err == nil || !strings.Contains(err.Error(), "TZ=") {
			t.Errorf("%q: err = %v", spec, err)
		}
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, spec := range []string{"0 6 30 2 *", "0 6 31 4 *", "0 6 31 2,4,6,9,11 *"} {
		s, err := ParseSchedule(spec, time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		if err := CheckFires(s, from); !errors.Is(err, ErrNeverFires) {
			t.Errorf("%q: CheckFires = %v, want ErrNeverFires", spec, err)
		}
	}
	for _, spec := range []string{"0 6 29 2 *", "0 6 * * *", "@daily", "@every 1h", "0 6 13 * 5"} {
		s, err := ParseSchedule(spec, mustZone(t, "America/New_York"))
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		if err := CheckFires(s, from); err != nil {
			t.Errorf("%q: CheckFires = %v", spec, err)
		}
	}
}
