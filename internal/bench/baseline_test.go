package bench

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/renewald/renewald/store"

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

// rawImportBaseline reads the generated users and specializations CSVs into memory, then times
// inserting their rows into a fresh store database (same tables, keys and indexes) with one prepared
// statement per table in one transaction: partners once each, users, their roles, enrollments. No
// validation, no upsert, no staging: the raw write rate an import is compared with.
func rawImportBaseline(ctx context.Context, path, usersCSV, specsCSV string) (time.Duration, error) {
	users, err := readCSV(usersCSV)
	if err != nil {
		return 0, err
	}
	specs, err := readCSV(specsCSV)
	if err != nil {
		return 0, err
	}
	s, err := store.Open(ctx, path) // creates and migrates the schema
	if err != nil {
		return 0, fmt.Errorf("raw import baseline: %w", err)
	}
	s.Close()
	db, err := sql.Open("sqlite3", rawDSN(path)+"&_foreign_keys=1")
	if err != nil {
		return 0, fmt.Errorf("raw import baseline: open %s: %w", path, err)
	}
	defer db.Close()
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		st, e := tx.PrepareContext(ctx, q)
		if e != nil && err == nil {
			err = e
		}
		return st
	}
	partner := prep(`INSERT INTO partners (id, name) VALUES (?, ?)`)
	user := prep(`INSERT INTO users (partner_id, email, name) VALUES (?, ?, ?)`)
	role := prep(`INSERT INTO user_roles (partner_id, email, role, role_key) VALUES (?, ?, ?, ?)`)
	enrollment := prep(`INSERT INTO enrollments (partner_id, specialization, attained_on, anniversary_md, status) VALUES (?, ?, ?, ?, 'active')`)
	if err != nil {
		return 0, fmt.Errorf("raw import baseline: %w", err)
	}
	last := ""
	for _, r := range users {
		if r[0] != last {
			if _, err := partner.ExecContext(ctx, r[0], r[1]); err != nil {
				return 0, fmt.Errorf("raw import baseline: partner: %w", err)
			}
			last = r[0]
		}
		if _, err := user.ExecContext(ctx, r[0], r[2], r[3]); err != nil {
			return 0, fmt.Errorf("raw import baseline: user: %w", err)
		}
		for _, ro := range strings.Split(r[4], ";") {
			if _, err := role.ExecContext(ctx, r[0], r[2], ro, strings.ToLower(ro)); err != nil {
				return 0, fmt.Errorf("raw import baseline: role: %w", err)
			}
		}
	}
	for _, r := range specs {
		if _, err := enrollment.ExecContext(ctx, r[0], r[2], r[3], r[3][5:]); err != nil {
			return 0, fmt.Errorf("raw import baseline: enrollment: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// readCSV reads a CSV file's data rows.
func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows[1:], nil
}
