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

// importFiles runs the import path the command runs: the files streamed, validated and written in
// one transaction.
func importFiles(tb testing.TB, db *store.DB, files ...string) int {
	res, err := db.ImportStream(ctx, time.Now(), store.ImportOptions{}, func(w *store.ImportWriter) error {
		_, err := importer.Importer{Catalog: renewal.DefaultCatalog()}.Stream(w, files...)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Enrollments
}

// BenchmarkImportCSV imports users and specializations CSVs into a fresh database, and inserts the
// same rows (read from the files before its clock starts) into the same tables of another fresh
// database with prepared statements in one transaction: the raw limit, in the same run.
// -benchtime=1x with RENEWALD_BENCH_N sets the enrollment count (default 100000).
func BenchmarkImportCSV(b *testing.B) {
	for _, n := range sizes(b, 100_000, 1_000_000) {
		b.Run(fmt.Sprintf("enrollments=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			f, err := benchgen.Generate(dir, benchgen.PartnersFor(n), 1)
			if err != nil {
				b.Fatal(err)
			}
			rows := f.Enrollments + f.UserRows
			var total, raw time.Duration
			for i := 0; i < b.N; i++ {
				db, err := store.Open(ctx, filepath.Join(b.TempDir(), "r.db"))
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				importFiles(b, db, f.Users, f.Specializations)
				total += time.Since(start)
				db.Close()
				d, err := rawImportBaseline(ctx, filepath.Join(b.TempDir(), "raw.db"), f.Users, f.Specializations)
				if err != nil {
					b.Fatal(err)
				}
				raw += d
			}
			per, rawPer := total/time.Duration(b.N), raw/time.Duration(b.N)
			b.ReportMetric(per.Seconds(), "s/import")
			b.ReportMetric(float64(f.Enrollments)/per.Seconds(), "enrollments/s")
			b.ReportMetric(float64(rows)/per.Seconds(), "rows/s")
			b.ReportMetric(float64(rows)/rawPer.Seconds(), "raw-rows/s")
			b.ReportMetric(100*rawPer.Seconds()/per.Seconds(), "%-of-raw")
		})
	}
}
