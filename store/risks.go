package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

// The renewals at risk (migration 0010): a list the scanner derives from the enrollments and the
// capability scores with the catalog (scheduler.RefreshRisks), so the status pages find the renewals
// at risk among a million enrollments without judging each one. It is a prefilter: the pages judge
// every renewal they show again, and use the list only while it is current (RiskListCurrent).

// Risk is one enrollment whose renewals are at risk under the catalog the list was built with.
type Risk struct {
	EnrollmentID int64
	MonthDay     string // its anniversary month-day (MM-DD)
}

// ImportGeneration returns the number of imports that have written to the database (plus one).
func (s *DB) ImportGeneration(ctx context.Context) (int64, error) {
	var g int64
	if err := s.db.GetContext(ctx, &g, `SELECT generation FROM import_state WHERE id = 1`); err != nil {
		return 0, fmt.Errorf("import generation: %w", err)
	}
	return g, nil
}

// RiskListCurrent reports whether the risk list was built from the data as the latest import left
// it and with the catalog whose fingerprint is catalog.
func (s *DB) RiskListCurrent(ctx context.Context, catalog string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, riskListCurrentQuery, catalog)
	if err != nil {
		return false, fmt.Errorf("risk list state: %w", err)
	}
	return n == 1, nil
}

const riskListCurrentQuery = `SELECT count(*) FROM renewal_risks_state r JOIN import_state i ON i.id = 1
	WHERE r.id = 1 AND r.generation = i.generation AND r.catalog = ?`

// ScoredPartners is one page of partners that have capability scores, with their scores and active
// enrollments: what RefreshRisks judges.
type ScoredPartners struct {
	Scores      map[string][]renewal.CapabilityScore
	Enrollments []EnrollmentInfo // active ones, partner name left empty
	Last        string           // the last partner id of the page ("": no more)
}

// ScoredPartnersAfter returns up to limit partners with capability scores, in id order after
// afterID, with their scores and their active enrollments.
func (s *DB) ScoredPartnersAfter(ctx context.Context, afterID string, limit int) (ScoredPartners, error) {
	var page ScoredPartners
	var ids []string
	if err := s.db.SelectContext(ctx, &ids, `SELECT DISTINCT partner_id FROM capability_scores WHERE partner_id > ?
		ORDER BY partner_id LIMIT ?`, afterID, limit); err != nil {
		return page, fmt.Errorf("scored partners: %w", err)
	}
	if len(ids) == 0 {
		return page, nil
	}
	page.Last = ids[len(ids)-1]
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	var err error
	if page.Scores, err = loadScores(ctx, s.db, set); err != nil {
		return page, err
	}
	q, args, err := sqlx.In(`SELECT id, partner_id, specialization, attained_on, status FROM enrollments
		WHERE partner_id IN (?) AND status = 'active' ORDER BY id`, ids)
	if err != nil {
		return page, fmt.Errorf("scored partners: %w", err)
	}
	if err := s.db.SelectContext(ctx, &page.Enrollments, q, args...); err != nil {
		return page, fmt.Errorf("scored partners' enrollments: %w", err)
	}
	return page, nil
}

// ErrStaleRisks is returned by ReplaceRisks when an import wrote after the list was read.
var ErrStaleRisks = errors.New("an import changed the data while the risk list was built")

// ReplaceRisks replaces the risk list with risks, built from the data of import generation
// generation with the catalog of fingerprint catalog, in one transaction; when another import has
// written since, it writes nothing and returns ErrStaleRisks.
func (s *DB) ReplaceRisks(ctx context.Context, generation int64, catalog string, risks []Risk) error {
	err := s.inTx(ctx, func(tx *rebindTx) error {
		if s.Engine() == Postgres { // an import's rebuild and a tick's on two hosts: one after the other
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('renewald.renewal_risks'))`); err != nil {
				return err
			}
		}
		var now int64
		if err := tx.GetContext(ctx, &now, `SELECT generation FROM import_state WHERE id = 1`); err != nil {
			return err
		}
		if now != generation {
			return ErrStaleRisks
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM renewal_risks`); err != nil {
			return err
		}
		st, err := tx.PreparexContext(ctx, `INSERT INTO renewal_risks (enrollment_id, anniversary_md) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range risks {
			if _, err := st.ExecContext(ctx, r.EnrollmentID, r.MonthDay); err != nil {
				return fmt.Errorf("enrollment %d: %w", r.EnrollmentID, err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO renewal_risks_state (id, generation, catalog) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, catalog = excluded.catalog`, generation, catalog)
		return err
	})
	if err != nil && !errors.Is(err, ErrStaleRisks) {
		return fmt.Errorf("replace the risk list: %w", err)
	}
	return err
}

// riskOnly is the FROM clause of an anniversary walk through the risk list.
const riskOnly = ` FROM renewal_risks r JOIN enrollments e ON e.id = r.enrollment_id
		WHERE e.status = 'active' AND r.anniversary_md = ? AND r.enrollment_id > ? AND e.attained_on < ?`
