package scheduler

import (
	"context"
	"errors"
	"fmt"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// RiskStats says what RefreshRisks did.
type RiskStats struct {
	Rebuilt  bool // false: the list was current
	Partners int  // partners with scores judged
	AtRisk   int  // enrollments on the list
}

// RefreshRisks rebuilds the store's list of enrollments at risk (R9: every designation of the
// specialization scored, none attained) when an import has written since it was built or the
// catalog judges differently (its fingerprint), so the status pages find the renewals at risk
// without judging every enrollment. A list already current is left alone. The scan calls it after
// every daily scan, and the import command after every import. Stale scores count as unknown
// (fresh, issue 26): the list is judged on fresh.On and rebuilt when that day changes.
func RefreshRisks(ctx context.Context, db *store.DB, cat *renewal.Catalog, fresh renewal.Freshness) (RiskStats, error) {
	var st RiskStats
	fp := cat.RiskFingerprint(fresh)
	if ok, err := db.RiskListCurrent(ctx, fp); err != nil || ok {
		return st, err
	}
	gen, err := db.ImportGeneration(ctx)
	if err != nil {
		return st, err
	}
	var risks []store.Risk
	after := ""
	for {
		page, err := db.ScoredPartnersAfter(ctx, after, 500)
		if err != nil {
			return st, fmt.Errorf("risk list: %w", err)
		}
		if page.Last == "" {
			break
		}
		st.Partners += len(page.Scores)
		for _, e := range page.Enrollments {
			spec, err := cat.Lookup(e.Specialization)
			if err != nil {
				continue // not in this catalog: never judged
			}
			attained, err := renewal.ParseDate(e.AttainedOn)
			if err != nil {
				return st, fmt.Errorf("risk list: enrollment %d: %w", e.ID, err)
			}
			if cat.Qualify(spec, fresh.Current(page.Scores[e.PartnerID])).AtRisk() {
				risks = append(risks, store.Risk{EnrollmentID: e.ID, MonthDay: attained.MonthDay()})
			}
		}
		after = page.Last
	}
	if err := db.ReplaceRisks(ctx, gen, fp, risks); err != nil {
		if errors.Is(err, store.ErrStaleRisks) {
			return st, nil // an import wrote meanwhile: the next call builds from its data
		}
		return st, err
	}
	st.Rebuilt, st.AtRisk = true, len(risks)
	return st, nil
}
