package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// copyTables lists every table with its columns and key, parents before children: the order a copy
// writes them in and the order a comparison reads them in.
var copyTables = []struct {
	name, columns, key string
}{
	{"partners", "id, name", "id"},
	{"users", "partner_id, email, name", "partner_id, email"},
	{"user_roles", "partner_id, email, role, role_key", "partner_id, email, role_key"},
	{"enrollments", "id, partner_id, specialization, attained_on, anniversary_md, status, arriving", "id"},
	{"capability_scores", "partner_id, designation, enterprise, smb, as_of", "partner_id, designation"},
	{"outbox", "id, enrollment_id, anniversary_on, renewal_year, manual_validation, offset_days, due_on, recipient, " +
		"status, attempts, next_attempt_at, lease_until, last_error, subject, message_id, created_at, updated_at, sent_at, claim_token, " +
		"first_attempt_at", "id"},
	{"scan_state", "id, last_scanned_on, zone, scanned_at", "id"},
	{"renewal_outcomes", "enrollment_id, anniversary_on, outcome, renewed_on, recorded_at", "enrollment_id, anniversary_on"},
	{"suppressions", "address, reply, suppressed_at", "address"},
}

// derivedTables are kept from the rows copied, by the outbox's triggers (migration 0008), by
// refreshAnniversaryCounts (0009) and by the scanner's RefreshRisks (0010, rebuilt after a copy
// since the copy's import generation has no risk list yet): a copy never writes them.
var derivedTables = []string{"outbox_counts", "outbox_count_deltas", "anniversary_counts",
	"renewal_risks", "renewal_risks_state", "import_state"}

// CopyStats counts the rows a copy wrote, per table.
type CopyStats map[string]int

// ErrNotEmpty is returned when the database a copy would write into already holds data.
var ErrNotEmpty = errors.New("the target database is not empty")

// CopyTo copies every row of s (a SQLite database) into dst (an empty PostgreSQL database at the
// same schema version) in one transaction of dst, keeping ids, so the outbox history, Message-IDs
// and scan state carry over; identity sequences then continue after the highest id. The caller keeps
// writers off s meanwhile (the run and scan locks).
func (s *DB) CopyTo(ctx context.Context, dst *DB) (CopyStats, error) {
	if s.Engine() != SQLite || dst.Engine() != Postgres {
		return nil, fmt.Errorf("copy: from SQLite to PostgreSQL only, not %s to %s", s.Engine(), dst.Engine())
	}
	sv, err1 := s.SchemaVersion(ctx)
	dv, err2 := dst.SchemaVersion(ctx)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("copy: schema version: %w", err)
	}
	if sv != dv {
		return nil, fmt.Errorf("copy: schema version %d of %s differs from %d of %s", sv, s.Name(), dv, dst.Name())
	}
	stats := CopyStats{}
	err := dst.inTx(ctx, func(tx *rebindTx) error {
		for _, t := range copyTables {
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM `+t.name); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if n > 0 {
				return fmt.Errorf("%s holds %d rows of table %s: %w", dst.Name(), n, t.name, ErrNotEmpty)
			}
		}
		for _, t := range copyTables {
			n, err := copyTable(ctx, s, tx, t.name, t.columns, t.key)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			stats[t.name] = n
		}
		if err := dst.refreshAnniversaryCounts(ctx, tx); err != nil {
			return err
		}
		// The rows copied, counted as an enqueue counts what it inserts (addCounts).
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_count_deltas (status, d)
			SELECT status, count(*) FROM outbox GROUP BY status`); err != nil {
			return fmt.Errorf("outbox counts: %w", err)
		}
		for _, t := range []string{"enrollments", "outbox"} {
			if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t+`', 'id'),
				coalesce(max(id), 1), max(id) IS NOT NULL) FROM `+t); err != nil {
				return fmt.Errorf("%s: identity: %w", t, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s to %s: %w", s.Name(), dst.Name(), err)
	}
	return stats, nil
}

// copyTable streams one table from src into tx, row by row through one prepared insert.
func copyTable(ctx context.Context, src *DB, tx *rebindTx, table, columns, key string) (int, error) {
	cols := strings.Split(columns, ", ")
	ins, err := tx.PreparexContext(ctx, `INSERT INTO `+table+` (`+columns+`) VALUES (?`+strings.Repeat(", ?", len(cols)-1)+`)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	rows, err := src.db.QueryContext(ctx, `SELECT `+columns+` FROM `+table+` ORDER BY `+key)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	return n, rows.Err()
}

// TableDump returns every row of every table as text, in key order, for comparing two databases
// (the copy's test and check).
func (s *DB) TableDump(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	for _, t := range copyTables {
		cols := strings.Split(t.columns, ", ")
		rows, err := s.db.QueryContext(ctx, `SELECT `+t.columns+` FROM `+t.name+` ORDER BY `+t.key)
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", t.name, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		out[t.name] = []string{}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("dump %s: %w", t.name, err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				switch x := v.(type) {
				case nil:
					parts[i] = "NULL"
				case []byte:
					parts[i] = fmt.Sprintf("%q", x)
				case string:
					parts[i] = fmt.Sprintf("%q", x)
				default:
					parts[i] = fmt.Sprint(x)
				}
			}
			out[t.name] = append(out[t.name], strings.Join(parts, "|"))
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", t.name, err)
		}
		sort.Strings(out[t.name]) // the engines' collations may order text keys differently
	}
	return out, nil
}
