package store

import (
	"path/filepath"
	"testing"

	"github.com/renewald/renewald/internal/pgtest"
)

// eachEngine runs fn as a subtest per engine: SQLite in a temporary directory, and PostgreSQL in a
// fresh database of the test server (skipped with a message when there is none, a failure under CI).
func eachEngine(t *testing.T, fn func(t *testing.T, engine Engine)) {
	for _, e := range []Engine{SQLite, Postgres} {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

// openEngine opens an empty, migrated database on engine and closes it after the test.
func openEngine(tb testing.TB, engine Engine) *DB {
	tb.Helper()
	var db *DB
	var err error
	switch engine {
	case Postgres:
		db, err = OpenPostgres(ctx, pgtest.DSN(tb))
	default:
		db, err = Open(ctx, filepath.Join(tb.TempDir(), "renewald.db"))
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// openEngineTwice opens an empty database on engine and returns it with a function that opens it
// again, as another process would.
func openEngineTwice(tb testing.TB, engine Engine) (*DB, func() *DB) {
	tb.Helper()
	var open func() (*DB, error)
	switch engine {
	case Postgres:
		dsn := pgtest.DSN(tb)
		open = func() (*DB, error) { return OpenPostgres(ctx, dsn) }
	default:
		path := filepath.Join(tb.TempDir(), "renewald.db")
		open = func() (*DB, error) { return Open(ctx, path) }
	}
	again := func() *DB {
		tb.Helper()
		db, err := open()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	}
	return again(), again
}
