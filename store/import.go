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
// written. It is ImportStream fed from memory: rows that contradict each other (a user or an
// enrollment given twice, two active enrollments of one specialization) are an error.
//
// Outcomes are recorded after the partners, in the same transaction: each must name an anniversary
// of a stored enrollment (else an OutcomeError, errors.Is ErrInput), and cancels that anniversary's
// reminders still waiting.
func (s *DB) Import(ctx context.Context, partners []*renewal.Partner, now time.Time, outcomes ...renewal.Outcome) (ImportResult, error) {
	return s.ImportStream(ctx, now, ImportOptions{}, func(w *ImportWriter) error {
		for _, p := range partners {
			if first, err := w.Partner(p.ID, p.Name, p.UsersGiven, p.ScoresGiven); err != nil {
				return fmt.Errorf("import: partner %s: %w", p.ID, err)
			} else if first != p.Name {
				return fmt.Errorf("import: partner %s is named %q and %q", p.ID, first, p.Name)
			}
			for _, u := range p.Users {
				if dup, err := w.User(p.ID, u); err != nil || dup {
					return importConflict(err, "partner %s: user %s given twice", p.ID, u.Email)
				}
			}
			for _, e := range p.Enrollments {
				e.PartnerID = p.ID
				dup, taken, err := w.Enrollment(e)
				if err != nil || dup || taken {
					return importConflict(err, "partner %s: enrollment %s attained %s given twice, or another active one", p.ID, e.Specialization, e.AttainedOn)
				}
			}
			for _, sc := range p.Scores {
				if dup, err := w.Score(p.ID, sc); err != nil || dup {
					return importConflict(err, "partner %s: scores %s given twice", p.ID, sc.Designation)
				}
			}
		}
		for _, o := range outcomes {
			if dup, err := w.Outcome(o); err != nil || dup {
				return importConflict(err, "outcome of partner %s's %s on %s given twice", o.PartnerID, o.Specialization, o.Anniversary)
			}
		}
		return nil
	})
}

// importConflict is err wrapped, or else a conflict between the rows given to Import.
func importConflict(err error, format string, args ...any) error {
	if err != nil {
		return fmt.Errorf("import: "+format+": %w", append(args, err)...)
	}
	return fmt.Errorf("import: "+format, args...)
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
