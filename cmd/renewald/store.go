package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// openStore opens the configured database.
func (m *Main) openStore(ctx context.Context, cfg Config) (*store.DB, error) {
	if cfg.Database.Driver == "postgres" {
		dsn, err := m.databaseDSN(cfg)
		if err != nil {
			return nil, err
		}
		return store.OpenPostgres(ctx, dsn)
	}
	db, err := store.Open(ctx, cfg.Database.Path)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// loadStore loads the configuration and opens its database.
func (m *Main) loadStore(ctx context.Context) (Config, *store.DB, error) {
	cfg, err := m.loadConfig()
	if err != nil {
		return cfg, nil, err
	}
	db, err := m.openStore(ctx, cfg)
	return cfg, db, err
}

// today is the current date in the configured zone.
func (m *Main) today(cfg Config) renewal.Date { return renewal.DateOf(m.Now(), cfg.Location()) }

// dateFlag is a YYYY-MM-DD flag value.
type dateFlag struct{ renewal.Date }

func (f *dateFlag) String() string { return f.Date.String() }
func (f *dateFlag) Set(s string) error {
	d, err := renewal.ParseDate(s)
	if err != nil {
		return err
	}
	f.Date = d
	return nil
}

var _ flag.Value = (*dateFlag)(nil)

// cmdMigrate applies migrations and reports the schema version; with --to-postgres it copies the
// SQLite database into an empty PostgreSQL one.
func (m *Main) cmdMigrate(ctx context.Context, args []string) error {
	fs := m.newFlagSet("migrate")
	toPostgres := fs.String("to-postgres", "", "copy the SQLite database into this empty PostgreSQL database (DSN)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *toPostgres != "" {
		return m.copyToPostgres(ctx, *toPostgres)
	}
	_, db, err := m.loadStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(m.Stdout, "%s: schema version %d\n", db.Name(), v)
	return nil
}
