package store

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"
)

// Engine names a database engine the store runs on.
type Engine string

// The engines. SQLite is the default; PostgreSQL lets several daemons share one database.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// dialect is everything the two engines do differently. The SQL in this package is written once,
// with ? placeholders (rebound to $1, $2… for PostgreSQL by sqlx's Rebind in rebindDB and
// rebindTx), ON CONFLICT upserts (which both engines accept) and TEXT instants and dates; what
// remains is here, so the differences stay small and in one place:
//
//   - the migrations: one set per engine, numbered the same, with the same schema meaning;
//   - the scalar maximum: SQLite's two-argument max(), PostgreSQL's greatest();
//   - row locks: a claim on PostgreSQL selects FOR UPDATE SKIP LOCKED, so two daemons never take
//     the same row; SQLite has one writer at a time (every transaction is BEGIN IMMEDIATE, set in
//     its DSN), so it needs none;
//   - the current instant in SQL (the migration record only; everything else gets the clock's time);
//   - locks between processes: flock files beside a SQLite database, advisory locks on PostgreSQL.
type dialect struct {
	engine        Engine
	migrationsDir string // in migrationFiles
	greatest      string // the scalar maximum of two values
	skipLocked    string // appended to a claim's SELECT
	nowText       string // the current instant as TimeFormat text
	// migrationsTable creates schema_migrations when it does not exist.
	migrationsTable string
}

var sqliteDialect = &dialect{
	engine:        SQLite,
	migrationsDir: "migrations",
	greatest:      "max",
	skipLocked:    "",
	nowText:       `strftime('%Y-%m-%dT%H:%M:%SZ', 'now')`,
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`,
}

var postgresDialect = &dialect{
	engine:        Postgres,
	migrationsDir: "migrations_postgres",
	greatest:      "greatest",
	skipLocked:    " FOR UPDATE SKIP LOCKED",
	nowText:       `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`,
	migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
}

// Engine reports the engine the database runs on.
func (s *DB) Engine() Engine { return s.dialect().engine }

// dialect returns the database's dialect (SQLite when none was set).
func (s *DB) dialect() *dialect {
	if s.d == nil {
		return sqliteDialect
	}
	return s.d
}

// rebindDB is a *sqlx.DB whose queries are written with ? placeholders and rebound to the
// driver's own (a no-op for SQLite, $1, $2… for PostgreSQL) before they run.
type rebindDB struct{ *sqlx.DB }

func (d rebindDB) GetContext(ctx context.Context, dest any, q string, args ...any) error {
	return d.DB.GetContext(ctx, dest, d.Rebind(q), args...)
}

func (d rebindDB) SelectContext(ctx context.Context, dest any, q string, args ...any) error {
	return d.DB.SelectContext(ctx, dest, d.Rebind(q), args...)
}

func (d rebindDB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.Rebind(q), args...)
}

func (d rebindDB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.Rebind(q), args...)
}

func (d rebindDB) QueryxContext(ctx context.Context, q string, args ...any) (*sqlx.Rows, error) {
	return d.DB.QueryxContext(ctx, d.Rebind(q), args...)
}

func (d rebindDB) QueryRowxContext(ctx context.Context, q string, args ...any) *sqlx.Row {
	return d.DB.QueryRowxContext(ctx, d.Rebind(q), args...)
}

func (d rebindDB) PreparexContext(ctx context.Context, q string) (*sqlx.Stmt, error) {
	return d.DB.PreparexContext(ctx, d.Rebind(q))
}

func (d rebindDB) BeginTxx(ctx context.Context, opts *sql.TxOptions) (*rebindTx, error) {
	tx, err := d.DB.BeginTxx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &rebindTx{tx}, nil
}

// rebindTx is a *sqlx.Tx whose queries are rebound like rebindDB's.
type rebindTx struct{ *sqlx.Tx }

func (t *rebindTx) GetContext(ctx context.Context, dest any, q string, args ...any) error {
	return t.Tx.GetContext(ctx, dest, t.Rebind(q), args...)
}

func (t *rebindTx) SelectContext(ctx context.Context, dest any, q string, args ...any) error {
	return t.Tx.SelectContext(ctx, dest, t.Rebind(q), args...)
}

func (t *rebindTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.Rebind(q), args...)
}

func (t *rebindTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.Rebind(q), args...)
}

func (t *rebindTx) QueryxContext(ctx context.Context, q string, args ...any) (*sqlx.Rows, error) {
	return t.Tx.QueryxContext(ctx, t.Rebind(q), args...)
}

func (t *rebindTx) QueryRowxContext(ctx context.Context, q string, args ...any) *sqlx.Row {
	return t.Tx.QueryRowxContext(ctx, t.Rebind(q), args...)
}

func (t *rebindTx) PreparexContext(ctx context.Context, q string) (*sqlx.Stmt, error) {
	return t.Tx.PreparexContext(ctx, t.Rebind(q))
}
