package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// The read-only side of the store used by the status pages (issue 20): the outbox's reads on Outbox,
// the enrollments' and partners' on DB. Every query here reads a bounded slice through an index;
// their plans are pinned in web_test.go.

// Cursor is a position in the outbox list: the last row shown (due date and id).
type Cursor struct {
	DueOn string
	ID    int64
}

// ListAfter returns up to limit rows matching f after the cursor c (none: from the start), by due
// date then id: one page of the status pages' outbox list (keyset pagination through outbox_due or
// outbox_status_due).
func (o *Outbox) ListAfter(ctx context.Context, f Filter, c Cursor, limit int) ([]OutboxRow, error) {
	q, args := listQuery(f, c, limit)
	rows := []OutboxRow{}
	if err := o.DB.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return rows, nil
}

func listQuery(f Filter, c Cursor, limit int) (string, []any) {
	var where []string
	var args []any
	if f.Status != "" {
		where, args = append(where, "o.status = ?"), append(args, f.Status)
	}
	if f.PartnerID != "" {
		where, args = append(where, "e.partner_id = ?"), append(args, f.PartnerID)
	}
	if !f.DueFrom.IsZero() {
		where, args = append(where, "o.due_on >= ?"), append(args, f.DueFrom.String())
	}
	if !f.DueTo.IsZero() {
		where, args = append(where, "o.due_on <= ?"), append(args, f.DueTo.String())
	}
	if c.DueOn != "" {
		where, args = append(where, "(o.due_on > ? OR (o.due_on = ? AND o.id > ?))"), append(args, c.DueOn, c.DueOn, c.ID)
	}
	q := "SELECT " + rowColumns + rowFrom
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY o.due_on, o.id"
	if limit <= 0 {
		return q, args // no limit
	}
	return q + " LIMIT ?", append(args, limit)
}

// RetryError is the latest temporary delivery failure still waiting for its retry.
type RetryError struct {
	ID            int64  `db:"id"`
	LastError     string `db:"last_error"`
	NextAttemptAt string `db:"next_attempt_at"`
	Attempts      int    `db:"attempts"`
}

// LatestRetry returns the pending row with a retry scheduled furthest ahead (the most recent
// temporary failure); ok is false when no row waits for a retry.
func (o *Outbox) LatestRetry(ctx context.Context) (r RetryError, ok bool, err error) {
	err = o.DB.db.GetContext(ctx, &r, `SELECT id, coalesce(last_error, '') AS last_error, next_attempt_at, attempts
		FROM outbox INDEXED BY outbox_ready WHERE status IN ('pending', 'sending') AND status = 'pending'
		AND next_attempt_at IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("latest retry: %w", err)
	}
	return r, true, nil
}

// AnniversaryCount is the number of active enrollments attained on one month-day of one year.
type AnniversaryCount struct {
	MonthDay string `db:"anniversary_md"` // MM-DD
	Year     int    `db:"attained_year"`
	N        int    `db:"n"`
}

// AnniversaryCounts returns the active enrollments counted by attainment month-day and year (a few
// thousand rows at most: 366 month-days × the years attained), from anniversary_counts, which every
// write of enrollments rebuilds (refreshAnniversaryCounts).
func (s *DB) AnniversaryCounts(ctx context.Context) ([]AnniversaryCount, error) {
	var out []AnniversaryCount
	if err := s.db.SelectContext(ctx, &out, anniversaryCountsQuery); err != nil {
		return nil, fmt.Errorf("anniversary counts: %w", err)
	}
	return out, nil
}

const anniversaryCountsQuery = `SELECT anniversary_md, attained_year, n FROM anniversary_counts`

// refreshAnniversaryCounts rebuilds anniversary_counts from the enrollments, in the transaction
// that wrote them (one pass over the enrollments_md_attained index). On PostgreSQL an advisory lock
// held to the end of the transaction keeps two imports from rebuilding it at once.
func (s *DB) refreshAnniversaryCounts(ctx context.Context, tx *rebindTx) error {
	if s.Engine() == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('renewald.anniversary_counts'))`); err != nil {
			return fmt.Errorf("anniversary counts: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM anniversary_counts`); err != nil {
		return fmt.Errorf("anniversary counts: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO anniversary_counts (anniversary_md, attained_year, n)
		SELECT anniversary_md, CAST(substr(attained_on, 1, 4) AS INTEGER), count(*) FROM enrollments
		WHERE status = 'active' GROUP BY anniversary_md, substr(attained_on, 1, 4)`); err != nil {
		return fmt.Errorf("anniversary counts: %w", err)
	}
	return nil
}

// AnniversaryQuery selects the enrollments with a renewal on one anniversary date.
type AnniversaryQuery struct {
	On              renewal.Date
	AfterID         int64    // resume after this enrollment id
	RiskListOnly    bool     // only enrollments on the risk list (risks.go), which must be current
	Specializations []string // only these (canonical names); empty: all
	Limit           int
}

// EnrollmentsOn returns up to q.Limit active enrollments that have an anniversary on q.On, attained
// in an earlier year, in id order after q.AfterID: one slice of the timeline, read from the
// enrollments_due index alone (PartnerName is left empty: PartnerNames gives the names of the rows
// kept, so the walk reads no partner row).
func (s *DB) EnrollmentsOn(ctx context.Context, q AnniversaryQuery) ([]EnrollmentInfo, error) {
	var out []EnrollmentInfo
	for _, md := range renewal.AttainedMonthDays(q.On) {
		query, args := enrollmentsOnQuery(md, q)
		var page []EnrollmentInfo
		if err := s.db.SelectContext(ctx, &page, query, args...); err != nil {
			return nil, fmt.Errorf("enrollments with an anniversary on %s: %w", q.On, err)
		}
		out = append(out, page...)
	}
	if len(out) > q.Limit { // two month-days (28 February): keep id order across both
		sortByID(out)
		out = out[:q.Limit]
	}
	return out, nil
}

func enrollmentsOnQuery(md string, q AnniversaryQuery) (string, []any) {
	query := `SELECT e.id, e.partner_id, e.specialization, e.attained_on, e.status
		FROM enrollments e INDEXED BY enrollments_due
		WHERE e.status = 'active' AND e.anniversary_md = ? AND e.id > ? AND e.attained_on < ?`
	if q.RiskListOnly {
		query = `SELECT e.id, e.partner_id, e.specialization, e.attained_on, e.status` + riskOnly
	}
	args := []any{md, q.AfterID, fmt.Sprintf("%04d-01-01", q.On.Year())}
	if len(q.Specializations) > 0 {
		query += ` AND e.specialization IN (?` + strings.Repeat(", ?", len(q.Specializations)-1) + `)`
		for _, sp := range q.Specializations {
			args = append(args, sp)
		}
	}
	return query + ` ORDER BY e.id LIMIT ?`, append(args, q.Limit)
}

func sortByID(es []EnrollmentInfo) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].ID < es[j-1].ID; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// PartnerNames returns the names of the given partners (unknown ids are left out).
func (s *DB) PartnerNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(`SELECT id, name FROM partners WHERE id IN (?)`, ids)
	if err != nil {
		return nil, fmt.Errorf("partner names: %w", err)
	}
	var rows []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("partner names: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}

// Scores returns the capability scores of the given partners.
func (s *DB) Scores(ctx context.Context, partnerIDs []string) (map[string][]renewal.CapabilityScore, error) {
	set := make(map[string]bool, len(partnerIDs))
	for _, id := range partnerIDs {
		set[id] = true
	}
	return loadScores(ctx, s.db, set)
}

// PartnerInfo is one partner with its users counted (up to a limit) and whether any of them holds a
// recipient role.
type PartnerInfo struct {
	ID            string
	Name          string
	UserCount     int  // its users, counted up to the limit asked for
	MoreUsers     bool // it has more than UserCount users: counting stopped at the limit
	HasRecipients bool // a user holds one of the recipient roles asked for
}

// UserInfo is one user of a partner with the roles as imported.
type UserInfo struct {
	Email string
	Name  string
	Roles []string
}

// Partner returns one partner's name, its users counted up to countUpTo (counting a million users
// takes longer than a page may: issue 25), and whether one of them holds a role whose key is one of
// roleKeys (renewal.RoleKey forms), through the users' and user_roles' keys.
func (s *DB) Partner(ctx context.Context, id string, roleKeys []string, countUpTo int) (PartnerInfo, error) {
	p := PartnerInfo{ID: id}
	err := s.db.GetContext(ctx, &p.Name, `SELECT name FROM partners WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("partner %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("partner %s: %w", id, err)
	}
	if err := s.db.GetContext(ctx, &p.UserCount, partnerUserCountQuery, id, countUpTo+1); err != nil {
		return p, fmt.Errorf("partner %s: count users: %w", id, err)
	}
	if p.UserCount > countUpTo {
		p.UserCount, p.MoreUsers = countUpTo, true
	}
	if len(roleKeys) > 0 {
		q, args, err := sqlx.In(partnerHasRecipientQuery, id, roleKeys)
		if err != nil {
			return p, fmt.Errorf("partner %s: recipients: %w", id, err)
		}
		var n int
		if err := s.db.GetContext(ctx, &n, q, args...); err != nil {
			return p, fmt.Errorf("partner %s: recipients: %w", id, err)
		}
		p.HasRecipients = n > 0
	}
	return p, nil
}

const (
	partnerUserCountQuery    = `SELECT count(*) FROM (SELECT 1 FROM users WHERE partner_id = ? LIMIT ?) c`
	partnerHasRecipientQuery = `SELECT count(*) FROM (SELECT 1 FROM user_roles WHERE partner_id = ? AND role_key IN (?) LIMIT 1) c`
	// One page of a partner's users by address (the users' primary key), with their roles.
	partnerUsersQuery = `SELECT u.email, u.name, r.role FROM
		(SELECT email, name FROM users WHERE partner_id = ? AND email > ? ORDER BY email LIMIT ?) u
		LEFT JOIN user_roles r ON r.partner_id = ? AND r.email = u.email ORDER BY u.email, r.role`
)

// PartnerUsers returns up to limit users of a partner after the address after ("": from the
// first), in address order, with their roles: one page of the partner's page.
func (s *DB) PartnerUsers(ctx context.Context, id, after string, limit int) ([]UserInfo, error) {
	var rows []struct {
		Email string         `db:"email"`
		Name  string         `db:"name"`
		Role  sql.NullString `db:"role"`
	}
	if err := s.db.SelectContext(ctx, &rows, partnerUsersQuery, id, after, limit, id); err != nil {
		return nil, fmt.Errorf("partner %s users: %w", id, err)
	}
	users := []UserInfo{}
	for _, r := range rows {
		if n := len(users); n == 0 || users[n-1].Email != r.Email {
			users = append(users, UserInfo{Email: r.Email, Name: r.Name})
		}
		if r.Role.Valid {
			u := &users[len(users)-1]
			u.Roles = append(u.Roles, r.Role.String)
		}
	}
	return users, nil
}
