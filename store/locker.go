package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lock kinds.
const (
	LockRun   = "run"   // one daemon per database (SQLite); several may run on PostgreSQL
	LockScan  = "scan"  // one scan at a time: ticks and backfills
	LockQuota = "quota" // one deliverer at a time counts and claims against the sending quotas
)

// Unlocker releases a lock.
type Unlocker interface{ Unlock() error }

// Locker takes the locks that coordinate processes on one database: flock files beside a SQLite
// database (see lock.go), session-level advisory locks on PostgreSQL (a dead process's lock goes
// with its connection).
type Locker interface {
	// TryLock takes the lock of kind or fails at once with an error that errors.Is ErrLocked.
	TryLock(ctx context.Context, kind string) (Unlocker, error)
}

// Locker returns the database's locker.
func (s *DB) Locker() Locker {
	if s.dialect().engine == Postgres {
		return advisoryLocker{s}
	}
	return fileLocker{s.path}
}

// WaitFor takes the lock of kind from l, retrying every poll while another process holds it, until
// ctx ends.
func WaitFor(ctx context.Context, l Locker, kind string, poll time.Duration) (Unlocker, error) {
	for {
		u, err := l.TryLock(ctx, kind)
		if !errors.Is(err, ErrLocked) {
			return u, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %w", err)
		case <-time.After(poll):
		}
	}
}

type fileLocker struct{ path string }

func (f fileLocker) TryLock(_ context.Context, kind string) (Unlocker, error) {
	l, err := TryLock(f.path, kind)
	if err != nil {
		return nil, err
	}
	return l, nil
}

type advisoryLocker struct{ db *DB }

type unlockFunc func()

func (u unlockFunc) Unlock() error { u(); return nil }

func (a advisoryLocker) TryLock(ctx context.Context, kind string) (Unlocker, error) {
	switch kind {
	case LockRun:
		// Several daemons share a PostgreSQL database: they coordinate through the scan lock and
		// through claims (FOR UPDATE SKIP LOCKED), not by excluding each other.
		return unlockFunc(func() {}), nil
	case LockScan, LockQuota:
		key := lockKeyScan
		if kind == LockQuota {
			key = lockKeyQuota
		}
		unlock, ok, err := a.db.tryAdvisoryLock(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("%s lock: %w", kind, err)
		}
		if !ok {
			return nil, fmt.Errorf("%s lock (PostgreSQL advisory lock %d on %s): %w", kind, key, a.db.Name(), ErrLocked)
		}
		return unlockFunc(unlock), nil
	}
	return nil, fmt.Errorf("unknown lock kind %q", kind)
}
