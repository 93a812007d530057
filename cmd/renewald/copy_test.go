package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renewald/renewald/internal/pgtest"
)

// TestMigrateToPostgres copies a used SQLite database (imported, ticked, delivered) into an empty
// PostgreSQL one with the real binary: the outbox reads the same through either configuration, the
// password shows nowhere, and a second copy into the now full database is refused (exit 2).
func TestMigrateToPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "hunter2") // the test server trusts local connections
	dsn = u.String()

	e := newEnv(t, "")
	e.clock = fixtureDay
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("tick", "--as-of", "2026-01-15")
	before := e.mustRun("outbox", "list", "--json")
	out := e.mustRun("migrate", "--to-postgres", dsn)
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "outbox ") {
		t.Errorf("copy output: %q", out)
	}

	pgCfg := filepath.Join(e.dir, "pg.toml")
	body := fmt.Sprintf("[database]\ndriver = \"postgres\"\ndsn = %q\n[mail]\ntransport = \"file\"\nfile_dir = %q\n", dsn, filepath.Join(e.dir, "mail"))
	if err := os.WriteFile(pgCfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	pg := &env{t: t, dir: e.dir, cfg: pgCfg, clock: e.clock, created: e.created}
	if after := pg.mustRun("outbox", "list", "--json"); after != before || !strings.Contains(before, `"status"`) {
		t.Errorf("outbox differs after the copy:\nSQLite     %s\nPostgreSQL %s", before, after)
	}
	if out := pg.mustRun("migrate"); !strings.Contains(out, "schema version") || strings.Contains(out, "hunter2") {
		t.Errorf("migrate on PostgreSQL: %q", out)
	}
	code, _, errs := e.run("migrate", "--to-postgres", dsn)
	if code != 2 || !strings.Contains(errs, "not empty") || strings.Contains(errs, "hunter2") {
		t.Errorf("second copy: exit %d, %q", code, errs)
	}
	code, _, errs = e.run("migrate", "--to-postgres", "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2")
	if code != 1 || strings.Contains(errs, "hunter2") || !strings.Contains(errs, "u:xxxxx@") {
		t.Errorf("unreachable server: exit %d, %q", code, errs)
	}
}
