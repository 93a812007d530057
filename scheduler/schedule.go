package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// NeverFiresHorizon is how far ahead a schedule must fire at least once to be accepted.
const NeverFiresHorizon = 4 * 366 * 24 * time.Hour

// ErrNeverFires is returned for a cron spec with no firing within NeverFiresHorizon.
var ErrNeverFires = errors.New("never fires")

// ParseSchedule parses a five-field cron spec (or a robfig/cron @descriptor) evaluated in loc.
//
// The spec is matched against the wall clock of loc, so daylight saving changes behave as people
// expect: a time in a spring-forward gap ("30 2 * * *" in America/New_York on the day clocks jump
// from 02:00 to 03:00) fires at the first instant after the gap instead of skipping the day, and a
// wall time that happens twice when clocks fall back fires once, the first time. A spec that names
// its own zone (TZ= or CRON_TZ=) is refused: the zone is schedule.timezone.
func ParseSchedule(spec string, loc *time.Location) (cron.Schedule, error) {
	trimmed := strings.TrimSpace(spec)
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, fmt.Errorf("cron spec %q: a TZ= or CRON_TZ= prefix is not allowed; set schedule.timezone instead", spec)
	}
	s, err := parseStandard(trimmed)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q: %w", spec, err)
	}
	spec5, ok := s.(*cron.SpecSchedule)
	if !ok {
		return s, nil // @every: a fixed interval, zone-free
	}
	spec5.Location = time.UTC // the wall clock, which has no gaps
	return wallSchedule{wall: spec5, loc: loc}, nil
}

// parseStandard is cron.ParseStandard with its panics (on some malformed specs) turned into errors.
func parseStandard(spec string) (s cron.Schedule, err error) {
	defer func() {
		if v := recover(); v != nil {
			s, err = nil, fmt.Errorf("malformed: %v", v)
		}
	}()
	return cron.ParseStandard(spec)
}

// CheckFires returns ErrNeverFires when s has no firing within NeverFiresHorizon after from.
func CheckFires(s cron.Schedule, from time.Time) error {
	next := s.Next(from)
	if next.IsZero() || next.Sub(from) > NeverFiresHorizon {
		return ErrNeverFires
	}
	return nil
}

// wallSchedule evaluates a cron spec on the wall clock of a zone.
type wallSchedule struct {
	wall *cron.SpecSchedule // in UTC, standing for loc's wall clock
	loc  *time.Location
}

// Next returns the first firing strictly after t, or the zero time when there is none.
func (w wallSchedule) Next(t time.Time) time.Time {
	lt := t.In(w.loc)
	wall := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC)
	for i := 0; i < 100000; i++ {
		wall = w.wall.Next(wall)
		if wall.IsZero() {
			return time.Time{}
		}
		if at := instant(wall, w.loc); at.After(t) {
			return at
		}
		// A wall time that happened earlier (the second pass of a fall-back hour): try the next.
	}
	return time.Time{}
}

// instant returns the first instant at which loc's wall clock reads wall (given as UTC fields), or
// the first instant after the gap when the wall clock skips it.
func instant(wall time.Time, loc *time.Location) time.Time {
	// The offsets in force a day either side cover every transition but ones less than a day apart.
	var valid []time.Time
	var later time.Time
	for _, probe := range []time.Time{wall.Add(-24 * time.Hour), wall.Add(24 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		c := wall.Add(-time.Duration(off) * time.Second)
		if c.After(later) {
			later = c
		}
		if sameWall(c.In(loc), wall) {
			valid = append(valid, c)
		}
	}
	switch {
	case len(valid) == 2 && valid[1].Before(valid[0]):
		return valid[1].In(loc)
	case len(valid) > 0:
		return valid[0].In(loc)
	}
	// In a gap: the instant computed with the offset before the gap lies after it, in the zone that
	// begins at the end of the gap.
	start, _ := later.In(loc).ZoneBounds()
	if start.IsZero() {
		return later.In(loc)
	}
	return start.In(loc)
}

func sameWall(t, wall time.Time) bool {
	y, mo, d := t.Date()
	wy, wmo, wd := wall.Date()
	return y == wy && mo == wmo && d == wd && t.Hour() == wall.Hour() && t.Minute() == wall.Minute() && t.Second() == wall.Second()
}
