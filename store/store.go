// Package store keeps renewald's state in SQLite through sqlx: migrations, imports, the due-date
// queries of a scan, and every outbox state change. All SQL lives here.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // the SQLite driver
)

//go:embed migrations/*.sql migrations_postgres/*.sql
var migrationFiles embed.FS

// TimeFormat is how instants are stored: RFC 3339 UTC to the second, fixed width so text order is
// time order.
const TimeFormat = "2006-01-02T15:04:05Z"

// DB is an open renewald database.
type DB struct {
	db   rebindDB
	path string
	d    *dialect // nil: SQLite
	name string   // how messages name the database: its path, or a redacted DSN
}

// Open opens (creating it 0600 if needed) the database at path, with WAL, a busy timeout and foreign
// keys on, and applies pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	f.Close()
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_cache_size", "-32768") // 32 MiB of page cache per connection: index inserts stay in memory
	q.Set("_txlock", "immediate")  // writers queue on BEGIN, never fail upgrading a read lock
	db, err := sqlx.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(10 * time.Second) // an idle daemon gives its page caches back
	s := &DB{db: rebindDB{db}, path: path}
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path returns the database file path ("" on PostgreSQL).
func (s *DB) Path() string { return s.path }

// Name is how messages name the database: the SQLite file's path, or the PostgreSQL DSN without
// its password.
func (s *DB) Name() string {
	if s.name != "" {
		return s.name
	}
	return s.path
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	if err := s.db.GetContext(ctx, &one, `SELECT 1`); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok" when healthy).
func (s *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	if err := s.db.GetContext(ctx, &res, `PRAGMA integrity_check`); err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	return res, nil
}

// Migrate applies the embedded migrations not yet recorded in schema_migrations, each in its own
// transaction, and returns the first error.
func (s *DB) Migrate(ctx context.Context) error {
	d := s.dialect()
	if d.engine == Postgres {
		// Two hosts may migrate at once: one does, the other then finds everything applied.
		unlock, err := s.advisoryLock(ctx, lockKeyMigrate)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer unlock()
	}
	if _, err := s.db.ExecContext(ctx, d.migrationsTable); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrationFiles, d.migrationsDir+"/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, d.migrationsDir+"/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %s", base)
		}
		err = s.inTx(ctx, func(tx *rebindTx) error {
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v); err != nil || n > 0 {
				return err
			}
			body, err := migrationFiles.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", base, err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
				VALUES (?, ?, `+d.nowText+`)`, v, base)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.GetContext(ctx, &v, `SELECT coalesce(max(version), 0) FROM schema_migrations`)
	return v, err
}

// inTx runs fn in a transaction (BEGIN IMMEDIATE on SQLite), committing when it returns nil.
func (s *DB) inTx(ctx context.Context, fn func(tx *rebindTx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }
