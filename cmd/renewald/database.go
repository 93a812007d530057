package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/store"
)

// dsnEnv holds the PostgreSQL DSN when neither database.dsn nor database.dsn_file gives it.
const dsnEnv = "RENEWALD_DATABASE_DSN"

// databaseDSN returns the PostgreSQL DSN: database.dsn, else the contents of database.dsn_file,
// else $RENEWALD_DATABASE_DSN. Errors never show it.
func (m *Main) databaseDSN(cfg config.Config) (string, error) {
	db := cfg.Database
	if m.dsnFromEnv != "" {
		return m.dsnFromEnv, nil // read once, then removed from the environment
	}
	switch {
	case db.DSN != "":
		return db.DSN, nil
	case db.DSNFile != "":
		b, err := m.readSecretFile("database.dsn_file", db.DSNFile)
		if err != nil {
			return "", err
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", usageErrorf("database.dsn_file %s: empty", db.DSNFile)
		}
		return dsn, nil
	case m.Getenv(dsnEnv) != "":
		m.dsnFromEnv = m.secretFromEnv(dsnEnv)
		return m.dsnFromEnv, nil
	}
	return "", asUsage(errors.New(`database.driver = "postgres": set database.dsn, database.dsn_file or ` + dsnEnv))
}

// dsnSource names where databaseDSN finds the DSN, for messages: a key, or the environment variable.
func (m *Main) dsnSource(cfg config.Config) string {
	switch db := cfg.Database; {
	case m.dsnFromEnv != "":
		return dsnEnv
	case db.DSN != "":
		return "database.dsn"
	case db.DSNFile != "":
		return "database.dsn_file " + db.DSNFile
	}
	return dsnEnv
}

// checkDSN refuses a DSN that does not parse (exit 2), naming where it came from, never its value.
func (m *Main) checkDSN(cfg config.Config, dsn string) error {
	if err := store.CheckDSN(dsn); err != nil {
		return usageErrorf("%s: unparsable DSN: %w (the value is not shown)", m.dsnSource(cfg), err)
	}
	return nil
}

// databaseName names the configured database for messages: its path, or its DSN without the
// password.
func (m *Main) databaseName(cfg config.Config) string {
	if cfg.Database.Driver != "postgres" {
		return cfg.Database.Path
	}
	dsn, err := m.databaseDSN(cfg)
	if err != nil {
		return "postgres (no DSN)"
	}
	return store.RedactDSN(dsn)
}

// copyToPostgres copies the configured SQLite database into the empty PostgreSQL database dsn,
// holding the SQLite run and scan locks so no daemon, tick or backfill writes meanwhile.
func (m *Main) copyToPostgres(ctx context.Context, dsn string) error {
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	if err := store.CheckDSN(dsn); err != nil {
		return usageErrorf("--to-postgres: unparsable DSN: %w (the value is not shown)", err)
	}
	if cfg.Database.Driver != "sqlite" {
		return usageErrorf("migrate --to-postgres copies the SQLite database (database.driver = \"sqlite\"), not %q", cfg.Database.Driver)
	}
	src, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer src.Close()
	for _, kind := range []string{store.LockRun, store.LockScan} {
		l, err := src.Locker().TryLock(ctx, kind)
		if errors.Is(err, store.ErrLocked) {
			return usageErrorf("stop renewald on %s before copying it: %w", src.Name(), err)
		}
		if err != nil {
			return err
		}
		defer l.Unlock()
	}
	dst, err := store.OpenPostgres(ctx, dsn)
	if err != nil {
		return err
	}
	defer dst.Close()
	stats, err := src.CopyTo(ctx, dst)
	if errors.Is(err, store.ErrNotEmpty) {
		return asUsage(err)
	}
	if err != nil {
		return err
	}
	tables := make([]string, 0, len(stats))
	for t := range stats {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	var parts []string
	for _, t := range tables {
		parts = append(parts, fmt.Sprintf("%s %d", t, stats[t]))
	}
	fmt.Fprintf(m.Stdout, "copied %s into %s: %s\nnext: set database.driver = \"postgres\" and database.dsn (or dsn_file), then start renewald\n",
		src.Name(), dst.Name(), strings.Join(parts, ", "))
	return nil
}
