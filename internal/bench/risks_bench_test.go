package bench

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
)

// BenchmarkRefreshRisks measures a rebuild of the risk list (scheduler.RefreshRisks) over the web
// pages' database: about n enrollments, seven partners in ten with scores. Each iteration alternates
// between the embedded catalog and the same catalog with one more specialization (another
// fingerprint, the same judgement), so every iteration rebuilds the whole list.
func BenchmarkRefreshRisks(b *testing.B) {
	other := otherCatalog(b)
	cats := []*renewal.Catalog{other, renewal.DefaultCatalog()}
	if cats[0].Fingerprint() == cats[1].Fingerprint() {
		b.Fatal("the two catalogs have one fingerprint")
	}
	var err error
	for _, n := range sizes(b, 100_000, 1_000_000) {
		b.Run(fmt.Sprintf("enrollments=%d", n), func(b *testing.B) {
			db := webDB(b, n)
			b.ResetTimer()
			var st scheduler.RiskStats
			for i := 0; i < b.N; i++ {
				if st, err = scheduler.RefreshRisks(ctx, db, cats[i%2], renewal.Freshness{On: renewal.DateOf(time.Now(), time.UTC)}); err != nil || !st.Rebuilt {
					b.Fatalf("refresh: %+v %v", st, err)
				}
			}
			b.StopTimer()
			if _, err := scheduler.RefreshRisks(ctx, db, renewal.DefaultCatalog(), renewal.Freshness{On: renewal.DateOf(time.Now(), time.UTC)}); err != nil {
				b.Fatal(err) // leave the kept database as the web benchmark expects it
			}
			b.ReportMetric(float64(st.Partners), "partners")
			b.ReportMetric(float64(st.AtRisk), "at_risk")
		})
	}
}

// otherCatalog is the embedded catalog with one more specialization: another fingerprint, the same
// judgement of every stored enrollment.
func otherCatalog(b *testing.B) *renewal.Catalog {
	raw, err := os.ReadFile("../../renewal/catalog.json")
	if err != nil {
		b.Fatal(err)
	}
	extra := strings.Replace(string(raw), `"specializations": [`, `"specializations": [
    {"name": "Benchmark Only", "area": "Azure", "validation": "none", "designations": ["Solutions Partner for Data & AI (Azure)"]},`, 1)
	other, err := renewal.ParseCatalog([]byte(extra))
	if err != nil {
		b.Fatal(err)
	}
	return other
}

// BenchmarkRecountOutbox measures the daily recount of the outbox counts (store.RecountOutbox) over
// the web pages' database: about 4n outbox rows.
func BenchmarkRecountOutbox(b *testing.B) {
	for _, n := range sizes(b, 100_000, 1_000_000) {
		b.Run(fmt.Sprintf("enrollments=%d", n), func(b *testing.B) {
			db := webDB(b, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := db.RecountOutbox(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
