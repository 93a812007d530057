package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is returned when another process holds a lock.
var ErrLocked = errors.New("held by another process")

// Lock is an exclusive advisory lock on a file beside the database. The kernel drops it when the
// process dies, so a crash never leaves a stale lock.
type Lock struct {
	f    *os.File
	path string
}

// lockPath names the lock file of kind ("run" or "scan") for the database at dbPath.
func lockPath(dbPath, kind string) string { return dbPath + "." + kind + ".lock" }

// TryLock takes the lock of kind for the database at dbPath or fails at once with ErrLocked, naming
// the process that holds it.
func TryLock(dbPath, kind string) (*Lock, error) {
	p := lockPath(dbPath, kind)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s lock: %w", kind, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(p)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s lock %s: %w (pid %s)", kind, p, ErrLocked, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("%s lock %s: %w", kind, p, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f, path: p}, nil
}

// WaitLock takes the lock of kind, retrying while another process holds it, until ctx ends.
func WaitLock(ctx context.Context, dbPath, kind string, poll time.Duration) (*Lock, error) {
	for {
		l, err := TryLock(dbPath, kind)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %w", err)
		case <-time.After(poll):
		}
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}
