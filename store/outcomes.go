package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// ErrInput marks store errors caused by the data given (an outcome for an anniversary that the
// enrollment does not have, an unknown partner): input errors, not failures.
var ErrInput = errors.New("invalid input")

// OutcomeError is an outcome that names no anniversary of a stored enrollment.
type OutcomeError struct {
	Where string // "file: line 3", or "" for the command line
	Msg   string
}

func (e *OutcomeError) Error() string {
	if e.Where == "" {
		return e.Msg
	}
	return e.Where + ": " + e.Msg
}

// Unwrap makes errors.Is(err, ErrInput) true.
func (e *OutcomeError) Unwrap() error { return ErrInput }

// RecordRenewal records that a partner renewed a specialization's anniversary on on, and cancels
// that anniversary's reminders still waiting (pending or no_recipients) in the same transaction.
// It returns how many were cancelled.
func (s *DB) RecordRenewal(ctx context.Context, o renewal.Outcome, now time.Time) (cancelled int, err error) {
	err = s.inTx(ctx, func(tx *rebindTx) error {
		cancelled, err = recordOutcome(ctx, tx, o, formatTime(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record renewal: %w", err)
	}
	return cancelled, nil
}

// ClearRenewal removes a recorded outcome: later reminders of that anniversary are queued again
// (what was cancelled stays cancelled). It reports whether an outcome was recorded.
func (s *DB) ClearRenewal(ctx context.Context, o renewal.Outcome) (bool, error) {
	var removed bool
	err := s.inTx(ctx, func(tx *rebindTx) error {
		id, err := outcomeEnrollment(ctx, tx, o)
		if err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM renewal_outcomes WHERE enrollment_id = ? AND anniversary_on = ?`,
			id, o.Anniversary.String())
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		removed = n > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("clear renewal: %w", err)
	}
	return removed, nil
}

// outcomeEnrollment finds the enrollment of o's partner and specialization that has o's anniversary
// (the active one first when a specialization was attained again, R1).
func outcomeEnrollment(ctx context.Context, tx *rebindTx, o renewal.Outcome) (int64, error) {
	var partners int
	if err := tx.GetContext(ctx, &partners, `SELECT count(*) FROM partners WHERE id = ?`, o.PartnerID); err != nil {
		return 0, err
	}
	if partners == 0 {
		return 0, &OutcomeError{Where: o.Where, Msg: fmt.Sprintf("partner %s is not in the database", o.PartnerID)}
	}
	var es []struct {
		ID         int64  `db:"id"`
		AttainedOn string `db:"attained_on"`
	}
	if err := tx.SelectContext(ctx, &es, `SELECT id, attained_on FROM enrollments WHERE partner_id = ? AND specialization = ?
		ORDER BY status = 'active' DESC, attained_on DESC`, o.PartnerID, o.Specialization); err != nil {
		return 0, err
	}
	if len(es) == 0 {
		return 0, &OutcomeError{Where: o.Where, Msg: fmt.Sprintf("partner %s holds no %s enrollment", o.PartnerID, o.Specialization)}
	}
	var attained []string
	for _, e := range es {
		d, err := renewal.ParseDate(e.AttainedOn)
		if err != nil {
			return 0, fmt.Errorf("enrollment %d: %w", e.ID, err)
		}
		if _, ok := renewal.AnniversaryNumber(d, o.Anniversary); ok {
			return e.ID, nil
		}
		attained = append(attained, e.AttainedOn)
	}
	return 0, &OutcomeError{Where: o.Where, Msg: fmt.Sprintf("anniversary_on: %s is not an anniversary of partner %s's %s (attained %v)",
		o.Anniversary, o.PartnerID, o.Specialization, attained)}
}

// recordOutcome upserts one outcome and cancels the reminders of its anniversary still waiting.
func recordOutcome(ctx context.Context, tx *rebindTx, o renewal.Outcome, ts string) (int, error) {
	id, err := outcomeEnrollment(ctx, tx, o)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO renewal_outcomes (enrollment_id, anniversary_on, outcome, renewed_on, recorded_at)
		VALUES (?, ?, 'renewed', ?, ?) ON CONFLICT (enrollment_id, anniversary_on) DO UPDATE SET renewed_on = excluded.renewed_on,
		recorded_at = excluded.recorded_at WHERE renewal_outcomes.renewed_on != excluded.renewed_on`,
		id, o.Anniversary.String(), o.RenewedOn.String(), ts); err != nil {
		return 0, fmt.Errorf("record outcome: %w", err)
	}
	r, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'cancelled', last_error = ?, next_attempt_at = NULL, updated_at = ?
		WHERE enrollment_id = ? AND anniversary_on = ? AND status IN ('pending', 'no_recipients')`,
		renewal.RenewedReason(o.RenewedOn), ts, id, o.Anniversary.String())
	if err != nil {
		return 0, fmt.Errorf("cancel reminders of a renewed anniversary: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}

// Outcomes returns the recorded outcomes of the given enrollments: enrollment id → anniversary →
// renewed on.
func (s *DB) Outcomes(ctx context.Context, enrollmentIDs []int64) (map[int64]map[string]renewal.Date, error) {
	out := map[int64]map[string]renewal.Date{}
	const chunk = 500
	for start := 0; start < len(enrollmentIDs); start += chunk {
		q, args, err := sqlx.In(`SELECT enrollment_id, anniversary_on, renewed_on FROM renewal_outcomes WHERE enrollment_id IN (?)`,
			enrollmentIDs[start:min(start+chunk, len(enrollmentIDs))])
		if err != nil {
			return nil, fmt.Errorf("outcomes: %w", err)
		}
		var rows []struct {
			ID          int64  `db:"enrollment_id"`
			Anniversary string `db:"anniversary_on"`
			RenewedOn   string `db:"renewed_on"`
		}
		if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("outcomes: %w", err)
		}
		for _, r := range rows {
			d, err := renewal.ParseDate(r.RenewedOn)
			if err != nil {
				return nil, fmt.Errorf("outcome of enrollment %d: %w", r.ID, err)
			}
			if out[r.ID] == nil {
				out[r.ID] = map[string]renewal.Date{}
			}
			out[r.ID][r.Anniversary] = d
		}
	}
	return out, nil
}

// renewedOn reads the outcomes of one enrollment for enqueueing: anniversary → renewed on.
func renewedOn(ctx context.Context, st *sqlx.Stmt, eid int64) (map[string]renewal.Date, error) {
	rows, err := st.QueryxContext(ctx, eid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[string]renewal.Date
	for rows.Next() {
		var ann, on string
		if err := rows.Scan(&ann, &on); err != nil {
			return nil, err
		}
		d, err := renewal.ParseDate(on)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]renewal.Date{}
		}
		out[ann] = d
	}
	return out, rows.Err()
}
