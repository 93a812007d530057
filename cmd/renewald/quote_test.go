package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shellArgv runs a printed renewald command through /bin/sh with renewald replaced by
// printf '%s\n' (in a scratch folder) and returns the arguments the shell passed.
func shellArgv(t *testing.T, command string) []string {
	t.Helper()
	rest, ok := strings.CutPrefix(command, "renewald ")
	if !ok {
		t.Fatalf("not a renewald command: %q", command)
	}
	cmd := exec.Command("/bin/sh", "-c", `printf '%s\n' `+rest)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", command, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// TestDemoPrintsQuotedCommands: the demo's commands, in a folder whose name is full of shell
// syntax, run exactly the commands it ran when pasted into a POSIX shell.
func TestDemoPrintsQuotedCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "it's a demo; $(touch x) |y")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	code, out, errs := runMain(t, nil, now, "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errs)
	}
	cfg, sample := filepath.Join(dir, "config.toml"), filepath.Join(dir, "sample-partners.json")
	want := map[string][]string{
		"import":   {"--config", cfg, "import", sample},
		"tick":     {"--config", cfg, "tick"},
		"list":     {"--config", cfg, "outbox", "list"},
		"schedule": {"--config", cfg, "schedule"},
		"preview":  {"--config", cfg, "preview", "ID"},
		"show":     {"--config", cfg, "outbox", "show", "ID"},
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "$ "))
		if !strings.HasPrefix(line, "renewald ") {
			continue
		}
		argv := shellArgv(t, line)
		matched := false
		for name, w := range want {
			if fmt.Sprintf("%q", argv) == fmt.Sprintf("%q", w) {
				seen[name], matched = true, true
			}
		}
		if !matched {
			t.Errorf("%q runs renewald %q, none of the demo's commands", line, argv)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("the demo printed no %s command:\n%s", name, out)
		}
	}
}
