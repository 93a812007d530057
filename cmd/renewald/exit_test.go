package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestRunConfigErrorExits78: run refuses a bad configuration with EX_CONFIG, which the unit does
// not restart; every other command keeps exit 2.
func TestRunConfigErrorExits78(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := writeFile(t, "bad.toml", "[schedule]\ncron = \"every day\"\n")
	if code, _, errs := runMain(t, nil, now, "--config", bad, "run"); code != 78 || !strings.Contains(errs, "schedule.cron") {
		t.Errorf("run with a bad cron: exit %d, %q; want 78", code, errs)
	}
	if code, _, _ := runMain(t, nil, now, "--config", bad, "run", "--bogus"); code != 78 {
		t.Errorf("run with a bad flag: exit %d, want 78", code)
	}
	for _, args := range [][]string{{"tick"}, {"config", "check"}, {"outbox", "list"}} {
		if code, _, _ := runMain(t, nil, now, append([]string{"--config", bad}, args...)...); code != 2 {
			t.Errorf("%v with a bad cron: exit %d, want 2", args, code)
		}
	}
}

// panicInService is a clock that panics when the scheduler's goroutine reads it.
func panicInService() time.Time {
	if strings.Contains(string(debug.Stack()), "(*Service).loop") {
		panic("clock exploded")
	}
	return time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
}

// TestRunExitsOneAfterAPanicInATick: a panic in the daemon's scheduler goroutine is recovered,
// logged with its stack, and run exits 1 (restarted by systemd) instead of Go's exit 2.
func TestRunExitsOneAfterAPanicInATick(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.toml")
	os.WriteFile(cfg, []byte("[database]\npath = \"r.db\"\n[mail]\ntransport = \"file\"\n"), 0o600)
	m, out, errb := newTestMain(nil, panicInService)
	code := m.Run(ctx(), []string{"--config", cfg, "run"})
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errb)
	}
	if s := errb.String(); !strings.Contains(s, "clock exploded") || !strings.Contains(s, "stack=") || !strings.Contains(s, "runTick") {
		t.Errorf("no panic with its stack logged:\n%s", s)
	}
}

// TestPanicInACommandExitsOne: a panic on the main goroutine exits 1 with the stack logged.
func TestPanicInACommandExitsOne(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.toml")
	os.WriteFile(cfg, []byte("[database]\npath = \"r.db\"\n[mail]\ntransport = \"file\"\n"), 0o600)
	m, _, errb := newTestMain(nil, func() time.Time { panic("clock exploded") })
	if code := m.Run(ctx(), []string{"--config", cfg, "tick"}); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errb)
	}
	if s := errb.String(); !strings.Contains(s, "clock exploded") || !strings.Contains(s, "stack=") {
		t.Errorf("no panic with its stack logged:\n%s", s)
	}
}

// TestUnitRestartsEverythingButAConfigError: the unit prevents restarts only for exit 78 and waits
// for the clock to be synchronised.
func TestUnitRestartsEverythingButAConfigError(t *testing.T) {
	b, err := os.ReadFile("../../deploy/renewald.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	var prevent, after []string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "RestartPreventExitStatus="); ok {
			prevent = append(prevent, v)
		}
		if v, ok := strings.CutPrefix(line, "After="); ok {
			after = append(after, strings.Fields(v)...)
		}
	}
	if len(prevent) != 1 || prevent[0] != "78" {
		t.Errorf("RestartPreventExitStatus = %v, want only 78", prevent)
	}
	if !strings.Contains(strings.Join(after, " "), "time-sync.target") {
		t.Errorf("After = %v, want time-sync.target", after)
	}
}

// TestScheduleThatCannotWorkIsRefused: a TZ prefix (robfig/cron panicked on it) and a schedule
// that never fires (the daemon spun on it) fail config check (exit 2) and run (exit 78).
func TestScheduleThatCannotWorkIsRefused(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ cron, want string }{
		{"TZ=UTC", "TZ= or CRON_TZ= prefix"},
		{"CRON_TZ=Europe/Paris 0 6 * * *", "TZ= or CRON_TZ= prefix"},
		{"0 6 30 2 *", "never fires in the next four years"},
	} {
		p := writeFile(t, "c.toml", "[schedule]\ncron = \""+tc.cron+"\"\n")
		code, _, errs := runMain(t, nil, now, "--config", p, "config", "check")
		if code != 2 || !strings.Contains(errs, "schedule.cron") || !strings.Contains(errs, tc.want) || !strings.Contains(errs, p) {
			t.Errorf("config check, cron %q: exit %d, %q", tc.cron, code, errs)
		}
		if code, _, errs := runMain(t, nil, now, "--config", p, "run"); code != 78 || !strings.Contains(errs, tc.want) {
			t.Errorf("run, cron %q: exit %d, %q", tc.cron, code, errs)
		}
	}
	p := writeFile(t, "c.toml", "[schedule]\ncron = \"0 6 29 2 *\"\n")
	if code, _, errs := runMain(t, nil, now, "--config", p, "config", "check"); code != 0 {
		t.Errorf("29 February (fires in 2028): exit %d, %q", code, errs)
	}
}
