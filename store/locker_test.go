package store

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/renewald/renewald/internal/pgtest"
)

// TestScanLockExcludesOtherProcesses: one scan at a time on either engine (a second database
// handle stands for a second process); the run lock excludes a second daemon on SQLite only.
func TestScanLockExcludesOtherProcesses(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		a, reopen := openEngineTwice(t, engine)
		b := reopen()
		held, err := a.Locker().TryLock(ctx, LockScan)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Locker().TryLock(ctx, LockScan); !errors.Is(err, ErrLocked) {
			t.Fatalf("second scan lock: %v, want ErrLocked", err)
		}
		held.Unlock()
		again, err := b.Locker().TryLock(ctx, LockScan)
		if err != nil {
			t.Fatalf("scan lock after release: %v", err)
		}
		again.Unlock()

		run, err := a.Locker().TryLock(ctx, LockRun)
		if err != nil {
			t.Fatal(err)
		}
		defer run.Unlock()
		second, err := b.Locker().TryLock(ctx, LockRun)
		switch engine {
		case SQLite:
			if !errors.Is(err, ErrLocked) {
				t.Errorf("second daemon on SQLite: %v, want ErrLocked", err)
			}
		case Postgres:
			if err != nil {
				t.Errorf("second daemon on PostgreSQL: %v, want allowed", err)
			} else {
				second.Unlock()
			}
		}
	})
}

// TestPostgresMigrateFromTwoHostsAtOnce: migrations race on an empty database and both succeed,
// applying each migration once.
func TestPostgresMigrateFromTwoHostsAtOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	dbs := make([]*DB, 4)
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = OpenPostgres(ctx, dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	var n int
	if err := dbs[0].db.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if v, _ := dbs[0].SchemaVersion(ctx); n != v || v < 4 {
		t.Errorf("%d migrations recorded, schema version %d", n, v)
	}
}

// TestRedactDSN: the password never shows, in either DSN form.
func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://renewald:s3cr%40t@db.internal:5432/renewald?sslmode=verify-full": "postgres://renewald:xxxxx@db.internal:5432/renewald?sslmode=verify-full",
		"postgres://renewald@db.internal/renewald?password=s3cret&sslmode=disable":   "postgres://renewald@db.internal/renewald?password=xxxxx&sslmode=disable",
		"host=db.internal user=renewald password=s3cret dbname=renewald":             "host=db.internal user=renewald password=xxxxx dbname=renewald",
		"host=db user=r password='s3 cret' dbname=r":                                 "host=db user=r password=xxxxx dbname=r",
		"postgres://renewald@/renewald?host=/run/postgresql":                         "postgres://renewald@/renewald?host=/run/postgresql",
	} {
		if got := RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := OpenPostgres(ctx, "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "u:xxxxx@127.0.0.1") {
		t.Errorf("error shows the password, or does not name the database: %v", err)
	}
}
