package main

import (
	"context"
	"fmt"
)

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
	_, db, err := m.loadStore(ctx, false)
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
