package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/renewald/renewald/importer"
	"github.com/renewald/renewald/internal/benchgen"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

var ctx = context.Background()

// importFiles runs the import path the command runs: parse and validate, then one transaction.
func importFiles(tb testing.TB, db *store.DB, files ...string) int {
	ds, err := importer.Importer{Catalog: renewal.DefaultCatalog()}.Files(files...)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := db.Import(ctx, ds.Partners, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return res.Enrollments
}

// BenchmarkImportCSV imports users and specializations CSVs into a fresh database.
// -benchtime=1x with RENEWALD_BENCH_N sets the enrollment count (default 100000).
func BenchmarkImportCSV(b *testing.B) {
	for _, n := range sizes(b, 100_000, 1_000_000) {
		b.Run(fmt.Sprintf("enrollments=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			f, err := benchgen.Generate(dir, benchgen.PartnersFor(n), 1)
			if err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				db, err := store.Open(ctx, filepath.Join(b.TempDir(), "r.db"))
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				importFiles(b, db, f.Users, f.Specializations)
				total += time.Since(start)
				db.Close()
			}
			per := total / time.Duration(b.N)
			b.ReportMetric(per.Seconds(), "s/import")
			b.ReportMetric(float64(f.Enrollments)/per.Seconds(), "enrollments/s")
			b.ReportMetric(float64(f.Enrollments+f.UserRows)/per.Seconds(), "rows/s")
		})
	}
}
