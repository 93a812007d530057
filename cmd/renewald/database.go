package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/renewald/renewald/store"
)

// dsnEnv holds the PostgreSQL DSN when neither database.dsn nor database.dsn_file gives it.
const dsnEnv = "RENEWALD_DATABASE_DSN"

// databaseDSN returns the PostgreSQL DSN: database.dsn, else the contents of database.dsn_file,
// else $RENEWALD_DATABASE_DSN. Errors never show it.
func (m *Main) databaseDSN(cfg Config) (string, error) {
	db := cfg.Database
	switch {
	case db.DSN != "":
		return db.DSN, nil
	case db.DSNFile != "":
		b, err := os.ReadFile(db.DSNFile)
		if err != nil {
			return "", asUsage(fmt.Errorf("database.dsn_file: %w", err))
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", usageErrorf("database.dsn_file %s: empty", db.DSNFile)
		}
		return dsn, nil
	case m.Getenv(dsnEnv) != "":
		return m.Getenv(dsnEnv), nil
	}
	return "", asUsage(errors.New(`database.driver = "postgres": set database.dsn, database.dsn_file or ` + dsnEnv))
}

// databaseName names the configured database for messages: its path, or its DSN without the
// password.
func (m *Main) databaseName(cfg Config) string {
	if cfg.Database.Driver != "postgres" {
		return cfg.Database.Path
	}
	dsn, err := m.databaseDSN(cfg)
	if err != nil {
		return "postgres (no DSN)"
	}
	return store.RedactDSN(dsn)
}
