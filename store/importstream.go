package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// ImportOptions changes what ImportStream does.
type ImportOptions struct {
	// DryRun checks every row, conflicts between rows included, and rolls everything back; outcomes
	// are not checked against the stored enrollments. Run it on a scratch database.
	DryRun bool
}

// staging are the import's own tables, temporary, in its transaction: the keys it has given so far,
// so a row that repeats or contradicts an earlier one is found without holding the rows in memory.
// Users and capability scores need none: a partner's stored ones are deleted when the import first
// gives them, so what the real tables then hold of that partner comes from this import.
var staging = []struct{ name, columns string }{
	{"import_partners", `id TEXT PRIMARY KEY, name TEXT NOT NULL, users INTEGER NOT NULL, scores INTEGER NOT NULL,
		existed INTEGER NOT NULL`},
	// One row per enrollment; the partial unique index import_active holds one active enrollment per
	// partner and specialization (R1).
	{"import_enrollments", `partner_id TEXT NOT NULL, specialization TEXT NOT NULL, attained_on TEXT NOT NULL,
		active INTEGER NOT NULL, PRIMARY KEY (partner_id, specialization, attained_on)`},
	{"import_outcomes", `ord INTEGER PRIMARY KEY, partner_id TEXT NOT NULL, specialization TEXT NOT NULL,
		anniversary_on TEXT NOT NULL, renewed_on TEXT NOT NULL, at TEXT NOT NULL,
		UNIQUE (partner_id, specialization, anniversary_on)`},
}

// ImportWriter writes the rows of a streamed import as they come, inside ImportStream's
// transaction. It implements importer.Sink: each method reports a conflict with an earlier row of
// the same import, which fails the import.
type ImportWriter struct {
	ctx   context.Context
	tx    *rebindTx
	st    map[string]*sqlx.Stmt
	ts    string
	today renewal.Date // the day of the import (UTC): the as_of of scores given without one
	dry   bool
	res   ImportResult
	ord   int64
	last  stagedPartner // the partner of the previous row: rows of one partner usually follow each other
	known bool          // last holds a partner
	roles []any         // user_roles rows not yet inserted, 4 values each: inserted rolesBatch rows at a time
}

// rolesBatch is how many user_roles rows one INSERT writes: roles need no answer from the database,
// so they go in batches, a fraction of the statements.
const rolesBatch = 64

func rolesInsert(rows int) string {
	return `INSERT INTO user_roles (partner_id, email, role, role_key) VALUES (?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?)`, rows-1) + ` ON CONFLICT DO NOTHING`
}

// flushRoles inserts the roles held back.
func (w *ImportWriter) flushRoles() error {
	if len(w.roles) == 0 {
		return nil
	}
	var err error
	if len(w.roles) == 4*rolesBatch {
		_, err = w.st["roles"].ExecContext(w.ctx, w.roles...)
	} else {
		_, err = w.tx.ExecContext(w.ctx, rolesInsert(len(w.roles)/4), w.roles...)
	}
	if err != nil {
		return fmt.Errorf("roles: %w", err)
	}
	w.roles = w.roles[:0]
	return nil
}

type stagedPartner struct {
	id, name      string
	users, scores bool
	existed       bool // stored before this import: it may hold enrollments, users and scores
}

// ImportStream runs fn in one transaction with a writer that upserts partners, users, enrollments
// and scores as fn hands them over (DESIGN.md §6: a partner's user list or scores given in the
// import replace the stored ones; enrollments are keyed on partner, specialization and attained_on;
// an active one replaces another active attainment date of its specialization, R1; a removed one
// cancels its pending reminders). Outcomes are staged and recorded after fn returns, against the
// stored enrollments (an OutcomeError, errors.Is ErrInput, for an anniversary none has). An error
// from fn is returned as it is, and on any error nothing is written.
func (s *DB) ImportStream(ctx context.Context, now time.Time, opt ImportOptions, fn func(w *ImportWriter) error) (ImportResult, error) {
	var res ImportResult
	var fnErr error
	err := s.inTx(ctx, func(tx *rebindTx) error {
		w := &ImportWriter{ctx: ctx, tx: tx, ts: formatTime(now), today: renewal.DateOf(now, time.UTC), dry: opt.DryRun}
		if err := s.createStaging(ctx, tx); err != nil {
			return err
		}
		st, err := prepareAll(ctx, tx, importStatements)
		if err != nil {
			return err
		}
		defer closeAll(st)
		w.st = st
		if err := fn(w); err != nil {
			fnErr = err
			return err
		}
		if err := w.flushRoles(); err != nil {
			return err
		}
		if !opt.DryRun {
			if err := w.recordOutcomes(); err != nil {
				return err
			}
		}
		res = w.res
		if opt.DryRun {
			return errDryRun
		}
		closeAll(st)
		if err := s.dropStaging(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE import_state SET generation = generation + 1 WHERE id = 1`); err != nil {
			return fmt.Errorf("import generation: %w", err)
		}
		return s.refreshAnniversaryCounts(ctx, tx)
	})
	if fnErr != nil {
		return ImportResult{}, fnErr
	}
	if err == errDryRun {
		return res, nil
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	return res, nil
}

var errDryRun = fmt.Errorf("dry run")

func (s *DB) createStaging(ctx context.Context, tx *rebindTx) error {
	for _, t := range staging {
		q := "CREATE TEMP TABLE " + t.name + " (" + t.columns + ")"
		if s.dialect().engine == Postgres {
			q += " ON COMMIT DROP"
		} else {
			q += " WITHOUT ROWID"
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create %s: %w", t.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE UNIQUE INDEX import_active ON import_enrollments (partner_id, specialization)
		WHERE active = 1`); err != nil {
		return fmt.Errorf("create import_active: %w", err)
	}
	return nil
}

// dropStaging drops the staging tables before the commit on SQLite (on PostgreSQL the commit does).
func (s *DB) dropStaging(ctx context.Context, tx *rebindTx) error {
	if s.dialect().engine == Postgres {
		return nil
	}
	for _, t := range staging {
		if _, err := tx.ExecContext(ctx, "DROP TABLE temp."+t.name); err != nil {
			return fmt.Errorf("drop %s: %w", t.name, err)
		}
	}
	return nil
}

var importStatements = map[string]string{
	"stagedPartner": `SELECT name, users, scores, existed FROM import_partners WHERE id = ?`,
	"stagePartner":  `INSERT INTO import_partners (id, name, users, scores, existed) VALUES (?, ?, ?, ?, ?)`,
	"stageUsers":    `UPDATE import_partners SET users = 1 WHERE id = ?`,
	"stageScores":   `UPDATE import_partners SET scores = 1 WHERE id = ?`,
	"newPartner":    `INSERT INTO partners (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
	"renamePartner": `UPDATE partners SET name = ? WHERE id = ? AND name != ?`,
	"clearUsers":    `DELETE FROM users WHERE partner_id = ?`,
	"user":          `INSERT INTO users (partner_id, email, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
	"roles":         rolesInsert(rolesBatch),
	"stageEnrollment": `INSERT INTO import_enrollments (partner_id, specialization, attained_on, active) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	"stagedEnrollment": `SELECT count(*) FROM import_enrollments WHERE partner_id = ? AND specialization = ? AND attained_on = ?`,
	"enrollment": `INSERT INTO enrollments (partner_id, specialization, attained_on, anniversary_md, status)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (partner_id, specialization, attained_on) DO UPDATE SET status = excluded.status
		WHERE enrollments.status != excluded.status`,
	"cancel": `UPDATE outbox SET status = 'cancelled', last_error = 'enrollment removed', updated_at = ?
		WHERE status = 'pending' AND enrollment_id =
		(SELECT id FROM enrollments WHERE partner_id = ? AND specialization = ? AND attained_on = ?)`,
	"replace": `UPDATE enrollments SET status = 'removed'
		WHERE partner_id = ? AND specialization = ? AND attained_on != ? AND status = 'active' RETURNING id, attained_on`,
	"cancelReplaced": `UPDATE outbox SET status = 'cancelled', last_error = ?, updated_at = ?
		WHERE enrollment_id = ? AND status IN ('pending', 'no_recipients')`,
	"clearScores": `DELETE FROM capability_scores WHERE partner_id = ?`,
	"score": `INSERT INTO capability_scores (partner_id, designation, enterprise, smb, as_of) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
	"stageOutcome": `INSERT INTO import_outcomes (ord, partner_id, specialization, anniversary_on, renewed_on, at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"stagedOutcomes": `SELECT ord, partner_id, specialization, anniversary_on, renewed_on, at FROM import_outcomes
		WHERE ord > ? ORDER BY ord LIMIT 500`,
}

func (w *ImportWriter) exec(name string, args ...any) (int64, error) {
	r, err := w.st[name].ExecContext(w.ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Partner implements importer.Sink: it upserts the partner the first time the import names it, and
// deletes its stored users (scores) the first time the import gives them.
func (w *ImportWriter) Partner(id, name string, users, scores bool) (string, error) {
	p := &w.last
	if !w.known || p.id != id {
		var staged struct {
			name                   string
			users, scores, existed int
		}
		err := w.st["stagedPartner"].QueryRowContext(w.ctx, id).Scan(&staged.name, &staged.users, &staged.scores, &staged.existed)
		switch {
		case err == sql.ErrNoRows:
			n, err := w.exec("newPartner", id, name)
			if err != nil {
				return "", err
			}
			existed := n == 0
			if existed {
				if _, err := w.exec("renamePartner", name, id, name); err != nil {
					return "", err
				}
			}
			if _, err := w.exec("stagePartner", id, name, flag(users), flag(scores), flag(existed)); err != nil {
				return "", err
			}
			w.res.Partners++
			*p = stagedPartner{id: id, name: name, existed: existed, users: users, scores: scores}
			w.known = true
			if err := w.clear(p, users, scores); err != nil {
				return "", err
			}
			return name, nil
		case err != nil:
			return "", fmt.Errorf("stagedPartner: %w", err)
		}
		*p = stagedPartner{id: id, name: staged.name, users: staged.users == 1, scores: staged.scores == 1, existed: staged.existed == 1}
		w.known = true
	}
	if p.name != name {
		return p.name, nil
	}
	newUsers, newScores := users && !p.users, scores && !p.scores
	if newUsers {
		if _, err := w.exec("stageUsers", id); err != nil {
			return "", err
		}
		p.users = true
	}
	if newScores {
		if _, err := w.exec("stageScores", id); err != nil {
			return "", err
		}
		p.scores = true
	}
	return name, w.clear(p, newUsers, newScores)
}

// clear deletes a stored partner's users and scores when the import first gives them.
func (w *ImportWriter) clear(p *stagedPartner, users, scores bool) error {
	if !p.existed {
		return nil
	}
	if users {
		if err := w.flushRoles(); err != nil {
			return err
		}
		if _, err := w.exec("clearUsers", p.id); err != nil {
			return err
		}
	}
	if scores {
		if _, err := w.exec("clearScores", p.id); err != nil {
			return err
		}
	}
	return nil
}

// User implements importer.Sink.
func (w *ImportWriter) User(partnerID string, u renewal.User) (bool, error) {
	n, err := w.exec("user", partnerID, u.Email, u.Name)
	if err != nil {
		return false, err
	}
	if n == 0 {
		return true, nil // the partner's stored users were deleted: this one came earlier in the import
	}
	for _, r := range u.Roles {
		w.roles = append(w.roles, partnerID, u.Email, r, renewal.RoleKey(r))
		if len(w.roles) == 4*rolesBatch {
			if err := w.flushRoles(); err != nil {
				return false, err
			}
		}
	}
	w.res.Users++
	return false, nil
}

// Enrollment implements importer.Sink.
func (w *ImportWriter) Enrollment(e renewal.Enrollment) (dup, activeTaken bool, err error) {
	attained := e.AttainedOn.String()
	n, err := w.exec("stageEnrollment", e.PartnerID, e.Specialization, attained, flag(e.Status == renewal.StatusActive))
	if err != nil {
		return false, false, err
	}
	if n == 0 { // the same enrollment given before, or another active one of the specialization
		var same int
		if err := w.st["stagedEnrollment"].QueryRowContext(w.ctx, e.PartnerID, e.Specialization, attained).Scan(&same); err != nil {
			return false, false, fmt.Errorf("stagedEnrollment: %w", err)
		}
		return same > 0, same == 0, nil
	}
	if _, err := w.exec("enrollment", e.PartnerID, e.Specialization, attained, e.AttainedOn.MonthDay(), string(e.Status)); err != nil {
		return false, false, err
	}
	w.res.Enrollments++
	// A partner new to the store holds no enrollment but this import's, of which at most one is active
	// per specialization: nothing to replace, nothing to cancel.
	existed := !w.known || w.last.id != e.PartnerID || w.last.existed
	switch {
	case e.Status == renewal.StatusActive && existed:
		r, c, err := replaceEnrollments(w.ctx, w.st, e.PartnerID, e, w.ts)
		if err != nil {
			return false, false, err
		}
		w.res.ReplacedEnrollments += r
		w.res.CancelledReminders += c
	case e.Status == renewal.StatusRemoved:
		w.res.RemovedEnrollments++
		if existed {
			n, err := w.exec("cancel", w.ts, e.PartnerID, e.Specialization, attained)
			if err != nil {
				return false, false, err
			}
			w.res.CancelledReminders += int(n)
		}
	}
	return false, false, nil
}

// Score implements importer.Sink.
func (w *ImportWriter) Score(partnerID string, sc renewal.CapabilityScore) (bool, error) {
	asOf := sc.AsOf
	if asOf.IsZero() {
		asOf = w.today // an entry without its day describes the day of the import (issue 26)
	}
	n, err := w.exec("score", partnerID, sc.Designation, metricsJSON(sc.Enterprise), metricsJSON(sc.SMB), asOf.String())
	if err != nil {
		return false, err
	}
	return n == 0, nil
}

// Outcome implements importer.Sink: outcomes are staged, and recorded once every partner is written.
func (w *ImportWriter) Outcome(o renewal.Outcome) (bool, error) {
	w.ord++
	n, err := w.exec("stageOutcome", w.ord, o.PartnerID, o.Specialization, o.Anniversary.String(), o.RenewedOn.String(), o.Where)
	if err != nil {
		return false, err
	}
	return n == 0, nil
}

// recordOutcomes records the staged outcomes in the order given, a page at a time.
func (w *ImportWriter) recordOutcomes() error {
	var after int64
	for {
		var page []struct {
			Ord         int64  `db:"ord"`
			PartnerID   string `db:"partner_id"`
			Spec        string `db:"specialization"`
			Anniversary string `db:"anniversary_on"`
			RenewedOn   string `db:"renewed_on"`
			At          string `db:"at"`
		}
		if err := w.st["stagedOutcomes"].SelectContext(w.ctx, &page, after); err != nil {
			return fmt.Errorf("staged outcomes: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, r := range page {
			ann, err := stagedDate(r.Anniversary)
			if err != nil {
				return fmt.Errorf("staged outcome %d: %w", r.Ord, err)
			}
			on, err := stagedDate(r.RenewedOn)
			if err != nil {
				return fmt.Errorf("staged outcome %d: %w", r.Ord, err)
			}
			n, err := recordOutcome(w.ctx, w.tx, renewal.Outcome{PartnerID: r.PartnerID, Specialization: r.Spec,
				Anniversary: ann, RenewedOn: on, Where: r.At}, w.ts)
			if err != nil {
				return err
			}
			w.res.Outcomes++
			w.res.RenewedCancelled += n
			after = r.Ord
		}
	}
}

// stagedDate reads back a date staged as text ("" for the zero date).
func stagedDate(s string) (renewal.Date, error) {
	if s == "" {
		return renewal.Date{}, nil
	}
	return renewal.ParseDate(s)
}
