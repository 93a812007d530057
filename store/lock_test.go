package store

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestLockDoesNotFollowAPlantedSymlink: a symbolic link planted where the lock file goes must not
// make a tick overwrite its target (it used to truncate it and write a pid).
func TestLockDoesNotFollowAPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	target := filepath.Join(dir, "precious")
	os.WriteFile(target, []byte("precious content\n"), 0o600)
	if err := os.Symlink(target, lockPath(db, "scan")); err != nil {
		t.Fatal(err)
	}
	l, err := TryLock(db, "scan")
	if err == nil {
		l.Unlock()
		t.Fatal("lock taken through a symbolic link")
	}
	if !errors.Is(err, ErrUnsafeLockFile) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("err = %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious content\n" {
		t.Errorf("target now holds %q", b)
	}
	// A hard link to another file is refused too.
	os.Remove(lockPath(db, "scan"))
	if err := os.Link(target, lockPath(db, "scan")); err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(db, "scan"); !errors.Is(err, ErrUnsafeLockFile) {
		t.Errorf("hard link: err = %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious content\n" {
		t.Errorf("target now holds %q", b)
	}
}

// TestLockOverwritesThePidInPlace: the pid is written at a fixed width, so a longer earlier content
// never survives and the file is never truncated.
func TestLockOverwritesThePidInPlace(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	os.WriteFile(lockPath(db, "run"), []byte("99999999999\n"), 0o600)
	l, err := TryLock(db, "run")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	_, err = TryLock(db, "run")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(os.Getpid())+")") {
		t.Errorf("second lock: %v", err)
	}
}

// TestLockTakesTheDatabaseOwner: a command run as root (sudo renewald tick) hands the lock file to
// the database's owner, so the service's next tick can still take it.
func TestLockTakesTheDatabaseOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	db := filepath.Join(t.TempDir(), "r.db")
	os.WriteFile(db, nil, 0o600)
	if err := os.Chown(db, 4242, 4343); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(lockPath(db, "run"), nil, 0o600) // left by an earlier root command
	for _, kind := range []string{"scan", "run"} {
		l, err := TryLock(db, kind)
		if err != nil {
			t.Fatal(err)
		}
		l.Unlock()
		fi, _ := os.Stat(lockPath(db, kind))
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 {
			t.Errorf("%s lock owned by %d:%d, want 4242:4343", kind, st.Uid, st.Gid)
		}
	}
}

// TestLockRefusesAnotherUser: a command run as a user other than the database's owner (and not
// root) is refused with both users named.
func TestLockRefusesAnotherUser(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.db")
	os.WriteFile(db, nil, 0o600)
	owner, _, _ := dbOwner(db)
	geteuid = func() int { return owner.uid + 4242 }
	t.Cleanup(func() { geteuid = os.Geteuid })
	_, err := TryLock(db, "scan")
	if !errors.Is(err, ErrWrongUser) || !strings.Contains(err.Error(), "uid "+strconv.Itoa(owner.uid)) || !strings.Contains(err.Error(), "uid "+strconv.Itoa(owner.uid+4242)) {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Lstat(lockPath(db, "scan")); err == nil {
		t.Error("a lock file was created")
	}
}
