package bench

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/benchgen"
	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
	"github.com/renewald/renewald/web"
)

// BenchmarkWebPages measures the server time of every status page (issue 20: at most 100 ms, median
// and p95) over about n enrollments with about 3n outbox rows: a 73-day backfill ending on the
// pages' today, 2026-01-01.
func BenchmarkWebPages(b *testing.B) {
	for _, n := range sizes(b, 100_000, 1_000_000) {
		b.Run(fmt.Sprintf("enrollments=%d", n), func(b *testing.B) {
			db := webDB(b, n)
			counts, err := storetest.Outbox(db).CountByStatus(ctx)
			if err != nil {
				b.Fatal(err)
			}
			total := 0
			for _, c := range counts {
				total += c
			}
			fmt.Printf("web pages over %d enrollments, %d outbox rows\n", n, total)
			rows, err := storetest.Outbox(db).ListAfter(ctx, store.Filter{Status: store.StatusPending}, store.Cursor{}, 1)
			if err != nil || len(rows) == 0 {
				b.Fatalf("no pending row: %v", err)
			}
			today := renewal.NewDate(2026, 1, 1)
			h := webHandler(b, db, today, renewal.DefaultCatalog())
			// A server whose catalog judges alike but is not the one the risk list was built with
			// (a catalog changed since the last tick): the at-risk lists judge every enrollment.
			stale := webHandler(b, db, today, otherCatalog(b))
			pages := []string{"/", "/outbox", "/outbox?status=pending", "/outbox?status=no_recipients&due_from=2025-12-01",
				fmt.Sprintf("/outbox?partner=%s", rows[0].PartnerID), fmt.Sprintf("/outbox/%d", rows[0].ID),
				fmt.Sprintf("/partners/%s", rows[0].PartnerID), "/renewals", "/renewals?area=Security", "/renewals?at_risk=1",
				fmt.Sprintf("/renewals?partner=%s", rows[0].PartnerID), "/renewals?from=2026-03-01&to=2026-12-31&area=Modern+Work"}
			b.ResetTimer()
			// Every request of a page counts, those of the benchmark's first, one-iteration run too.
			served := map[string][]time.Duration{}
			type page struct {
				name, path string
				h          http.Handler
			}
			var all []page
			for _, p := range pages {
				all = append(all, page{p, p, h})
			}
			for _, p := range []string{"/", "/renewals?at_risk=1"} {
				all = append(all, page{p + " (risk list stale)", p, stale})
			}
			for i, p := range all {
				b.Run(fmt.Sprintf("page=%d", i), func(b *testing.B) {
					for i := 0; i < max(b.N, 20); i++ {
						rec := httptest.NewRecorder()
						t0 := time.Now()
						p.h.ServeHTTP(rec, httptest.NewRequest("GET", p.path, nil))
						served[p.name] = append(served[p.name], time.Since(t0))
						if rec.Code != 200 {
							b.Fatalf("%s: %d", p.path, rec.Code)
						}
					}
				})
			}
			for _, pg := range all {
				p, ds := pg.name, served[pg.name]
				slices.Sort(ds)
				p50, p95 := ds[len(ds)/2], ds[len(ds)*95/100]
				// Printed, not logged: a benchmark's log is cut after a few lines.
				fmt.Printf("web page %-60s p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms  (%d requests)\n", p,
					ms(p50), ms(p95), ms(ds[len(ds)-1]), len(ds))
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// webDB returns a store over about n enrollments with about 4n outbox rows: a 73-day backfill
// ending the day before the pages' today, 2026-01-01. Seven partners in ten have capability scores
// for every designation; one scored partner in fifty is short of points (its renewals are at risk),
// so the at-risk lists judge many renewals to find a few. With RENEWALD_BENCH_WEBDB set to a
// directory, the database is kept there (one file per size) and reused by later runs: at
// 1,000,000 enrollments the import and backfill take minutes.
func webDB(b *testing.B, n int) *store.DB {
	keep := os.Getenv("RENEWALD_BENCH_WEBDB")
	path := ""
	if keep != "" {
		path = filepath.Join(keep, fmt.Sprintf("web-%d-v2.db", n)) // v2: with capability scores
		if _, err := os.Stat(path + ".done"); err == nil {
			db, err := store.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			// As the daemon's tick leaves it (a no-op when the list is current).
			if _, err := scheduler.RefreshRisks(ctx, db, renewal.DefaultCatalog(), renewal.Freshness{On: renewal.DateOf(time.Now(), time.UTC)}); err != nil {
				b.Fatal(err)
			}
			return db
		}
	}
	if path != "" {
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				b.Fatal(err)
			}
		}
	}
	db, _ := loadedDBAt(b, n, path)
	addScores(b, db, benchgen.PartnersFor(n))
	today := renewal.NewDate(2026, 1, 1)
	if _, err := scanner(db).ScanDaily(ctx, today.AddDays(-73), today.AddDays(-1), time.Now()); err != nil {
		b.Fatal(err)
	}
	if path != "" { // reused only once complete
		if err := os.WriteFile(path+".done", nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func webHandler(b *testing.B, db *store.DB, today renewal.Date, cat *renewal.Catalog, mods ...func(*web.Options)) http.Handler {
	tmpl, err := templates.Load("")
	if err != nil {
		b.Fatal(err)
	}
	rules := renewal.DefaultRules()
	roles := renewal.NewRoleMatcher(renewal.DefaultRecipientRoles())
	from, _ := mail.ParseAddress("renewals@example.com")
	now := today.Time(time.UTC).Add(12 * time.Hour)
	o := web.Options{DB: db, Outbox: &store.Outbox{DB: db, RoleKeys: roles.Keys()}, Catalog: cat, Rules: rules, Roles: roles,
		Renderer: &notify.Renderer{Templates: tmpl, Catalog: cat, Rules: rules, From: from, Location: time.UTC},
		Location: time.UTC, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}
	for _, mod := range mods {
		mod(&o)
	}
	h, err := web.New(o)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// addScores imports capability scores for the partners numbered as benchgen numbers them: partners
// 1, 2, … (ids 1000001, …); those with p%10 < 7 are scored, and those with p%500 == 0 are short.
func addScores(b *testing.B, db *store.DB, partners int) {
	cat := renewal.DefaultCatalog()
	var designations []*renewal.Designation
	seen := map[string]bool{}
	for _, sp := range cat.Specializations() {
		for _, dn := range sp.Designations {
			if d, err := cat.Designation(dn); err == nil && !seen[d.Name] {
				seen[d.Name] = true
				designations = append(designations, d)
			}
		}
	}
	_, err := db.ImportStream(ctx, time.Now(), store.ImportOptions{}, func(w *store.ImportWriter) error {
		for p := 1; p <= partners; p++ {
			if p%10 >= 7 {
				continue
			}
			id := fmt.Sprintf("%07d", 1000000+p)
			if _, err := w.Partner(id, fmt.Sprintf("Partner %d", p), false, true); err != nil {
				return err
			}
			for _, d := range designations {
				points := map[string]int{}
				for _, m := range d.Metrics {
					points[m] = 100 / len(d.Metrics)
					if p%500 == 0 {
						points[m] = 1
					}
				}
				if _, err := w.Score(id, renewal.CapabilityScore{Designation: d.Name, Enterprise: points}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("scores: %v", err)
	}
}
