// Package store keeps renewald's state in SQLite through sqlx: migrations, imports, the due-date
// queries of a scan, and every outbox state change. All SQL lives here.
//
// Two types hold it. DB is the database: imports, partners and enrollments, and the daily scan,
// whose writes (Enqueue, EnqueueArrived, EnqueueCovering, MarkScanned) queue outbox rows in the
// transactions that also record the scan's other state (arrivals seen, no_recipients records
// covered, the scanned date). Outbox is the outbox table's API for everything after a row is queued —
// operators' and the status pages' reads and actions, the counts, delivery's claims and marks, the
// quotas and the suppression list — over its DB; it also holds one deliverer's claim tokens, so each
// deliverer has an Outbox of its own, while a reader needs only &Outbox{DB: db}.
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

// ErrNoDatabase is returned by OpenReadOnly when the database file does not exist.
var ErrNoDatabase = errors.New("no database")

// ErrSchemaTooNew is returned for a database migrated by a newer renewald: this one must not write it.
var ErrSchemaTooNew = errors.New("database schema is newer than this renewald")

// Open opens (creating it 0600 if needed) the database at path, with WAL, a busy timeout and foreign
// keys on, and applies pending migrations. An existing file and its -wal and -shm are made 0600; one
// owned by another user is refused (ErrWrongUser), as is one with a newer schema (ErrSchemaTooNew).
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	if _, _, err := checkOwner(path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := tightenPermissions(path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	f.Close()
	s, err := open(path, false)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// OpenReadOnly opens an existing database for reading: ErrNoDatabase when there is none (nothing is
// created), no write lock taken (WAL readers run beside an import), writes refused by SQLite. Only a
// database with an older schema is migrated first (a write, once per upgrade).
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s; run import or migrate first", ErrNoDatabase, path)
	}
	if _, _, err := checkOwner(path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := tightenPermissions(path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s, err := open(path, true)
	if err != nil {
		return nil, err
	}
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	latest, err := latestMigration(sqliteDialect)
	if err != nil {
		s.db.Close()
		return nil, err
	}
	switch {
	case have > latest:
		s.db.Close()
		return nil, schemaTooNew(path, have, latest)
	case have < latest:
		s.db.Close()
		w, err := Open(ctx, path)
		if err != nil {
			return nil, err
		}
		w.db.Close()
		return open(path, true)
	}
	return s, nil
}

// open opens the connection pool; readOnly: no file creation, deferred transactions, query_only.
func open(path string, readOnly bool) (*DB, error) {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_cache_size", "-32768") // 32 MiB of page cache per connection: index inserts stay in memory
	if readOnly {
		q.Set("mode", "rw") // never create the file
		q.Set("_query_only", "true")
	} else {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", "immediate") // writers queue on BEGIN, never fail upgrading a read lock
	}
	db, err := sqlx.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetConnMaxIdleTime(10 * time.Second) // an idle daemon gives its page caches back
	return &DB{db: rebindDB{db}, path: path}, nil
}

// tightenPermissions makes an existing database file and its -wal and -shm readable by their owner
// only.
func tightenPermissions(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o600); err != nil {
				return fmt.Errorf("make %s 0600 (it is %s): %w", p, fi.Mode().Perm(), err)
			}
		}
	}
	return nil
}

func schemaTooNew(path string, have, latest int) error {
	return fmt.Errorf("%w: %s has schema version %d, this renewald knows versions up to %d; run a newer renewald (nothing was written)",
		ErrSchemaTooNew, path, have, latest)
}

// latestMigration returns the highest embedded migration version.
func latestMigration(d *dialect) (int, error) {
	names, err := fs.Glob(migrationFiles, d.migrationsDir+"/*.sql")
	if err != nil {
		return 0, err
	}
	latest := 0
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, d.migrationsDir+"/"), "_", 2)[0])
		if err != nil {
			return 0, fmt.Errorf("bad migration name %s", name)
		}
		latest = max(latest, v)
	}
	return latest, nil
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

// Migrate applies the embedded migrations of the engine not yet recorded in schema_migrations, each
// in its own transaction, and returns the first error. A database already up to date is not written
// (no write lock taken); one with a newer schema is refused (ErrSchemaTooNew). On PostgreSQL it runs
// under an advisory lock: two hosts may migrate at once, one does, the other finds everything applied.
func (s *DB) Migrate(ctx context.Context) error {
	d := s.dialect()
	latest, err := latestMigration(d)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	have, err := s.SchemaVersion(ctx) // before any write
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if have > latest {
		return schemaTooNew(s.Name(), have, latest)
	}
	if have == latest {
		return nil // nothing to do, and no write lock taken
	}
	if d.engine == Postgres {
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

// SchemaVersion returns the highest applied migration (0 for a new database).
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var n int
	exists := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if s.dialect().engine == Postgres {
		exists = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	if err := s.db.GetContext(ctx, &n, exists); err != nil || n == 0 {
		return 0, err
	}
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
