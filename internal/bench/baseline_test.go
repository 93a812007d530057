package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver the store uses
)

// rawDSN opens a database file with the connection settings store.Open uses (WAL is recorded in
// the file itself), so the baseline writes as the store does.
func rawDSN(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?_busy_timeout=10000&_synchronous=NORMAL&_cache_size=-32768&_txlock=immediate"
}

// rawInsertBaseline inserts rows synthetic rows into a scratch table of the database at path with
// the outbox's columns, unique key and indexes, with one prepared statement in one transaction, and
// drops it: the raw SQLite write rate that the benchmarks compare enqueueing with. It times the
// inserts alone.
func rawInsertBaseline(ctx context.Context, path string, rows int) (time.Duration, error) {
	db, err := sql.Open("sqlite3", rawDSN(path))
	if err != nil {
		return 0, fmt.Errorf("raw baseline: open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_raw (
		id INTEGER PRIMARY KEY, enrollment_id INTEGER NOT NULL, anniversary_on TEXT NOT NULL,
		renewal_year INTEGER NOT NULL, manual_validation TEXT NOT NULL, offset_days INTEGER NOT NULL,
		due_on TEXT NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL, subject TEXT,
		message_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
		UNIQUE (enrollment_id, anniversary_on, recipient, offset_days))`); err != nil {
		return 0, fmt.Errorf("raw baseline: create table: %w", err)
	}
	// The outbox's other indexes too: same shape, same write cost per row.
	if _, err := db.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS bench_raw_ready ON bench_raw (status, created_at)
		WHERE status IN ('pending', 'sending'); CREATE INDEX IF NOT EXISTS bench_raw_due ON bench_raw (due_on)`); err != nil {
		return 0, fmt.Errorf("raw baseline: create indexes: %w", err)
	}
	defer db.ExecContext(ctx, `DROP TABLE bench_raw`)
	start := time.Now()
	if err := rawInserts(ctx, db, rows); err != nil {
		return 0, fmt.Errorf("raw baseline: %w", err)
	}
	return time.Since(start), nil
}

func rawInserts(ctx context.Context, db *sql.DB, rows int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO bench_raw (enrollment_id, anniversary_on, renewal_year,
		manual_validation, offset_days, due_on, recipient, status, subject, message_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := 0; i < rows; i++ {
		if _, err := st.ExecContext(ctx, i/4, "2025-06-01", 2, "audit", -30, fmt.Sprintf("2025-%02d-%02d", 1+i%12, 1+i%28),
			fmt.Sprintf("admin%d@p%d.example", i%4, i/4), "pending", nil,
			fmt.Sprintf("<renewal.%d.20250601.-30.abcdef@example.com>", i), "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"); err != nil {
			return err
		}
	}
	return tx.Commit()
}
