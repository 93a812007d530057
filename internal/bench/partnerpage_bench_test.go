package bench

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// BenchmarkPartnerPage measures the partner page of one partner with n users (1,000,000 by
// default; one in a hundred a Global admin) through the streamed import: the first page, one in the
// middle and the last, each 20 times: server time, bytes and bytes allocated a request (issue 25).
func BenchmarkPartnerPage(b *testing.B) {
	for _, n := range sizes(b, 1_000_000) {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			db := bigPartnerDB(b, n)
			h := webHandler(b, db, renewal.NewDate(2026, 1, 1), renewal.DefaultCatalog())
			mid, last := fmt.Sprintf("u%07d@big.example", n/2), fmt.Sprintf("u%07d@big.example", max(0, n-51))
			b.ResetTimer()
			for _, path := range []string{"/partners/big", "/partners/big?users_after=" + mid, "/partners/big?users_after=" + last} {
				var ds []time.Duration
				var size int
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				for range max(b.N, 20) {
					rec := httptest.NewRecorder()
					t0 := time.Now()
					h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
					ds = append(ds, time.Since(t0))
					if rec.Code != 200 {
						b.Fatalf("%s: %d", path, rec.Code)
					}
					size = rec.Body.Len()
				}
				runtime.ReadMemStats(&ms1)
				slices.Sort(ds)
				fmt.Printf("partner page, %d users: %-50s p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms  %d bytes  %.1f MB allocated a request (%d requests)\n",
					n, path, ms(ds[len(ds)/2]), ms(ds[len(ds)*95/100]), ms(ds[len(ds)-1]), size,
					float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(len(ds))/1e6, len(ds))
			}
		})
	}
}

// bigPartnerDB returns a store holding one partner, "big", with n users u0000000@big.example, …
// (kept in RENEWALD_BENCH_WEBDB when set, as webDB keeps its databases).
func bigPartnerDB(b *testing.B, n int) *store.DB {
	dir := os.Getenv("RENEWALD_BENCH_WEBDB")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("bigpartner-%d.db", n))
	if _, err := os.Stat(path + ".done"); err != nil {
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				b.Fatal(err)
			}
		}
		db, err := store.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		_, err = db.ImportStream(ctx, time.Now(), store.ImportOptions{}, func(w *store.ImportWriter) error {
			if _, err := w.Partner("big", "Big Partner", true, false); err != nil {
				return err
			}
			for i := range n {
				role := "Sales"
				if i%100 == 0 {
					role = "Global admin"
				}
				if _, err := w.User("big", renewal.User{Email: fmt.Sprintf("u%07d@big.example", i), Name: fmt.Sprintf("User %d", i), Roles: []string{role}}); err != nil {
					return err
				}
			}
			_, _, err := w.Enrollment(renewal.Enrollment{PartnerID: "big", Specialization: "Finance", AttainedOn: renewal.NewDate(2021, 6, 10), Status: renewal.StatusActive})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("imported one partner with %d users in %s\n", n, time.Since(t0).Round(time.Second))
		db.Close()
		if err := os.WriteFile(path+".done", nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
