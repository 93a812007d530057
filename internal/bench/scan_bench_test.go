package bench

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/benchgen"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
)

// loadedDB returns a database holding about n generated enrollments.
func loadedDB(b *testing.B, n int) (*store.DB, int) {
	b.Helper()
	return loadedDBAt(b, n, "")
}

// loadedDBAt is loadedDB with the database file at path ("": in a temporary directory).
func loadedDBAt(b *testing.B, n int, path string) (*store.DB, int) {
	b.Helper()
	dir := b.TempDir()
	if path == "" {
		path = filepath.Join(dir, "r.db")
	}
	f, err := benchgen.Generate(dir, benchgen.PartnersFor(n), 1)
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	importFiles(b, db, f.Users, f.Specializations)
	return db, f.Enrollments
}

func scanner(db *store.DB) *scheduler.Scanner {
	return &scheduler.Scanner{DB: db, Rules: renewal.DefaultRules(), Catalog: renewal.DefaultCatalog(),
		Roles: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()), MessageIDDomain: "example.com",
		Logger: slog.New(slog.DiscardHandler)}
}

// BenchmarkTick is the daily scan + enqueue (no delivery): each iteration scans the next day of
// 2025, so every iteration queues that day's reminders.
func BenchmarkTick(b *testing.B) {
	for _, n := range sizes(b, 10_000, 100_000, 1_000_000) {
		b.Run(fmt.Sprintf("enrollments=%d", n), func(b *testing.B) {
			db, _ := loadedDB(b, n)
			s := scanner(db)
			day := renewal.NewDate(2025, 1, 1)
			// The daemon has been running: the enrollments have arrived (R14) in an earlier tick.
			if _, err := s.ScanDaily(ctx, day.AddDays(-1), day.AddDays(-1), time.Now()); err != nil {
				b.Fatal(err)
			}
			queued := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := s.ScanDaily(ctx, day, day, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				queued += st.Queued + st.NoRecipients
				day = day.AddDays(1)
			}
			b.StopTimer()
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(per.Seconds()*1000, "ms/tick")
			b.ReportMetric(float64(queued)/float64(b.N), "reminders/tick")
			if queued > 0 {
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(queued), "µs/reminder")
			}
		})
	}
}

// rawBaseline is the limit for outbox writes: prepared inserts of rows the outbox's shape (same
// columns, same unique key) into a fresh table, one transaction.
func rawBaseline(b *testing.B, db *store.DB, rows int) time.Duration {
	b.Helper()
	d, err := rawInsertBaseline(ctx, db.Path(), rows)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkBackfill backfills a whole year over about n enrollments, and in the same run inserts as
// many rows with plain prepared statements: outbox rows written per second against the raw rate.
func BenchmarkBackfill(b *testing.B) {
	for _, n := range sizes(b, 10_000, 100_000) {
		b.Run(fmt.Sprintf("enrollments=%d", n), func(b *testing.B) {
			var took, raw time.Duration
			rows := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db, _ := loadedDB(b, n)
				s := scanner(db)
				b.StartTimer()
				start := time.Now()
				st, err := s.Scan(ctx, renewal.NewDate(2025, 1, 1), renewal.NewDate(2025, 12, 31), scheduler.Queue, time.Now())
				took += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				written := st.Queued + st.Superseded + st.NoRecipients
				rows += written
				raw += rawBaseline(b, db, written)
			}
			b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
			b.ReportMetric(float64(rows)/raw.Seconds(), "raw-rows/s")
			b.ReportMetric(raw.Seconds()/took.Seconds()*100, "%-of-raw")
			b.ReportMetric(float64(rows)/float64(b.N), "rows")
		})
	}
}
