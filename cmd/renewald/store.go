package main

import (
	"context"
	"errors"
	"flag"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// openStore opens the configured database, creating and migrating it as needed.
func (m *Main) openStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	if cfg.Database.Driver == "postgres" {
		dsn, err := m.databaseDSN(cfg)
		if err != nil {
			return nil, err
		}
		return storeError(store.OpenPostgres(ctx, dsn))
	}
	return storeError(store.Open(ctx, cfg.Database.Path))
}

// openStoreReadOnly opens the configured database for a read-only command: it must exist (exit 2
// otherwise, nothing created) and no write lock is taken. (On PostgreSQL every reader is one.)
func (m *Main) openStoreReadOnly(ctx context.Context, cfg config.Config) (*store.DB, error) {
	if cfg.Database.Driver == "postgres" {
		return m.openStore(ctx, cfg)
	}
	return storeError(store.OpenReadOnly(ctx, cfg.Database.Path))
}

// storeError marks as usage errors (exit 2) what the operator must fix about the database.
func storeError(db *store.DB, err error) (*store.DB, error) {
	if errors.Is(err, store.ErrNoDatabase) || errors.Is(err, store.ErrSchemaTooNew) || errors.Is(err, store.ErrUnparsableDSN) {
		return nil, asUsage(err)
	}
	if err != nil {
		return nil, lockError(err)
	}
	return db, nil
}

// loadStore loads the configuration and opens its database (read-only: see openStoreReadOnly).
func (m *Main) loadStore(ctx context.Context, readOnly bool) (config.Config, *store.DB, error) {
	cfg, err := m.loadConfig()
	if err != nil {
		return cfg, nil, err
	}
	var db *store.DB
	if readOnly {
		db, err = m.openStoreReadOnly(ctx, cfg)
	} else {
		db, err = m.openStore(ctx, cfg)
	}
	return cfg, db, err
}

// loadOutbox is loadStore for the commands that read or act on outbox rows and the suppression list
// (outbox, suppression): they claim nothing, so the Outbox needs no recipient roles or lease. Close
// its DB when done.
func (m *Main) loadOutbox(ctx context.Context, readOnly bool) (*store.Outbox, error) {
	_, db, err := m.loadStore(ctx, readOnly)
	if err != nil {
		return nil, err
	}
	return &store.Outbox{DB: db}, nil
}

// today is the current date in the configured zone.
func (m *Main) today(cfg config.Config) renewal.Date { return renewal.DateOf(m.Now(), cfg.Location()) }

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
