package main

import (
	"fmt"
	"time"
)

// fakeClockEnv names the variable that starts the process's clock at another instant (RFC 3339),
// ticking on from there. The end-to-end tests use it to run the real binary on the dates of their
// fixtures, since reminders go out only on their due dates (R13); the daemon logs a warning when set.
const fakeClockEnv = "RENEWALD_FAKE_CLOCK"

// clockFrom returns time.Now, or when start is set a clock that reads start at the moment of the
// call and runs on in real time.
func clockFrom(start string) (func() time.Time, error) {
	if start == "" {
		return time.Now, nil
	}
	at, err := time.Parse(time.RFC3339, start)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not an RFC 3339 time", fakeClockEnv, start)
	}
	offset := time.Until(at)
	return func() time.Time { return time.Now().Add(offset) }, nil
}
