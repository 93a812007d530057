package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// DueEnrollment is an active enrollment returned by a scan query.
type DueEnrollment struct {
	ID             int64  `db:"id"`
	PartnerID      string `db:"partner_id"`
	Specialization string `db:"specialization"`
	AttainedOn     string `db:"attained_on"`
}

// dueQuery reads one page of active enrollments with one anniversary month-day, through the
// enrollments_due index.
const dueQuery = `SELECT id, partner_id, specialization, attained_on FROM enrollments
	WHERE status = 'active' AND anniversary_md = ? AND id > ? ORDER BY id LIMIT ?`

// DueEnrollments returns up to limit active enrollments whose attainment month-day is monthDay and
// whose id is above afterID, in id order: one page of a scan.
func (s *DB) DueEnrollments(ctx context.Context, monthDay string, afterID int64, limit int) ([]DueEnrollment, error) {
	var out []DueEnrollment
	if err := s.db.SelectContext(ctx, &out, dueQuery, monthDay, afterID, limit); err != nil {
		return nil, fmt.Errorf("due enrollments %s: %w", monthDay, err)
	}
	return out, nil
}

// ActiveEnrollments returns up to limit active enrollments with id above afterID, in id order: the
// scan of a range long enough to need every month-day, which then writes the outbox in key order.
func (s *DB) ActiveEnrollments(ctx context.Context, afterID int64, limit int) ([]DueEnrollment, error) {
	var out []DueEnrollment
	if err := s.db.SelectContext(ctx, &out, `SELECT id, partner_id, specialization, attained_on FROM enrollments
		WHERE status = 'active' AND id > ? ORDER BY id LIMIT ?`, afterID, limit); err != nil {
		return nil, fmt.Errorf("active enrollments: %w", err)
	}
	return out, nil
}

// ArrivingEnrollments returns up to limit active enrollments with id above afterID that have not yet
// been through a daily scan (R14), in id order.
func (s *DB) ArrivingEnrollments(ctx context.Context, afterID int64, limit int) ([]DueEnrollment, error) {
	var out []DueEnrollment
	if err := s.db.SelectContext(ctx, &out, `SELECT id, partner_id, specialization, attained_on FROM enrollments
		WHERE arriving = 1 AND status = 'active' AND id > ? ORDER BY id LIMIT ?`, afterID, limit); err != nil {
		return nil, fmt.Errorf("arriving enrollments: %w", err)
	}
	return out, nil
}

// Recipient is a user who holds a recipient role.
type Recipient struct {
	PartnerID string `db:"partner_id"`
	Email     string `db:"email"`
	Name      string `db:"name"`
}

// Recipients returns, per partner, the users holding any of roleKeys (renewal.RoleKey forms), each
// address once, in email order.
func (s *DB) Recipients(ctx context.Context, partnerIDs []string, roleKeys []string) (map[string][]Recipient, error) {
	out := map[string][]Recipient{}
	const chunk = 500
	for start := 0; start < len(partnerIDs); start += chunk {
		ids := partnerIDs[start:min(start+chunk, len(partnerIDs))]
		q, args, err := sqlx.In(`SELECT DISTINCT u.partner_id, u.email, u.name FROM user_roles r
			JOIN users u ON u.partner_id = r.partner_id AND u.email = r.email
			WHERE r.partner_id IN (?) AND r.role_key IN (?) ORDER BY u.partner_id, u.email`, ids, roleKeys)
		if err != nil {
			return nil, fmt.Errorf("recipients: %w", err)
		}
		var rows []Recipient
		if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("recipients: %w", err)
		}
		for _, r := range rows {
			out[r.PartnerID] = append(out[r.PartnerID], r)
		}
	}
	return out, nil
}

// LastScanned returns the last date a tick scanned; ok is false before the first tick.
func (s *DB) LastScanned(ctx context.Context) (d renewal.Date, ok bool, err error) {
	var v string
	err = s.db.GetContext(ctx, &v, `SELECT last_scanned_on FROM scan_state WHERE id = 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return renewal.Date{}, false, nil
	}
	if err != nil {
		return renewal.Date{}, false, fmt.Errorf("last scanned date: %w", err)
	}
	d, err = renewal.ParseDate(v)
	if err != nil {
		return renewal.Date{}, false, fmt.Errorf("last scanned date: %w", err)
	}
	return d, true, nil
}

// OutboxItem is one reminder to queue.
type OutboxItem struct {
	EnrollmentID int64
	Milestone    renewal.Milestone
	Recipient    string // "" for a no_recipients record
	Status       Status // pending, superseded, skipped or no_recipients
	MessageID    string
	LastError    string // set on the rows an enqueue reports: why a row is not pending
}

// Decision is the day an enqueue makes its decisions on, and how.
type Decision struct {
	// Today is the day the decisions are made (R11): only a reminder due on or before it replaces
	// earlier ones, so a backfill of future dates leaves every reminder pending for its own day. The
	// zero Today counts every reminder as due.
	Today renewal.Date
	// Expiry is R13 on Today: a reminder whose renewal's grace period ended before Today is recorded
	// expired, not pending. The zero Expiry expires nothing.
	Expiry renewal.Expiry
	// DryRun makes every decision in the transaction, reports the rows it would write, and rolls
	// back: a dry run and the real run agree row for row.
	DryRun bool
}

// due reports whether a reminder due on d counts as due on the decision's day.
func (d Decision) due(on renewal.Date) bool { return d.Today.IsZero() || !on.After(d.Today) }

// EnqueueStats counts what an enqueue did.
type EnqueueStats struct {
	Queued       int // new pending rows
	Superseded   int // rows recorded superseded plus pending rows a later reminder replaced
	NoRecipients int
	Skipped      int
	Existing     int // keys already in the outbox: nothing done (R10)
	Renewed      int // recorded cancelled: the anniversary's renewal is recorded as done
	Expired      int // recorded expired: the renewal's grace period ended before the decision's day (R13)
}

// Add sums two stats.
func (a *EnqueueStats) Add(b EnqueueStats) {
	a.Queued += b.Queued
	a.Superseded += b.Superseded
	a.NoRecipients += b.NoRecipients
	a.Skipped += b.Skipped
	a.Existing += b.Existing
	a.Renewed += b.Renewed
	a.Expired += b.Expired
}

// Enqueue inserts items in one transaction. A key already present is left alone (R10). A pending
// row supersedes the same recipient's still-pending earlier reminders of the same anniversary, and
// arrives superseded itself when a later one is already there, as after a backfill behind a tick
// (R11). Items of one enrollment should be adjacent: each run of them costs one read of its outbox
// rows.
func (s *DB) Enqueue(ctx context.Context, items []OutboxItem, now time.Time) (EnqueueStats, error) {
	st, _, err := s.enqueue(ctx, items, nil, Decision{}, now, nil)
	return st, err
}

// EnqueueOn is Enqueue deciding as of d: R11 on d.Today, R13 by d.Expiry, and, with d.DryRun,
// nothing written. It returns the rows it wrote (or would write), each with its final status.
func (s *DB) EnqueueOn(ctx context.Context, items []OutboxItem, d Decision, now time.Time) (EnqueueStats, []OutboxItem, error) {
	return s.enqueue(ctx, items, nil, d, now, nil)
}

// MarkScanned records that a daily scan covered every date through the given one; the recorded date
// never moves back (R11: the next tick scans from the day after).
func (s *DB) MarkScanned(ctx context.Context, through renewal.Date) error {
	return s.MarkScannedAt(ctx, through, "", time.Time{})
}

// MarkScannedAt is MarkScanned by a tick at the instant at, scanning in zone (the IANA name of
// schedule.timezone): both are kept with the date, so a later tick can tell a zone change from a
// clock that was wrong (ScanState). An empty zone or zero instant leaves the recorded ones.
func (s *DB) MarkScannedAt(ctx context.Context, through renewal.Date, zone string, at time.Time) error {
	var z, ts sql.NullString
	if zone != "" {
		z = sql.NullString{String: zone, Valid: true}
	}
	if !at.IsZero() {
		ts = sql.NullString{String: formatTime(at), Valid: true}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO scan_state (id, last_scanned_on, zone, scanned_at) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET last_scanned_on = `+s.dialect().greatest+`(scan_state.last_scanned_on, excluded.last_scanned_on),
		zone = coalesce(excluded.zone, scan_state.zone), scanned_at = coalesce(excluded.scanned_at, scan_state.scanned_at)`,
		through.String(), z, ts); err != nil {
		return fmt.Errorf("record scanned date %s: %w", through, err)
	}
	return nil
}

// ScanState is what the last daily scan recorded.
type ScanState struct {
	Through   renewal.Date // the last date scanned
	Zone      string       // the zone it was scanned in; "" before migration 0012
	ScannedAt time.Time    // the instant of the tick that recorded it; zero before migration 0012
}

// LastScanState returns the recorded scan state; ok is false before the first tick.
func (s *DB) LastScanState(ctx context.Context) (st ScanState, ok bool, err error) {
	var row struct {
		On   string         `db:"last_scanned_on"`
		Zone sql.NullString `db:"zone"`
		At   sql.NullString `db:"scanned_at"`
	}
	err = s.db.GetContext(ctx, &row, `SELECT last_scanned_on, zone, scanned_at FROM scan_state WHERE id = 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return ScanState{}, false, nil
	}
	if err != nil {
		return ScanState{}, false, fmt.Errorf("scan state: %w", err)
	}
	if st.Through, err = renewal.ParseDate(row.On); err != nil {
		return ScanState{}, false, fmt.Errorf("last scanned date: %w", err)
	}
	st.Zone = row.Zone.String
	if row.At.Valid {
		if st.ScannedAt, err = time.Parse(TimeFormat, row.At.String); err != nil {
			return ScanState{}, false, fmt.Errorf("scan state instant: %w", err)
		}
	}
	return st, true, nil
}

// SetScanZone records zone as the scan state's zone, leaving its date: the change of zone is then
// seen (and logged) once.
func (s *DB) SetScanZone(ctx context.Context, zone string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE scan_state SET zone = ? WHERE id = 1`, zone); err != nil {
		return fmt.Errorf("record scan zone: %w", err)
	}
	return nil
}

// EnqueueArrived is Enqueue for the reminders of arriving enrollments (R14): in the same
// transaction it records the enrollments arrived as seen, so no later scan treats them as new.
func (s *DB) EnqueueArrived(ctx context.Context, items []OutboxItem, arrived []int64, now time.Time) (EnqueueStats, error) {
	st, _, err := s.enqueue(ctx, items, arrived, Decision{}, now, nil)
	return st, err
}

// EnqueueCovering is Enqueue for reminders queued to a partner's new recipients in place of its
// no_recipients records: in the same transaction those records become superseded with reason, so a
// record is never marked without its reminders queued (or queued twice by a later scan).
func (s *DB) EnqueueCovering(ctx context.Context, items []OutboxItem, covered []int64, now time.Time, reason string) (EnqueueStats, error) {
	st, _, err := s.enqueue(ctx, items, nil, Decision{}, now, func(tx *rebindTx) error {
		q, args, err := sqlx.In(`UPDATE outbox SET status = 'superseded', last_error = ?, updated_at = ?
			WHERE status = 'no_recipients' AND id IN (?)`, reason, formatTime(now), covered)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	return st, err
}

func (s *DB) enqueue(ctx context.Context, items []OutboxItem, arrived []int64, d Decision, now time.Time,
	also func(tx *rebindTx) error) (EnqueueStats, []OutboxItem, error) {
	var st EnqueueStats
	var written []OutboxItem
	ts := formatTime(now)
	err := s.inTx(ctx, func(tx *rebindTx) error {
		stmts, err := prepareAll(ctx, tx, map[string]string{
			"insert": `INSERT INTO outbox (enrollment_id, anniversary_on, renewal_year, manual_validation,
				offset_days, due_on, recipient, status, last_error, message_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (enrollment_id, anniversary_on, recipient, offset_days) DO NOTHING`,
			"supersede": `UPDATE outbox SET status = 'superseded', updated_at = ?
				WHERE enrollment_id = ? AND anniversary_on = ? AND recipient = ? AND offset_days < ? AND status = 'pending'`,
			"existing": `SELECT anniversary_on, recipient, offset_days, status FROM outbox WHERE enrollment_id = ?`,
			"outcomes": `SELECT anniversary_on, renewed_on FROM renewal_outcomes WHERE enrollment_id = ?`,
		})
		if err != nil {
			return err
		}
		defer closeAll(stmts)
		inserted := map[Status]int{}
		for start := 0; start < len(items); {
			end := start + 1
			for end < len(items) && items[end].EnrollmentID == items[start].EnrollmentID {
				end++
			}
			if err := enqueueEnrollment(ctx, stmts, items[start:end], d, ts, &st, inserted, &written); err != nil {
				return err
			}
			start = end
		}
		if err := s.addCounts(ctx, tx, inserted); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
		}
		if len(arrived) > 0 {
			seen, err := tx.PreparexContext(ctx, `UPDATE enrollments SET arriving = 0 WHERE id = ?`)
			if err != nil {
				return fmt.Errorf("record arrivals: %w", err)
			}
			defer seen.Close()
			for _, id := range arrived {
				if _, err := seen.ExecContext(ctx, id); err != nil {
					return fmt.Errorf("record arrival of enrollment %d: %w", id, err)
				}
			}
		}
		if d.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !(d.DryRun && errors.Is(err, errDryRun)) {
		return EnqueueStats{}, nil, fmt.Errorf("enqueue: %w", err)
	}
	return st, written, nil
}

// thread is one recipient's reminders of one anniversary of an enrollment.
type thread struct {
	anniversary, recipient string
}

type threadState struct {
	latestDue      int  // highest offset recorded whose reminder is due on the decision's day
	hasDue         bool // some recorded reminder is due on the decision's day
	earlierPending bool // a pending row exists (so a later pending one due on the day must supersede it)
}

// record notes a row of the thread of anniversary with offset.
func (t *threadState) record(anniversary string, offset int, d Decision) {
	ann, err := renewal.ParseDate(anniversary)
	if err == nil && !d.due(ann.AddDays(offset)) {
		return
	}
	if !t.hasDue || offset > t.latestDue {
		t.latestDue, t.hasDue = offset, true
	}
}

// enqueueEnrollment inserts the items of one enrollment, deciding R10, R11 and R13 as of d from one
// read of the enrollment's outbox rows, counts the rows it inserted by status into inserted and
// appends them, with their final status, to written.
func enqueueEnrollment(ctx context.Context, stmts map[string]*sqlx.Stmt, items []OutboxItem, d Decision, ts string,
	st *EnqueueStats, inserted map[Status]int, written *[]OutboxItem) error {
	eid := items[0].EnrollmentID
	rows, err := stmts["existing"].QueryxContext(ctx, eid)
	if err != nil {
		return fmt.Errorf("enrollment %d: outbox rows: %w", eid, err)
	}
	type key struct {
		thread
		offset int
	}
	have := map[key]bool{}
	threads := map[thread]*threadState{}
	for rows.Next() {
		var k key
		var status string
		if err := rows.Scan(&k.anniversary, &k.recipient, &k.offset, &status); err != nil {
			rows.Close()
			return fmt.Errorf("enrollment %d: outbox rows: %w", eid, err)
		}
		have[k] = true
		ts := threads[k.thread]
		if ts == nil {
			ts = &threadState{}
			threads[k.thread] = ts
		}
		ts.record(k.anniversary, k.offset, d)
		if status == StatusPending {
			ts.earlierPending = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("enrollment %d: outbox rows: %w", eid, err)
	}
	renewed, err := renewedOn(ctx, stmts["outcomes"], eid)
	if err != nil {
		return fmt.Errorf("enrollment %d: outcomes: %w", eid, err)
	}
	for _, it := range items {
		m := it.Milestone
		k := key{thread{m.Anniversary.String(), it.Recipient}, m.Offset}
		if have[k] {
			st.Existing++
			continue
		}
		th := threads[k.thread]
		if th == nil {
			th = &threadState{}
			threads[k.thread] = th
		}
		status, lastError := decide(it, th, d, renewed)
		r, err := stmts["insert"].ExecContext(ctx, eid, k.anniversary, m.Year, string(m.ManualValidation), m.Offset,
			m.DueOn.String(), it.Recipient, status, nullString(lastError), it.MessageID, ts, ts)
		if err != nil {
			return fmt.Errorf("enrollment %d offset %d: %w", eid, m.Offset, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			st.Existing++
			continue
		}
		inserted[status]++
		have[k] = true
		it.Status, it.LastError = status, lastError
		*written = append(*written, it)
		th.record(k.anniversary, m.Offset, d)
		switch status {
		case StatusPending:
			st.Queued++
			if th.earlierPending && d.due(m.DueOn) {
				r, err := stmts["supersede"].ExecContext(ctx, ts, eid, k.anniversary, it.Recipient, m.Offset)
				if err != nil {
					return fmt.Errorf("supersede: %w", err)
				}
				n, _ := r.RowsAffected()
				st.Superseded += int(n)
			}
			th.earlierPending = true
		case StatusSuperseded:
			st.Superseded++
		case StatusNoRecipients:
			st.NoRecipients++
		case StatusSkipped:
			st.Skipped++
		case StatusCancelled:
			st.Renewed++
		case StatusExpired:
			st.Expired++
		}
	}
	return nil
}

// decide returns the status an item is recorded with, and why when that is not what it asked for:
// cancelled when its renewal is recorded as done (R15); expired when it would wait for a renewal whose
// grace period has ended (R13); superseded when a later reminder of its anniversary to the same
// recipient is recorded and due on the decision's day (R11).
func decide(it OutboxItem, th *threadState, d Decision, renewed map[string]renewal.Date) (Status, string) {
	m := it.Milestone
	if on, ok := renewed[m.Anniversary.String()]; ok {
		return StatusCancelled, renewal.RenewedReason(on)
	}
	status := it.Status
	if (status == StatusPending || status == StatusSuperseded) && !d.Expiry.OpenFrom.IsZero() && m.Anniversary.Before(d.Expiry.OpenFrom) {
		return StatusExpired, d.Expiry.Reason(m.Anniversary)
	}
	if (status == StatusPending || status == StatusNoRecipients) && th.hasDue && th.latestDue > m.Offset {
		return StatusSuperseded, ""
	}
	return status, ""
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// EnrollmentInfo is an enrollment with its partner's name, for the schedule view.
type EnrollmentInfo struct {
	ID             int64  `db:"id"`
	PartnerID      string `db:"partner_id"`
	PartnerName    string `db:"partner_name"`
	Specialization string `db:"specialization"`
	AttainedOn     string `db:"attained_on"`
	Status         string `db:"status"`
}

// Enrollments returns up to limit enrollments with id above afterID, of one partner when partnerID
// is not empty, active only unless all is set.
func (s *DB) Enrollments(ctx context.Context, partnerID string, all bool, afterID int64, limit int) ([]EnrollmentInfo, error) {
	q, args := enrollmentsQuery(partnerID, all, afterID, limit)
	var out []EnrollmentInfo
	if err := s.db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("enrollments: %w", err)
	}
	return out, nil
}

// enrollmentsQuery reads one partner's enrollments through the (partner_id, …) unique index, and
// all partners' in id order through the primary key. (A condition such as "? = ” OR partner_id
// = ?" would hide the index from the planner: a partner's page read the whole table.)
func enrollmentsQuery(partnerID string, all bool, afterID int64, limit int) (string, []any) {
	q := `SELECT e.id, e.partner_id, p.name AS partner_name, e.specialization,
		e.attained_on, e.status FROM enrollments e JOIN partners p ON p.id = e.partner_id WHERE e.id > ?`
	args := []any{afterID}
	if partnerID != "" {
		q, args = q+" AND e.partner_id = ?", append(args, partnerID)
	}
	if !all {
		q += " AND e.status = 'active'"
	}
	return q + " ORDER BY e.id LIMIT ?", append(args, limit)
}
