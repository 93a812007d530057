package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// runMain runs Main in-process with the given environment and returns exit code, stdout and stderr.
func runMain(t *testing.T, env map[string]string, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{
		Stdin:  strings.NewReader(""),
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return now },
	}
	code := m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestConfigCheckCommand(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	code, out, errs := runMain(t, nil, now, "--config", "../../config.example.toml", "config", "check")
	if code != 0 || !strings.Contains(out, "config ok") {
		t.Fatalf("example: exit %d, %s %s", code, out, errs)
	}
	bad := writeFile(t, "bad.toml", "[schedule]\ncron = \"every day\"\n")
	code, _, errs = runMain(t, nil, now, "--config", bad, "config", "check")
	if code != 2 || !strings.Contains(errs, "schedule.cron") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("bad cron: exit %d, stderr %q", code, errs)
	}
	badTZ := writeFile(t, "bad.toml", "[schedule]\ntimezone = \"Nowhere/Land\"\n")
	code, _, errs = runMain(t, map[string]string{"RENEWALD_CONFIG": badTZ}, now, "config", "check")
	if code != 2 || !strings.Contains(errs, "schedule.timezone") {
		t.Errorf("bad zone via env: exit %d, stderr %q", code, errs)
	}
	if code, out, _ := runMain(t, nil, now, "version"); code != 0 || !strings.HasPrefix(out, "renewald ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, _ := runMain(t, nil, now, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}

func ctx() context.Context { return context.Background() }

// newTestMain returns a Main with buffers for its output, the given environment and clock.
func newTestMain(env map[string]string, now func() time.Time) (*Main, *syncBuffer, *syncBuffer) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	return &Main{Stdin: strings.NewReader(""), Stdout: out, Stderr: errb,
		Getenv: func(k string) string { return env[k] }, Now: now}, out, errb
}
