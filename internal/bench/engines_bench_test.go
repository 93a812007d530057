package bench

import (
	"fmt"
	"log/slog"
	"net/mail"
	"path/filepath"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/benchgen"
	"github.com/renewald/renewald/internal/pgtest"
	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

// openOn opens an empty database on engine (PostgreSQL: a fresh database of the test server).
func openOn(b *testing.B, engine store.Engine) *store.DB {
	b.Helper()
	var db *store.DB
	var err error
	if engine == store.Postgres {
		db, err = store.OpenPostgres(ctx, pgtest.DSN(b))
	} else {
		db, err = store.Open(ctx, filepath.Join(b.TempDir(), "r.db"))
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// loadedOn is loadedDB on engine.
func loadedOn(b *testing.B, engine store.Engine, n int) *store.DB {
	b.Helper()
	f, err := benchgen.Generate(b.TempDir(), benchgen.PartnersFor(n), 1)
	if err != nil {
		b.Fatal(err)
	}
	db := openOn(b, engine)
	importFiles(b, db, f.Users, f.Specializations)
	return db
}

// BenchmarkEngines measures the tick, the one-year backfill and delivery on SQLite and on PostgreSQL
// in the same run, so BENCHMARKS.md can give one engine's figures as ratios of the other's.
// RENEWALD_BENCH_N sets the enrollments (tick, backfill) and reminders (delivery).
func BenchmarkEngines(b *testing.B) {
	for _, n := range sizes(b, 10_000) {
		for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
			b.Run(fmt.Sprintf("tick/engine=%s/enrollments=%d", engine, n), func(b *testing.B) {
				db := loadedOn(b, engine, n)
				s := scanner(db)
				day := renewal.NewDate(2025, 1, 1)
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
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/tick")
				if queued > 0 {
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(queued), "µs/reminder")
				}
			})
			b.Run(fmt.Sprintf("backfill/engine=%s/enrollments=%d", engine, n), func(b *testing.B) {
				var took time.Duration
				rows := 0
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					s := scanner(loadedOn(b, engine, n))
					b.StartTimer()
					start := time.Now()
					st, err := s.Scan(ctx, renewal.NewDate(2025, 1, 1), renewal.NewDate(2025, 12, 31), scheduler.Queue, time.Now())
					took += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					rows += st.Queued + st.Superseded + st.NoRecipients
				}
				b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
			})
			b.Run(fmt.Sprintf("deliver/engine=%s/reminders=%d", engine, n/2), func(b *testing.B) {
				var took time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					db := openOn(b, engine)
					queueReminders(b, db, n/2)
					srv, err := smtptest.Start()
					if err != nil {
						b.Fatal(err)
					}
					tmpl, _ := templates.Load("")
					tr, _ := notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none"})
					d := &notify.Deliverer{
						Outbox:    &store.Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: 5 * time.Minute},
						Transport: tr,
						Renderer: &notify.Renderer{Templates: tmpl, Catalog: renewal.DefaultCatalog(), Rules: renewal.DefaultRules(),
							From: &mail.Address{Address: "renewals@example.com"}, Location: time.UTC},
						Now: func() time.Time { return sendDay }, BatchSize: 100, MaxAttempts: 8, BackoffBase: time.Minute,
						Logger: slog.New(slog.DiscardHandler),
					}
					b.StartTimer()
					start := time.Now()
					st, err := d.Deliver(ctx)
					took += time.Since(start)
					b.StopTimer()
					if err != nil || st.Sent != n/2 {
						b.Fatalf("sent %d of %d: %v", st.Sent, n/2, err)
					}
					srv.Close()
				}
				b.ReportMetric(float64(n/2*b.N)/took.Seconds(), "msgs/s")
			})
		}
	}
}
