package scheduler

import (
	"testing"
	"time"

	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// TestRiskListCountsStaleScoresAsUnknown: scores that say "not attained" put a renewal on the risk
// list while they are fresh; once older than scores_stale_days they count as unknown (issue 26), so
// the list rebuilt on a later day no longer holds it, as the mails no longer say [At risk].
func TestRiskListCountsStaleScoresAsUnknown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		asOf := renewal.NewDate(2026, 9, 1)
		if _, err := db.Import(ctx, []*renewal.Partner{{ID: "1", Name: "A", UsersGiven: true, ScoresGiven: true,
			Users:       []renewal.User{{Email: "a@a.example", Roles: []string{"Global admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: renewal.NewDate(2023, 6, 1), Status: renewal.StatusActive}},
			Scores: []renewal.CapabilityScore{{Designation: "Solutions Partner for Business Applications", AsOf: asOf,
				Enterprise: map[string]int{"performance": 10}}}}}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		cat := renewal.DefaultCatalog()
		for _, c := range []struct {
			on     renewal.Date
			atRisk int
		}{{asOf.AddDays(10), 1}, {asOf.AddDays(45), 1}, {asOf.AddDays(46), 0}} {
			rs, err := RefreshRisks(ctx, db, cat, renewal.Freshness{On: c.on, StaleDays: 45})
			if err != nil || !rs.Rebuilt || rs.AtRisk != c.atRisk {
				t.Errorf("on %s: %+v %v, want %d at risk", c.on, rs, err, c.atRisk)
			}
			if ok, _ := db.RiskListCurrent(ctx, cat.RiskFingerprint(renewal.Freshness{On: c.on, StaleDays: 45})); !ok {
				t.Errorf("on %s: the list just built is not current", c.on)
			}
		}
	})
}
