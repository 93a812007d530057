package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// OpenPostgres opens the PostgreSQL database named by dsn (a URL or key=value string, as libpq reads
// it) and applies pending migrations under an advisory lock, so two hosts may migrate at once.
// Errors name the database by its DSN with the password removed.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	name := RedactDSN(dsn)
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("open store: empty PostgreSQL DSN (database.dsn, database.dsn_file or RENEWALD_DATABASE_DSN)")
	}
	parsed, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx quotes the DSN with its own, best-effort redaction: say only what it found wrong.
		why := "the PostgreSQL driver cannot read it"
		if inner := errors.Unwrap(err); inner != nil {
			why += ": " + scrubAll(inner.Error(), append(parsed.passwords(), dsn)...)
		}
		return nil, fmt.Errorf("open store %s: %w: %s", name, ErrUnparsableDSN, why)
	}
	password := cfg.Password
	db := sqlx.NewDb(stdlib.OpenDB(*cfg), "pgx")
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(time.Minute)
	s := &DB{db: rebindDB{db}, d: postgresDialect, name: name}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %s", name, scrub(err, password))
	}
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %s", name, scrub(err, password))
	}
	return s, nil
}

// scrub returns err's text with every occurrence of secret (a password, or a whole DSN) removed:
// drivers may quote what they were given.
func scrub(err error, secret string) string { return scrubAll(err.Error(), secret) }

// scrubAll returns msg with every occurrence of each secret replaced by "xxxxx".
func scrubAll(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}

// Advisory lock keys (pg_advisory_lock's bigint), one per kind. Advisory locks are scoped to one
// database, so two renewald databases on one server do not share them.
const (
	lockKeyMigrate int64 = 0x72656e65_00000001 // "rene" · 1
	lockKeyScan    int64 = 0x72656e65_00000002
	lockKeyQuota   int64 = 0x72656e65_00000003
)

// advisoryLock takes a session-level advisory lock on a connection of its own, waiting for it, and
// returns its release. A process that dies loses the connection and the lock with it.
func (s *DB) advisoryLock(ctx context.Context, key int64) (unlock func(), err error) {
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("advisory lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Close()
		return nil, fmt.Errorf("advisory lock: %w", err)
	}
	return func() { releaseAdvisory(conn, key) }, nil
}

// tryAdvisoryLock takes a session-level advisory lock on a connection of its own, or reports false
// when another session holds it.
func (s *DB) tryAdvisoryLock(ctx context.Context, key int64) (unlock func(), ok bool, err error) {
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("advisory lock: %w", err)
	}
	if err := conn.GetContext(ctx, &ok, `SELECT pg_try_advisory_lock($1)`, key); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("advisory lock: %w", err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return func() { releaseAdvisory(conn, key) }, true, nil
}

// releaseAdvisory unlocks and returns the connection. Should the unlock fail, the connection is
// discarded instead of returned to the pool, which drops the lock with the session.
func releaseAdvisory(conn *sqlx.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	conn.Close()
}
