package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/renewald/renewald/internal/config"
)

// TestReadOnlyCommandsNeedADatabase: outbox list/show, schedule and preview on a database path that
// does not exist exit 2 with the path named and create nothing (they used to create an empty
// database and print "0 rows").
func TestReadOnlyCommandsNeedADatabase(t *testing.T) {
	e := newEnv(t, "")
	db := filepath.Join(e.dir, "r.db")
	for _, args := range [][]string{{"outbox", "list"}, {"outbox", "show", "1"}, {"schedule"}, {"preview", "1"}} {
		code, out, errs := e.run(args...)
		want := "no database at " + db + "; run import or migrate first"
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, errs, want)
		}
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			if _, err := os.Lstat(p); err == nil {
				t.Fatalf("%v created %s", args, p)
			}
		}
	}
	e.mustRun("migrate")
	if code, _, errs := e.run("outbox", "list"); code != 0 {
		t.Errorf("outbox list after migrate: exit %d %s", code, errs)
	}
}

// TestReadOnlyCommandsRunBesideAWriter: outbox list, schedule and preview take no write lock, so
// they answer while another process holds a write transaction (an import); they used to wait for
// the busy timeout and fail with "database is locked".
func TestReadOnlyCommandsRunBesideAWriter(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("backfill", "--from", "2024-01-01", "--to", "2024-12-31")
	w, err := sqlx.Open("sqlite3", "file:"+filepath.Join(e.dir, "r.db")+"?_txlock=immediate&_busy_timeout=100")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tx, err := w.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE partners SET name = name`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"outbox", "list"}, {"outbox", "show", "1"}, {"schedule"}, {"preview", "1"}} {
		start := time.Now()
		code, _, errs := e.run(args...)
		if code != 0 {
			t.Errorf("%v beside a writer: exit %d %s", args, code, errs)
		}
		t.Logf("%v beside a writer: %s", args, time.Since(start).Round(time.Millisecond))
	}
}

// TestSchemaNewerThanTheBinaryIsRefused: every command refuses a database migrated by a newer
// renewald, naming both versions, with exit 2 (run: 78), and writes nothing.
func TestSchemaNewerThanTheBinaryIsRefused(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("migrate")
	db := filepath.Join(e.dir, "r.db")
	w, err := sqlx.Open("sqlite3", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future.sql', '2030-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	w.Close()
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate"}, {"outbox", "list"}, {"import", fixture("partners.json")}, {"tick"}, {"run"}} {
		code, errs := runWithin(t, e, 30*time.Second, args...) // a daemon that accepted it would run on
		want := 2
		if args[0] == "run" {
			want = 78
		}
		if code != want || !strings.Contains(errs, "schema version 999") || !strings.Contains(errs, "up to ") {
			t.Errorf("%v: exit %d, %q; want %d naming both versions", args, code, errs, want)
		}
	}
	after, _ := os.ReadFile(db)
	if string(before) != string(after) {
		t.Error("the database file changed")
	}
	if fi, err := os.Stat(db + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("a write-ahead log of %d bytes was left", fi.Size())
	}
}

// TestLoosePermissionsAreTightened: an existing database and its -wal and -shm made 0644 by hand
// are 0600 again after the next command.
func TestLoosePermissionsAreTightened(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("migrate")
	db := filepath.Join(e.dir, "r.db")
	for _, p := range []string{db + "-wal", db + "-shm"} {
		os.WriteFile(p, nil, 0o644) // empty: a valid, unused log and shared-memory file
	}
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		os.Chmod(p, 0o644)
	}
	e.mustRun("outbox", "list")
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %s, want 0600", p, fi.Mode().Perm())
		}
	}
}

// TestRelativePathsResolveAgainstTheConfigFolder: database.path, mail.file_dir and templates_dir
// written relative in a config file are relative to its folder; defaults and --db stay relative to
// the working directory.
func TestRelativePathsResolveAgainstTheConfigFolder(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "tmpl"), 0o700)
	cfgPath := filepath.Join(dir, "c.toml")
	os.WriteFile(cfgPath, []byte("[database]\npath = \"state/r.db\"\n[mail]\nfile_dir = \"out\"\ntemplates_dir = \"tmpl\"\n"), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.Path != filepath.Join(dir, "state/r.db") || cfg.Mail.FileDir != filepath.Join(dir, "out") || cfg.Mail.TemplatesDir != filepath.Join(dir, "tmpl") {
		t.Errorf("paths not resolved against %s: %q %q %q", dir, cfg.Database.Path, cfg.Mail.FileDir, cfg.Mail.TemplatesDir)
	}
	os.WriteFile(cfgPath, []byte("[database]\npath = \"/abs/r.db\"\n[schedule]\ntimezone = \"UTC\"\n"), 0o600)
	cfg, err = config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.Path != "/abs/r.db" || cfg.Mail.FileDir != "mail-out" {
		t.Errorf("absolute or default paths changed: %q %q", cfg.Database.Path, cfg.Mail.FileDir)
	}
	m := &Main{configPath: cfgPath, dbPath: "rel.db", Getenv: func(string) string { return "" }, Now: time.Now}
	cfg, err = m.loadConfig()
	if err != nil || cfg.Database.Path != "rel.db" {
		t.Errorf("--db: %q %v, want it relative to the working directory", cfg.Database.Path, err)
	}
	// Through the real binary from another working directory.
	e := newEnv(t, "")
	cfgBody := "[database]\npath = \"r.db\"\n[mail]\ntransport = \"file\"\nfile_dir = \"mail\"\n"
	os.WriteFile(e.cfg, []byte(cfgBody), 0o600)
	c := e.cmd("migrate")
	c.Dir = t.TempDir()
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), filepath.Join(e.dir, "r.db")) {
		t.Errorf("migrate from elsewhere: %v %s", err, out)
	}
}

// runWithin runs the binary, killing it after d, and returns its exit code and stderr.
func runWithin(t *testing.T, e *env, d time.Duration, args ...string) (int, string) {
	t.Helper()
	c := e.cmd(args...)
	var errb strings.Builder
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(d, func() { c.Process.Kill() })
	defer timer.Stop()
	err := c.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, errb.String()
}
