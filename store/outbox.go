package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/renewald/renewald/internal/lease"
	"github.com/renewald/renewald/renewal"
)

// Status is the state of an outbox row (DESIGN.md §3); its text is what `outbox list --json` shows.
type Status = string

// Outbox statuses (DESIGN.md §3).
const (
	StatusPending      Status = "pending"
	StatusSending      Status = "sending"
	StatusSent         Status = "sent"
	StatusFailed       Status = "failed"
	StatusSkipped      Status = "skipped"
	StatusSuperseded   Status = "superseded"
	StatusCancelled    Status = "cancelled"
	StatusNoRecipients Status = "no_recipients"
	StatusExpired      Status = "expired"    // the renewal's grace period ended before the row could be sent (R13)
	StatusSuppressed   Status = "suppressed" // its address is on the suppression list: not sent
)

// Statuses lists every outbox status.
var Statuses = []Status{StatusPending, StatusSending, StatusSent, StatusFailed, StatusSkipped,
	StatusSuperseded, StatusCancelled, StatusNoRecipients, StatusExpired, StatusSuppressed}

// ErrNotFound is returned for an outbox id that does not exist.
var ErrNotFound = errors.New("not found")

// ErrWrongState is returned when an operator action does not apply to the row's status.
var ErrWrongState = errors.New("not allowed in this state")

// OutboxRow is one outbox row as operators see it (the `outbox list --json` contract).
type OutboxRow struct {
	ID               int64   `db:"id" json:"id"`
	PartnerID        string  `db:"partner_id" json:"partner_id"`
	PartnerName      string  `db:"partner_name" json:"partner_name"`
	Specialization   string  `db:"specialization" json:"specialization"`
	AttainedOn       string  `db:"attained_on" json:"attained_on"`
	AnniversaryOn    string  `db:"anniversary_on" json:"anniversary_on"`
	RenewalYear      int     `db:"renewal_year" json:"renewal_year"`
	ManualValidation string  `db:"manual_validation" json:"manual_validation"`
	OffsetDays       int     `db:"offset_days" json:"offset_days"`
	DueOn            string  `db:"due_on" json:"due_on"`
	Recipient        *string `db:"recipient" json:"recipient"`
	Status           Status  `db:"status" json:"status"`
	Attempts         int     `db:"attempts" json:"attempts"`
	NextAttemptAt    *string `db:"next_attempt_at" json:"next_attempt_at"`
	LastError        *string `db:"last_error" json:"last_error"`
	Subject          *string `db:"subject" json:"subject"`
	MessageID        string  `db:"message_id" json:"message_id"`
	CreatedAt        string  `db:"created_at" json:"created_at"`
	SentAt           *string `db:"sent_at" json:"sent_at"`
	EnrollmentID     int64   `db:"enrollment_id" json:"enrollment_id"`
	LeaseUntil       *string `db:"lease_until" json:"lease_until"`
	UpdatedAt        string  `db:"updated_at" json:"updated_at"`
}

const rowColumns = `o.id, e.partner_id, p.name AS partner_name, e.specialization, e.attained_on, o.anniversary_on,
	o.renewal_year, o.manual_validation, o.offset_days, o.due_on, nullif(o.recipient, '') AS recipient, o.status,
	o.attempts, o.next_attempt_at, o.last_error, o.subject, o.message_id, o.created_at, o.sent_at,
	o.enrollment_id, o.lease_until, o.updated_at`

const rowFrom = ` FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id JOIN partners p ON p.id = e.partner_id`

// Filter selects outbox rows; zero fields do not filter.
type Filter struct {
	Status    string
	PartnerID string
	DueFrom   renewal.Date
	DueTo     renewal.Date
	Limit     int
}

// List returns the rows matching f, by due date then id (at most f.Limit when it is set).
func (o *Outbox) List(ctx context.Context, f Filter) ([]OutboxRow, error) {
	q, args := listQuery(f, Cursor{}, f.Limit)
	rows := []OutboxRow{}
	if err := o.DB.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return rows, nil
}

// Get returns one outbox row.
func (o *Outbox) Get(ctx context.Context, id int64) (OutboxRow, error) {
	var r OutboxRow
	err := o.DB.db.GetContext(ctx, &r, "SELECT "+rowColumns+rowFrom+" WHERE o.id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("outbox row %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("outbox row %d: %w", id, err)
	}
	return r, nil
}

// CountByStatus returns the number of outbox rows in each status (every status present, zero or
// not), from the counts the outbox's triggers keep (migration 0008): one read of ten rows, however
// large the outbox has grown.
func (o *Outbox) CountByStatus(ctx context.Context) (map[string]int, error) {
	q := outboxCountsQuery
	if o.DB.Engine() == Postgres { // the counts as last recounted, plus the changes since (RecountOutbox)
		q = `SELECT c.status, c.n + coalesce(d.d, 0) AS n FROM outbox_counts c
			LEFT JOIN (SELECT status, sum(d) AS d FROM outbox_count_deltas GROUP BY status) d ON d.status = c.status`
	}
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := o.DB.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("count outbox rows by status: %w", err)
	}
	out := make(map[string]int, len(Statuses))
	for _, st := range Statuses {
		out[st] = 0
	}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

const outboxCountsQuery = `SELECT status, n FROM outbox_counts`

// addCounts adds the outbox rows an enqueue inserted, by status, to the counts (migration 0011: inserts
// are counted here, once per transaction, not by a trigger per row; deletes and status changes are
// counted by the triggers).
func (s *DB) addCounts(ctx context.Context, tx *rebindTx, inserted map[Status]int) error {
	q := `UPDATE outbox_counts SET n = n + ? WHERE status = ?`
	if s.Engine() == Postgres {
		q = `INSERT INTO outbox_count_deltas (d, status) VALUES (?, ?)`
	}
	for st, n := range inserted {
		if n == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, q, n, st); err != nil {
			return fmt.Errorf("count %d inserted %s rows: %w", n, st, err)
		}
	}
	return nil
}

// RecountOutbox sets the outbox counts to a count of the table and drops the changes recorded since
// the last recount (PostgreSQL's deltas), so counts that drifted (rows queued by a daemon still on a
// release before migration 0011, which counted nothing) are right again. The daily scan calls it.
// SQLite counts inside its one writer's transaction; PostgreSQL counts and deletes the deltas from
// one repeatable-read snapshot, so the deltas committed after it stay and still add up.
func (s *DB) RecountOutbox(ctx context.Context) error {
	var opts *sql.TxOptions
	if s.Engine() == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead}
	}
	tx, err := s.db.BeginTxx(ctx, opts)
	if err != nil {
		return fmt.Errorf("recount the outbox: %w", err)
	}
	defer tx.Rollback()
	if s.Engine() == Postgres {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox_count_deltas`); err != nil {
			return fmt.Errorf("recount the outbox: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox_counts SET n = (SELECT count(*) FROM outbox
		WHERE outbox.status = outbox_counts.status)`); err != nil {
		return fmt.Errorf("recount the outbox: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recount the outbox: %w", err)
	}
	return nil
}

// OldestWaiting returns since when the longest-waiting unsent row (pending or sending) has been
// claimable: its first claim, else when it was queued, but not before its due date (a row queued
// ahead by a backfill waits from its due date, taken at midnight UTC). ok is false when none waits.
func (o *Outbox) OldestWaiting(ctx context.Context) (since time.Time, ok bool, err error) {
	var v sql.NullString
	if err := o.DB.db.GetContext(ctx, &v, `SELECT min(coalesce(first_attempt_at,
			CASE WHEN created_at > due_on || 'T00:00:00Z' THEN created_at ELSE due_on || 'T00:00:00Z' END))
		FROM outbox WHERE status IN ('pending', 'sending')`); err != nil {
		return since, false, fmt.Errorf("oldest waiting: %w", err)
	}
	if !v.Valid {
		return since, false, nil
	}
	since, err = time.Parse(TimeFormat, v.String)
	if err != nil {
		return since, false, fmt.Errorf("oldest waiting: %w", err)
	}
	return since, true, nil
}

// Retry puts a failed, cancelled or suppressed row back to pending with a fresh attempt budget (a row
// to an address still suppressed ends suppressed again at its claim).
func (o *Outbox) Retry(ctx context.Context, id int64, now time.Time) error {
	return o.changeStatus(ctx, id, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL,
		first_attempt_at = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND status IN ('failed', 'cancelled', 'suppressed')`,
		"failed, cancelled or suppressed", now)
}

// RetryFailed puts every failed row back to pending and returns how many.
func (o *Outbox) RetryFailed(ctx context.Context, now time.Time) (int, error) {
	r, err := o.DB.db.ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL,
		first_attempt_at = NULL, lease_until = NULL, updated_at = ? WHERE status = 'failed'`, formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("retry failed: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}

// Cancel cancels a pending or failed row.
func (o *Outbox) Cancel(ctx context.Context, id int64, now time.Time) error {
	return o.changeStatus(ctx, id, `UPDATE outbox SET status = 'cancelled', last_error = 'cancelled by operator',
		next_attempt_at = NULL, updated_at = ? WHERE id = ? AND status IN ('pending', 'failed', 'no_recipients')`,
		"pending, failed or no_recipients", now)
}

func (o *Outbox) changeStatus(ctx context.Context, id int64, q, allowed string, now time.Time) error {
	r, err := o.DB.db.ExecContext(ctx, q, formatTime(now), id)
	if err != nil {
		return fmt.Errorf("outbox row %d: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return nil
	}
	row, err := o.Get(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("outbox row %d is %s, want %s: %w", id, row.Status, allowed, ErrWrongState)
}

// Outbox is the outbox table's API (see the package doc): the reads and operator actions on queued
// rows, and delivery — claims with a lease, and marks under the claim's token. It carries the
// recipient roles and lease length so delivery needs no store types; reads and operator actions need
// neither, only DB.
type Outbox struct {
	DB       *DB
	RoleKeys []string      // renewal.RoleKey forms of the recipient roles (claims only)
	Lease    time.Duration // how long a claim holds before it may be claimed again (claims only)

	// Digest makes Claim take the rows due to one recipient on one day together (mail.digest).
	Digest bool

	mu     sync.Mutex
	stmts  map[string]*sqlx.Stmt // marks, prepared once: they run once per message
	claims map[int64]string      // outbox id → the token of this Outbox's claim on it (claim.go)
}

type claimRow struct {
	ID               int64          `db:"id"`
	EnrollmentID     int64          `db:"enrollment_id"`
	EnrollmentStatus string         `db:"enrollment_status"`
	PartnerID        string         `db:"partner_id"`
	PartnerName      string         `db:"partner_name"`
	Specialization   string         `db:"specialization"`
	AttainedOn       string         `db:"attained_on"`
	AnniversaryOn    string         `db:"anniversary_on"`
	RenewalYear      int            `db:"renewal_year"`
	ManualValidation string         `db:"manual_validation"`
	OffsetDays       int            `db:"offset_days"`
	DueOn            string         `db:"due_on"`
	Recipient        string         `db:"recipient"`
	RecipientName    sql.NullString `db:"recipient_name"`
	HoldsRole        bool           `db:"holds_role"`
	RenewedOn        sql.NullString `db:"renewed_on"`
	SuppressedReply  sql.NullString `db:"suppressed_reply"`
	SuppressedAt     sql.NullString `db:"suppressed_at"`
	MessageID        string         `db:"message_id"`
	Attempts         int            `db:"attempts"`
	FirstAttemptAt   sql.NullString `db:"first_attempt_at"`
}

// Claim takes up to limit rows that are due for delivery on today (in the configured zone) — pending
// and past next_attempt_at, or sending with an expired lease (a crashed delivery) — in one
// transaction. No row is claimed before its due date (R13). Rows whose renewal's grace period ended
// before today are not sent: they become expired and are counted (R13). Each claimable row is
// re-checked first: a row whose enrollment was removed, or whose recipient no longer holds a recipient
// role, is cancelled instead (R1, R8). The rest become sending with a lease and one more attempt.
// expiry is R13 on today (renewal.Rules.ExpiryOn). The reminders carry the stored facts only: their
// window and grace dates are the caller's to work out (renewal.Rules.Complete).
func (o *Outbox) Claim(ctx context.Context, now time.Time, today renewal.Date, limit int, expiry renewal.Expiry) (claimed []renewal.Reminder, cancelled, expired int, err error) {
	ts := formatTime(now)
	token, err := newClaimToken()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("claim outbox: %w", err)
	}
	var out []renewal.Reminder
	err = o.DB.inTx(ctx, func(tx *rebindTx) error {
		n, err := expireStale(ctx, tx, o.DB.dialect().skipLocked, ts, expiry)
		if err != nil {
			return err
		}
		expired = n
		var ids []int64
		const claimable = `((status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?))
			    OR (status = 'sending' AND lease_until <= ?)) AND due_on <= ?`
		q, args := `SELECT id FROM outbox WHERE `+claimable+` ORDER BY due_on, id LIMIT ?`+o.DB.dialect().skipLocked, []any{ts, ts, today.String(), limit}
		if o.Digest {
			// Whole digests: limit counts (recipient, due date) groups, each claimed with all its rows.
			q = `SELECT id FROM outbox WHERE ` + claimable + ` AND (recipient, due_on) IN (
				SELECT recipient, due_on FROM outbox WHERE ` + claimable + `
				GROUP BY recipient, due_on ORDER BY min(due_on), min(id) LIMIT ?) ORDER BY due_on, recipient, id` + o.DB.dialect().skipLocked
			args = []any{ts, ts, today.String(), ts, ts, today.String(), limit}
		}
		if err := tx.SelectContext(ctx, &ids, q, args...); err != nil {
			return fmt.Errorf("select due: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err := loadClaimRows(ctx, tx, ids, o.RoleKeys)
		if err != nil {
			return err
		}
		later, err := laterDue(ctx, tx, ids, today)
		if err != nil {
			return err
		}
		cancel, err := tx.PreparexContext(ctx, `UPDATE outbox SET status = ?, last_error = ?,
			lease_until = NULL, claim_token = NULL, updated_at = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer cancel.Close()
		claim, err := tx.PreparexContext(ctx, `UPDATE outbox SET status = 'sending', lease_until = ?,
			attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, ?), claim_token = ?, updated_at = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer claim.Close()
		lease := formatTime(now.Add(o.Lease))
		partners := map[string]bool{}
		for _, r := range rows {
			reason, status := "", StatusCancelled
			switch {
			case r.EnrollmentStatus != string(renewal.StatusActive):
				reason = "enrollment removed"
			case !r.HoldsRole:
				reason = "recipient no longer holds a recipient role"
			case r.RenewedOn.Valid:
				on, err := renewal.ParseDate(r.RenewedOn.String)
				if err != nil {
					return fmt.Errorf("outbox row %d: renewed on: %w", r.ID, err)
				}
				reason = renewal.RenewedReason(on)
			case r.SuppressedReply.Valid:
				reason, status = SuppressedReason(r.SuppressedReply.String, r.SuppressedAt.String), StatusSuppressed
			case later[r.ID]:
				reason, status = SupersededReason, StatusSuperseded
			}
			if reason != "" {
				if _, err := cancel.ExecContext(ctx, status, reason, ts, r.ID); err != nil {
					return fmt.Errorf("cancel %d: %w", r.ID, err)
				}
				cancelled++
				continue
			}
			if _, err := claim.ExecContext(ctx, lease, ts, token, ts, r.ID); err != nil {
				return fmt.Errorf("claim %d: %w", r.ID, err)
			}
			rem, err := r.reminder()
			if err != nil {
				return err
			}
			if rem.FirstAttemptAt.IsZero() {
				rem.FirstAttemptAt = now // this claim is the first attempt
			}
			out = append(out, rem)
			partners[r.PartnerID] = true
		}
		scores, err := loadScores(ctx, tx, partners)
		if err != nil {
			return err
		}
		for i := range out {
			out[i].Scores = scores[out[i].PartnerID]
		}
		return loadPeople(ctx, tx, out, o.RoleKeys)
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("claim outbox: %w", err)
	}
	o.hold(out, token)
	return out, cancelled, expired, nil
}

// SupersededReason is the last_error of a waiting reminder that a later one replaced at delivery
// (R11): the later one fell due while this one still waited.
const SupersededReason = "a later reminder of this anniversary fell due while this one waited"

// laterDue returns which of the rows ids have a later reminder of the same anniversary to the same
// recipient that is due on today and waiting, being sent or sent (R11: it replaces them).
func laterDue(ctx context.Context, tx *rebindTx, ids []int64, today renewal.Date) (map[int64]bool, error) {
	q, args, err := sqlx.In(`SELECT o.id FROM outbox o WHERE o.id IN (?) AND EXISTS (SELECT 1 FROM outbox l
		WHERE l.enrollment_id = o.enrollment_id AND l.anniversary_on = o.anniversary_on AND l.recipient = o.recipient
		AND l.offset_days > o.offset_days AND l.due_on <= ? AND l.status IN ('pending', 'sending', 'sent'))`, ids, today.String())
	if err != nil {
		return nil, fmt.Errorf("later reminders: %w", err)
	}
	var later []int64
	if err := tx.SelectContext(ctx, &later, q, args...); err != nil {
		return nil, fmt.Errorf("later reminders: %w", err)
	}
	out := make(map[int64]bool, len(later))
	for _, id := range later {
		out[id] = true
	}
	return out, nil
}

// expireStale marks expired every row still waiting to be sent (pending, or sending with a lapsed
// lease) whose renewal's grace period ended before the day of expiry (R13), and returns how many.
func expireStale(ctx context.Context, tx *rebindTx, skipLocked, ts string, expiry renewal.Expiry) (int, error) {
	var stale []struct {
		ID            int64  `db:"id"`
		AnniversaryOn string `db:"anniversary_on"`
	}
	if err := tx.SelectContext(ctx, &stale, `SELECT id, anniversary_on FROM outbox
		WHERE (status = 'pending' OR (status = 'sending' AND lease_until <= ?)) AND anniversary_on < ?`+skipLocked,
		ts, expiry.OpenFrom.String()); err != nil {
		return 0, fmt.Errorf("select stale: %w", err)
	}
	for _, r := range stale {
		ann, err := renewal.ParseDate(r.AnniversaryOn)
		if err != nil {
			return 0, fmt.Errorf("outbox row %d: %w", r.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'expired', last_error = ?, lease_until = NULL,
			next_attempt_at = NULL, claim_token = NULL, updated_at = ? WHERE id = ?`, expiry.Reason(ann), ts, r.ID); err != nil {
			return 0, fmt.Errorf("expire %d: %w", r.ID, err)
		}
	}
	return len(stale), nil
}

// prepared returns the statement for q, preparing it on first use.
func (o *Outbox) prepared(ctx context.Context, q string) (*sqlx.Stmt, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if st, ok := o.stmts[q]; ok {
		return st, nil
	}
	st, err := o.DB.db.PreparexContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if o.stmts == nil {
		o.stmts = map[string]*sqlx.Stmt{}
	}
	o.stmts[q] = st
	return st, nil
}

// loadClaimRows reads the rows ids with what delivery and its re-check need.
func loadClaimRows(ctx context.Context, q sqlx.QueryerContext, ids []int64, roleKeys []string) ([]claimRow, error) {
	query, args, err := sqlx.In(`SELECT o.id, o.enrollment_id, e.status AS enrollment_status, e.partner_id,
		p.name AS partner_name, e.specialization, e.attained_on, o.anniversary_on, o.renewal_year,
		o.manual_validation, o.offset_days, o.due_on, o.recipient, u.name AS recipient_name,
		EXISTS (SELECT 1 FROM user_roles r WHERE r.partner_id = e.partner_id AND r.email = o.recipient
			AND r.role_key IN (?)) AS holds_role,
		(SELECT ro.renewed_on FROM renewal_outcomes ro WHERE ro.enrollment_id = o.enrollment_id
			AND ro.anniversary_on = o.anniversary_on) AS renewed_on,
		(SELECT sp.reply FROM suppressions sp WHERE sp.address = o.recipient) AS suppressed_reply,
		(SELECT sp.suppressed_at FROM suppressions sp WHERE sp.address = o.recipient) AS suppressed_at,
		o.message_id, o.attempts, o.first_attempt_at
		FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id JOIN partners p ON p.id = e.partner_id
		LEFT JOIN users u ON u.partner_id = e.partner_id AND u.email = o.recipient
		WHERE o.id IN (?) ORDER BY o.due_on, o.id`, roleKeys, ids)
	if err != nil {
		return nil, err
	}
	var rows []claimRow
	if err := sqlx.SelectContext(ctx, q, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("load outbox rows: %w", err)
	}
	return rows, nil
}

// Reminder loads one row as a reminder, without claiming it (preview). Its Attempts are those so far.
// Like Claim's, it carries the stored facts only (renewal.Rules.Complete adds the window dates).
func (o *Outbox) Reminder(ctx context.Context, id int64) (renewal.Reminder, error) {
	rems, err := o.reminders(ctx, []int64{id})
	if err != nil {
		return renewal.Reminder{}, err
	}
	if len(rems) == 0 {
		return renewal.Reminder{}, fmt.Errorf("outbox row %d: %w", id, ErrNotFound)
	}
	return rems[0], nil
}

// reminders loads rows ids as reminders without claiming them, in one read of the rows and one of
// their partners' scores; Attempts are those so far.
func (o *Outbox) reminders(ctx context.Context, ids []int64) ([]renewal.Reminder, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := loadClaimRows(ctx, o.DB.db, ids, o.RoleKeys)
	if err != nil {
		return nil, err
	}
	out := make([]renewal.Reminder, 0, len(rows))
	partners := map[string]bool{}
	for _, r := range rows {
		rem, err := r.reminder()
		if err != nil {
			return nil, err
		}
		rem.Attempts--
		out = append(out, rem)
		partners[rem.PartnerID] = true
	}
	scores, err := loadScores(ctx, o.DB.db, partners)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Scores = scores[out[i].PartnerID]
	}
	if err := loadPeople(ctx, o.DB.db, out, o.RoleKeys); err != nil {
		return nil, err
	}
	return out, nil
}

// loadPeople adds to each reminder the recipient roles its recipient holds and the others at the
// partner the same reminder goes to (its rows of the same enrollment, anniversary and offset that are
// waiting or sent), which the email's footer names (issue 26).
func loadPeople(ctx context.Context, q sqlx.QueryerContext, rems []renewal.Reminder, roleKeys []string) error {
	if len(rems) == 0 {
		return nil
	}
	ids := make([]int64, len(rems))
	at := make(map[int64]int, len(rems))
	for i, r := range rems {
		ids[i], at[r.OutboxID] = r.OutboxID, i
	}
	if len(roleKeys) > 0 {
		query, args, err := sqlx.In(`SELECT o.id, r.role FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id
			JOIN user_roles r ON r.partner_id = e.partner_id AND r.email = o.recipient
			WHERE o.id IN (?) AND r.role_key IN (?) ORDER BY o.id, r.role_key`, ids, roleKeys)
		if err != nil {
			return err
		}
		var roles []struct {
			ID   int64  `db:"id"`
			Role string `db:"role"`
		}
		if err := sqlx.SelectContext(ctx, q, &roles, query, args...); err != nil {
			return fmt.Errorf("load recipient roles: %w", err)
		}
		for _, r := range roles {
			rem := &rems[at[r.ID]]
			rem.RecipientRoles = append(rem.RecipientRoles, r.Role)
		}
	}
	query, args, err := sqlx.In(`SELECT o.id, p.recipient, coalesce(u.name, '') AS name FROM outbox o
		JOIN outbox p ON p.enrollment_id = o.enrollment_id AND p.anniversary_on = o.anniversary_on
			AND p.offset_days = o.offset_days AND p.recipient <> o.recipient
		JOIN enrollments e ON e.id = o.enrollment_id
		LEFT JOIN users u ON u.partner_id = e.partner_id AND u.email = p.recipient
		WHERE o.id IN (?) AND p.status IN ('pending', 'sending', 'sent') ORDER BY o.id, p.recipient`, ids)
	if err != nil {
		return err
	}
	var others []struct {
		ID        int64  `db:"id"`
		Recipient string `db:"recipient"`
		Name      string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, q, &others, query, args...); err != nil {
		return fmt.Errorf("load co-recipients: %w", err)
	}
	for _, o := range others {
		rem := &rems[at[o.ID]]
		rem.CoRecipients = append(rem.CoRecipients, renewal.User{Email: o.Recipient, Name: o.Name})
	}
	return nil
}

// DigestGroup returns the reminders a row would go out with when digests are on: the rows to the same
// recipient due the same day that are still waiting (pending or sending), the row itself included, in
// id order. Their Attempts are those so far; they carry the stored facts only, as Reminder's do.
func (o *Outbox) DigestGroup(ctx context.Context, id int64) ([]renewal.Reminder, error) {
	var ids []int64
	if err := o.DB.db.SelectContext(ctx, &ids, `SELECT p.id FROM outbox o JOIN outbox p ON p.recipient = o.recipient
		AND p.due_on = o.due_on WHERE o.id = ? AND (p.id = o.id OR p.status IN ('pending', 'sending')) ORDER BY p.id`, id); err != nil {
		return nil, fmt.Errorf("digest of outbox row %d: %w", id, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("outbox row %d: %w", id, ErrNotFound)
	}
	return o.reminders(ctx, ids)
}

// SentTogether returns the reminders of the rows sent under messageID (one, or every row of a
// digest), in id order, with the stored facts only, as Reminder's.
func (o *Outbox) SentTogether(ctx context.Context, messageID string) ([]renewal.Reminder, error) {
	var ids []int64
	if err := o.DB.db.SelectContext(ctx, &ids, `SELECT id FROM outbox WHERE message_id = ? AND status = 'sent' ORDER BY id`, messageID); err != nil {
		return nil, fmt.Errorf("rows sent as %s: %w", messageID, err)
	}
	return o.reminders(ctx, ids)
}

// reminder returns the row's stored facts as a reminder: its renewal has the anniversary, renewal
// year and manual validation, not the window dates, which follow from the rules (renewal.Rules.Complete).
func (r claimRow) reminder() (renewal.Reminder, error) {
	attained, err1 := renewal.ParseDate(r.AttainedOn)
	ann, err2 := renewal.ParseDate(r.AnniversaryOn)
	due, err3 := renewal.ParseDate(r.DueOn)
	var first time.Time
	var err4 error
	if r.FirstAttemptAt.Valid {
		first, err4 = time.Parse(TimeFormat, r.FirstAttemptAt.String)
	}
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return renewal.Reminder{}, fmt.Errorf("outbox row %d: %w", r.ID, err)
	}
	return renewal.Reminder{
		OutboxID:       r.ID,
		PartnerID:      r.PartnerID,
		PartnerName:    r.PartnerName,
		Specialization: r.Specialization,
		AttainedOn:     attained,
		Milestone: renewal.Milestone{
			Renewal: renewal.Renewal{Anniversary: ann, Year: r.RenewalYear, ManualValidation: renewal.Validation(r.ManualValidation)},
			Offset:  r.OffsetDays,
			DueOn:   due,
		},
		Recipient:      r.Recipient,
		RecipientName:  r.RecipientName.String,
		MessageID:      r.MessageID,
		Attempts:       r.Attempts + 1,
		FirstAttemptAt: first,
	}, nil
}

// loadScores reads the capability scores of the given partners.
func loadScores(ctx context.Context, q sqlx.QueryerContext, partners map[string]bool) (map[string][]renewal.CapabilityScore, error) {
	out := map[string][]renewal.CapabilityScore{}
	if len(partners) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(partners))
	for id := range partners {
		ids = append(ids, id)
	}
	query, args, err := sqlx.In(`SELECT partner_id, designation, enterprise, smb, as_of FROM capability_scores
		WHERE partner_id IN (?) ORDER BY partner_id, designation`, ids)
	if err != nil {
		return nil, err
	}
	// Scanned by hand, not through sqlx's reflection: a status page judges thousands of partners.
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("load scores: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var partner string
		var ent, smb, asOf sql.NullString
		sc := renewal.CapabilityScore{}
		if err := rows.Scan(&partner, &sc.Designation, &ent, &smb, &asOf); err != nil {
			return nil, fmt.Errorf("load scores: %w", err)
		}
		if asOf.Valid { // NULL: imported before the day was recorded; the zero date counts as stale
			d, err := renewal.ParseDate(asOf.String)
			if err != nil {
				return nil, fmt.Errorf("scores of %s: as_of: %w", partner, err)
			}
			sc.AsOf = d
		}
		for _, f := range []struct {
			src sql.NullString
			dst *map[string]int
		}{{ent, &sc.Enterprise}, {smb, &sc.SMB}} {
			if f.src.Valid {
				m, err := decodeMetrics(f.src.String)
				if err != nil {
					return nil, fmt.Errorf("scores of %s: %w", partner, err)
				}
				*f.dst = m
			}
		}
		out[partner] = append(out[partner], sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load scores: %w", err)
	}
	return out, nil
}

// MarkSent records a delivered message.
func (o *Outbox) MarkSent(ctx context.Context, id int64, now time.Time, subject string) error {
	ts := formatTime(now)
	return o.mark(ctx, id, `UPDATE outbox SET status = 'sent', sent_at = ?, subject = ?, last_error = NULL,
		lease_until = NULL, next_attempt_at = NULL, claim_token = NULL, updated_at = ?`+markWhere,
		ts, nullString(subject), ts)
}

// Renew extends the lease of claimed rows still waiting in a batch to now plus the lease, so that a
// batch that takes longer than one lease is not claimed again by another delivery while it runs. It
// returns the rows no longer under this Outbox's claim (another delivery took them after a lapse).
func (o *Outbox) Renew(ctx context.Context, ids []int64, now time.Time) (lost []int64, err error) {
	if len(ids) == 0 {
		return nil, nil
	}
	st, err := o.prepared(ctx, `UPDATE outbox SET lease_until = ?, updated_at = ?`+markWhere)
	if err != nil {
		return nil, fmt.Errorf("renew lease: %w", err)
	}
	lease, ts := formatTime(now.Add(o.Lease)), formatTime(now)
	for _, id := range ids {
		r, err := st.ExecContext(ctx, lease, ts, id, o.token(id))
		if err != nil {
			return lost, fmt.Errorf("renew lease of outbox row %d: %w", id, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			o.release(id) // another delivery holds it now
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// MarkDigestSent records the rows of one digest as sent, in one transaction, each with the digest's
// subject and Message-ID, each under this Outbox's claim. A row no longer claimed is left alone
// (ErrLeaseLost once the others are marked); when the transaction fails nothing is marked and the
// claims stay, so the mark can be tried again.
func (o *Outbox) MarkDigestSent(ctx context.Context, ids []int64, now time.Time, subject, messageID string) error {
	ts := formatTime(now)
	lost := 0
	err := o.DB.inTx(ctx, func(tx *rebindTx) error {
		st, err := tx.PreparexContext(ctx, `UPDATE outbox SET status = 'sent', sent_at = ?, subject = ?, message_id = ?,
			last_error = NULL, lease_until = NULL, next_attempt_at = NULL, claim_token = NULL, updated_at = ?`+markWhere)
		if err != nil {
			return err
		}
		defer st.Close()
		lost = 0
		for _, id := range ids {
			r, err := st.ExecContext(ctx, ts, nullString(subject), messageID, ts, id, o.token(id))
			if err != nil {
				return fmt.Errorf("outbox row %d: %w", id, err)
			}
			if n, _ := r.RowsAffected(); n == 0 {
				lost++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark digest %s: %w", messageID, err)
	}
	for _, id := range ids {
		o.release(id)
	}
	if lost > 0 {
		return fmt.Errorf("mark digest %s: %d of %d rows: %w", messageID, lost, len(ids), ErrLeaseLost)
	}
	return nil
}

// MarkRetry returns a row to pending after a temporary failure, to be tried again at next.
func (o *Outbox) MarkRetry(ctx context.Context, id int64, now, next time.Time, reason string) error {
	return o.mark(ctx, id, `UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?,
		lease_until = NULL, claim_token = NULL, updated_at = ?`+markWhere,
		formatTime(next), reason, formatTime(now))
}

// MarkExpired records that a claimed row was not sent because its renewal's grace period had ended
// by the time it came to be sent (R13).
func (o *Outbox) MarkExpired(ctx context.Context, id int64, now time.Time, reason string) error {
	return o.mark(ctx, id, `UPDATE outbox SET status = 'expired', last_error = ?, lease_until = NULL,
		next_attempt_at = NULL, claim_token = NULL, updated_at = ?`+markWhere, reason, formatTime(now))
}

// MarkFailed records a permanent failure (or the last allowed attempt failing).
func (o *Outbox) MarkFailed(ctx context.Context, id int64, now time.Time, reason string) error {
	return o.mark(ctx, id, `UPDATE outbox SET status = 'failed', last_error = ?, lease_until = NULL,
		next_attempt_at = NULL, claim_token = NULL, updated_at = ?`+markWhere, reason, formatTime(now))
}

// ErrLeaseLost is returned by a mark when the row is no longer claimed (its lease expired and another
// delivery took it, or an operator acted on it). It is lease.ErrLost, the value notify.ErrLeaseLost
// also names: check it with errors.Is.
var ErrLeaseLost = lease.ErrLost

// Release returns a claimed row that was not sent (delivery stopped) to pending, giving back the
// attempt the claim counted.
func (o *Outbox) Release(ctx context.Context, id int64, now time.Time) error {
	return o.mark(ctx, id, `UPDATE outbox SET status = 'pending', attempts = `+o.DB.dialect().greatest+`(attempts - 1, 0),
		first_attempt_at = CASE WHEN attempts <= 1 THEN NULL ELSE first_attempt_at END,
		lease_until = NULL, claim_token = NULL, updated_at = ?`+markWhere, formatTime(now))
}

// markWhere ends every mark: it applies only to a row still sending under this Outbox's claim.
const markWhere = ` WHERE id = ? AND status = 'sending' AND claim_token = ?`

// mark runs a mark statement q (ending in markWhere) with args, then the row's id and the token of
// this Outbox's claim on it, and forgets the claim once the statement ran. A statement that did not
// run (a locked database) keeps the claim, so the mark can be tried again.
func (o *Outbox) mark(ctx context.Context, id int64, q string, args ...any) error {
	st, err := o.prepared(ctx, q)
	if err != nil {
		return fmt.Errorf("mark outbox row %d: %w", id, err)
	}
	r, err := st.ExecContext(ctx, append(args, id, o.token(id))...)
	if err != nil {
		return fmt.Errorf("mark outbox row %d: %w", id, err)
	}
	o.release(id)
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("mark outbox row %d: %w", id, ErrLeaseLost)
	}
	return nil
}
