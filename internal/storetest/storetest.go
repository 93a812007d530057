// Package storetest opens a fresh store on each engine for the tests of the packages that use the
// store: SQLite in a temporary directory, PostgreSQL in a database of its own on the test server
// (see internal/pgtest: skipped with a message without one, a failure under CI).
package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/pgtest"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// Engines lists the engines every store-touching test runs on.
var Engines = []store.Engine{store.SQLite, store.Postgres}

// Each runs fn as a subtest per engine.
func Each(t *testing.T, fn func(t *testing.T, engine store.Engine)) {
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, e) })
	}
}

// Open opens an empty, migrated database on engine and closes it when tb ends.
func Open(tb testing.TB, engine store.Engine) *store.DB {
	tb.Helper()
	var db *store.DB
	var err error
	switch engine {
	case store.Postgres:
		db, err = store.OpenPostgres(context.Background(), pgtest.DSN(tb))
	default:
		db, err = store.Open(context.Background(), filepath.Join(tb.TempDir(), "renewald.db"))
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Outbox is db's outbox as a test reads and acts on it: the default recipient roles and a lease of
// five minutes, so that it can claim too. Each call is a deliverer of its own, with its own claims.
func Outbox(db *store.DB) *store.Outbox {
	return &store.Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: 5 * time.Minute}
}
