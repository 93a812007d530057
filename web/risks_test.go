package web

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
)

// addScoredPartners imports 90 partners with one enrollment each, attained on days spread over
// the fixture's range: one in three short of points on every designation of its specialization
// (at risk), one in three qualified, one in three without scores.
func addScoredPartners(t *testing.T, db *store.DB) (atRisk int) {
	t.Helper()
	cat := renewal.DefaultCatalog()
	specs := cat.Specializations()
	var ps []*renewal.Partner
	for i := 0; i < 90; i++ {
		spec := specs[i%len(specs)]
		p := &renewal.Partner{ID: fmt.Sprintf("scored%03d", i), Name: fmt.Sprintf("Scored %d", i),
			Enrollments: []renewal.Enrollment{{Specialization: spec.Name, AttainedOn: d("2022-03-01").AddDays(i * 2), Status: renewal.StatusActive}}}
		if i%3 != 2 {
			p.ScoresGiven = true
			for _, dn := range spec.Designations {
				des, _ := cat.Designation(dn)
				points := map[string]int{}
				for _, m := range des.Metrics {
					points[m] = 100/len(des.Metrics) + 1
					if i%3 == 0 {
						points[m] = 1
					}
				}
				p.Scores = append(p.Scores, renewal.CapabilityScore{Designation: des.Name, Enterprise: points})
			}
		}
		if i%3 == 0 {
			atRisk++
		}
		ps = append(ps, p)
	}
	if _, err := db.Import(context.Background(), ps, fixtureNow); err != nil {
		t.Fatal(err)
	}
	return atRisk
}

func keysOf(rows []timelineRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r.EnrollmentID, " ", r.AnniversaryOn, " ", r.PartnerName))
	}
	return out
}

// TestAtRiskThroughTheRiskList: with the risk list current, the at-risk timeline walks only the
// listed enrollments (a budget of the list's size suffices, where judging every enrollment runs
// out) and shows exactly the rows that judging every enrollment shows; after an import or with
// another catalog the list is not current and the pages judge every enrollment again.
func TestAtRiskThroughTheRiskList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.server(t, nil)
	addScoredPartners(t, f.db)
	q := timelineQuery{From: d("2026-03-01"), To: d("2027-02-28"), AtRisk: true}
	all, err := s.timeline(ctx, q, 1000, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Rows) < 20 {
		t.Fatalf("only %d renewals at risk in the fixture", len(all.Rows))
	}
	for _, r := range all.Rows {
		if !r.AtRisk || r.PartnerName == "" {
			t.Fatalf("row %+v is not at risk or has no partner name", r.Entry)
		}
	}
	small := len(all.Rows) + 5 // enrollments the walk may examine: fewer than the range holds
	if res, err := s.timeline(ctx, q, 1000, small); err != nil || !res.Partial {
		t.Fatalf("without the list, a budget of %d did not run out (partial %v, %v)", small, res.Partial, err)
	}
	distinct := map[int64]bool{}
	for _, r := range all.Rows {
		distinct[r.EnrollmentID] = true
	}
	rs, err := scheduler.RefreshRisks(ctx, f.db, f.opts.Catalog, renewal.Freshness{On: renewal.DateOf(fixtureNow, time.UTC)})
	if err != nil || !rs.Rebuilt || rs.AtRisk < len(distinct) {
		t.Fatalf("refresh: %+v %v", rs, err)
	}
	if again, err := scheduler.RefreshRisks(ctx, f.db, f.opts.Catalog, renewal.Freshness{On: renewal.DateOf(fixtureNow, time.UTC)}); err != nil || again.Rebuilt {
		t.Errorf("a current list was rebuilt: %+v %v", again, err)
	}
	listed, err := s.timeline(ctx, q, 1000, small)
	if err != nil {
		t.Fatal(err)
	}
	if listed.Partial || !slices.Equal(keysOf(listed.Rows), keysOf(all.Rows)) {
		t.Errorf("through the list (partial %v):\n%q\njudging every enrollment:\n%q", listed.Partial, keysOf(listed.Rows), keysOf(all.Rows))
	}
	// An import makes the list stale: the pages judge every enrollment, and still find them all.
	p := []*renewal.Partner{{ID: "late", Name: "Late Partner", Enrollments: []renewal.Enrollment{
		{Specialization: "Finance", AttainedOn: d("2021-06-15"), Status: renewal.StatusActive}}}}
	if _, err := f.db.Import(ctx, p, fixtureNow); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.db.RiskListCurrent(ctx, f.opts.Catalog.Fingerprint()); err != nil || ok {
		t.Errorf("the list is current after an import (%v)", err)
	}
	if res, err := s.timeline(ctx, q, 1000, 1_000_000); err != nil || !slices.Equal(keysOf(res.Rows), keysOf(all.Rows)) {
		t.Errorf("after an import: %q (%v)", keysOf(res.Rows), err)
	}
	if ok, _ := f.db.RiskListCurrent(ctx, "another catalog"); ok {
		t.Error("the list is current for another catalog")
	}
}
