package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// ImportResult counts what an import changed.
type ImportResult struct {
	Partners           int
	Users              int
	Enrollments        int
	RemovedEnrollments int
	// ReplacedEnrollments counts active enrollments replaced by one with another attainment date of
	// the same specialization (R1: one active enrollment per partner and specialization).
	ReplacedEnrollments int
	CancelledReminders  int
	Outcomes            int // renewal outcomes recorded
	RenewedCancelled    int // reminders cancelled because their renewal is recorded as done
}

// Import upserts partners in one transaction: partner names, the users of partners whose user list
// was given (replacing the stored list), enrollments keyed on (partner, specialization, attained_on),
// and capability scores. Removing an enrollment cancels its pending reminders. On any error nothing is
// written.
//
// Outcomes are recorded after the partners, in the same transaction: each must name an anniversary
// of a stored enrollment (else an OutcomeError, errors.Is ErrInput), and cancels that anniversary's
// reminders still waiting.
func (s *DB) Import(ctx context.Context, partners []*renewal.Partner, now time.Time, outcomes ...renewal.Outcome) (ImportResult, error) {
	var res ImportResult
	ts := formatTime(now)
	err := s.inTx(ctx, func(tx *rebindTx) error {
		stmts, err := prepareAll(ctx, tx, map[string]string{
			"partner": `INSERT INTO partners (id, name) VALUES (?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE partners.name != excluded.name`,
			"clearUsers": `DELETE FROM users WHERE partner_id = ?`,
			"user":       `INSERT INTO users (partner_id, email, name) VALUES (?, ?, ?)`,
			"role": `INSERT INTO user_roles (partner_id, email, role, role_key) VALUES (?, ?, ?, ?)
				ON CONFLICT DO NOTHING`,
			"enrollment": `INSERT INTO enrollments (partner_id, specialization, attained_on, anniversary_md, status)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (partner_id, specialization, attained_on) DO UPDATE SET status = excluded.status
				WHERE enrollments.status != excluded.status`,
			"cancel": `UPDATE outbox SET status = 'cancelled', last_error = 'enrollment removed', updated_at = ?
				WHERE status = 'pending' AND enrollment_id =
				(SELECT id FROM enrollments WHERE partner_id = ? AND specialization = ? AND attained_on = ?)`,
			// R1: a partner holds a specialization once. An active enrollment with another attainment
			// date replaces the one stored: that one is removed and its waiting reminders cancelled.
			"replace": `UPDATE enrollments SET status = 'removed'
				WHERE partner_id = ? AND specialization = ? AND attained_on != ? AND status = 'active' RETURNING id, attained_on`,
			"cancelReplaced": `UPDATE outbox SET status = 'cancelled', last_error = ?, updated_at = ?
				WHERE enrollment_id = ? AND status IN ('pending', 'no_recipients')`,
			"clearScores": `DELETE FROM capability_scores WHERE partner_id = ?`,
			"score":       `INSERT INTO capability_scores (partner_id, designation, enterprise, smb) VALUES (?, ?, ?, ?)`,
		})
		if err != nil {
			return err
		}
		defer closeAll(stmts)
		for _, p := range partners {
			if _, err := stmts["partner"].ExecContext(ctx, p.ID, p.Name); err != nil {
				return fmt.Errorf("partner %s: %w", p.ID, err)
			}
			res.Partners++
			if p.UsersGiven {
				if _, err := stmts["clearUsers"].ExecContext(ctx, p.ID); err != nil {
					return fmt.Errorf("partner %s: users: %w", p.ID, err)
				}
				for _, u := range p.Users {
					if _, err := stmts["user"].ExecContext(ctx, p.ID, u.Email, u.Name); err != nil {
						return fmt.Errorf("partner %s: user %s: %w", p.ID, u.Email, err)
					}
					for _, r := range u.Roles {
						if _, err := stmts["role"].ExecContext(ctx, p.ID, u.Email, r, renewal.RoleKey(r)); err != nil {
							return fmt.Errorf("partner %s: user %s: role: %w", p.ID, u.Email, err)
						}
					}
					res.Users++
				}
			}
			for _, e := range p.Enrollments {
				if _, err := stmts["enrollment"].ExecContext(ctx, p.ID, e.Specialization, e.AttainedOn.String(),
					e.AttainedOn.MonthDay(), string(e.Status)); err != nil {
					return fmt.Errorf("partner %s: enrollment %s: %w", p.ID, e.Specialization, err)
				}
				res.Enrollments++
				if e.Status == renewal.StatusActive {
					n, c, err := replaceEnrollments(ctx, stmts, p.ID, e, ts)
					if err != nil {
						return err
					}
					res.ReplacedEnrollments += n
					res.CancelledReminders += c
				}
				if e.Status == renewal.StatusRemoved {
					res.RemovedEnrollments++
					r, err := stmts["cancel"].ExecContext(ctx, ts, p.ID, e.Specialization, e.AttainedOn.String())
					if err != nil {
						return fmt.Errorf("partner %s: cancel reminders of %s: %w", p.ID, e.Specialization, err)
					}
					n, _ := r.RowsAffected()
					res.CancelledReminders += int(n)
				}
			}
			if p.ScoresGiven {
				if _, err := stmts["clearScores"].ExecContext(ctx, p.ID); err != nil {
					return fmt.Errorf("partner %s: scores: %w", p.ID, err)
				}
				for _, sc := range p.Scores {
					if _, err := stmts["score"].ExecContext(ctx, p.ID, sc.Designation, metricsJSON(sc.Enterprise), metricsJSON(sc.SMB)); err != nil {
						return fmt.Errorf("partner %s: scores %s: %w", p.ID, sc.Designation, err)
					}
				}
			}
		}
		for _, o := range outcomes {
			n, err := recordOutcome(ctx, tx, o, ts)
			if err != nil {
				return err
			}
			res.Outcomes++
			res.RenewedCancelled += n
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	return res, nil
}

// replaceEnrollments removes the partner's other active enrollments of e's specialization (R1: one
// active enrollment per partner and specialization) and cancels their waiting reminders.
func replaceEnrollments(ctx context.Context, stmts map[string]*sqlx.Stmt, partnerID string, e renewal.Enrollment, ts string) (replaced, cancelled int, err error) {
	var old []struct {
		ID         int64  `db:"id"`
		AttainedOn string `db:"attained_on"`
	}
	rows, err := stmts["replace"].QueryxContext(ctx, partnerID, e.Specialization, e.AttainedOn.String())
	if err != nil {
		return 0, 0, fmt.Errorf("partner %s: replace %s: %w", partnerID, e.Specialization, err)
	}
	for rows.Next() {
		var o struct {
			ID         int64  `db:"id"`
			AttainedOn string `db:"attained_on"`
		}
		if err := rows.StructScan(&o); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("partner %s: replace %s: %w", partnerID, e.Specialization, err)
		}
		old = append(old, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("partner %s: replace %s: %w", partnerID, e.Specialization, err)
	}
	for _, o := range old {
		reason := fmt.Sprintf("enrollment replaced: %s is now attained on %s, not %s", e.Specialization, e.AttainedOn, o.AttainedOn)
		r, err := stmts["cancelReplaced"].ExecContext(ctx, reason, ts, o.ID)
		if err != nil {
			return 0, 0, fmt.Errorf("partner %s: cancel reminders of a replaced %s: %w", partnerID, e.Specialization, err)
		}
		n, _ := r.RowsAffected()
		cancelled += int(n)
	}
	return len(old), cancelled, nil
}

func metricsJSON(m map[string]int) any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m) // map[string]int always marshals; keys come out sorted
	return string(b)
}

func prepareAll(ctx context.Context, tx *rebindTx, queries map[string]string) (map[string]*sqlx.Stmt, error) {
	out := make(map[string]*sqlx.Stmt, len(queries))
	for name, q := range queries {
		st, err := tx.PreparexContext(ctx, q)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("prepare %s: %w", name, err)
		}
		out[name] = st
	}
	return out, nil
}

func closeAll(stmts map[string]*sqlx.Stmt) {
	for _, st := range stmts {
		st.Close()
	}
}
