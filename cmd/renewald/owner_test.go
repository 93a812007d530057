package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRootTickLeavesTheServiceAbleToTick is the story on the real binary: the database
// belongs to the service's user, an operator runs "sudo renewald tick", and the service's next
// tick must still work. A lock file left owned by root (by an older binary) is reported as a
// permission problem, not as "another renewald is scanning"; another user is refused, both named.
func TestRootTickLeavesTheServiceAbleToTick(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run commands as other users")
	}
	const service, other = 65534, 4242
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil { // the service's state directory, writable by it
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent, so other users can reach it
	bin := filepath.Join(dir, "renewald")
	copyFile(t, binary, bin, 0o755)
	data := filepath.Join(dir, "partners.json")
	copyFile(t, fixture("partners.json"), data, 0o644)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("[database]\npath = \"r.db\"\n[mail]\ntransport = \"file\"\nfile_dir = \"mail\"\n"), 0o644)
	run := func(uid int, args ...string) (int, string) {
		c := exec.Command(bin, append([]string{"--config", cfg}, args...)...)
		c.Dir = dir
		if uid != 0 {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
		}
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	}
	if code, out := run(service, "import", data); code != 0 {
		t.Fatalf("import as the service: exit %d\n%s", code, out)
	}
	if code, out := run(0, "tick", "--no-deliver"); code != 0 {
		t.Fatalf("tick as root: exit %d\n%s", code, out)
	}
	for _, name := range []string{"r.db.scan.lock"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != service {
			t.Errorf("%s owned by uid %d after a root tick, want the database's owner %d", name, uid, service)
		}
	}
	if code, out := run(service, "tick", "--no-deliver"); code != 0 {
		t.Fatalf("the service's tick after a root tick: exit %d\n%s", code, out)
	}
	// A lock file an older binary left owned by root.
	lock := filepath.Join(dir, "r.db.scan.lock")
	os.Chown(lock, 0, 0)
	code, out := run(service, "tick", "--no-deliver", "--wait", "1s")
	if code != 2 || !strings.Contains(out, "permission denied") || !strings.Contains(out, "uid 0") || strings.Contains(out, "another renewald is scanning") {
		t.Errorf("root-owned lock: exit %d\n%s", code, out)
	}
	os.Chown(lock, service, service)
	code, out = run(other, "outbox", "list")
	if code != 2 || !strings.Contains(out, "uid 65534") || !strings.Contains(out, "uid 4242") {
		t.Errorf("another user: exit %d\n%s", code, out)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
