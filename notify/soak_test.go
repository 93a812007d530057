package notify_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/store"
)

// retryLog records every retry the deliverer schedules, on top of the real store outbox.
type retryLog struct {
	*store.Outbox
	mu      sync.Mutex
	delays  map[int64][]time.Duration // per row, the wait before each retry
	retries int
}

func (r *retryLog) MarkRetry(ctx context.Context, id int64, now, next time.Time, reason string) error {
	r.mu.Lock()
	r.delays[id] = append(r.delays[id], next.Sub(now))
	r.retries++
	r.mu.Unlock()
	return r.Outbox.MarkRetry(ctx, id, now, next, reason)
}

// TestFlakySMTPSoak delivers through a server that answers 451 to 30 % of transactions, drops 5 %
// mid-DATA, stalls now and then, and refuses a set of addresses with 550. Full size:
// RENEWALD_SOAK_REMINDERS=5000.
func TestFlakySMTPSoak(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		n := 1000
		if v := os.Getenv("RENEWALD_SOAK_REMINDERS"); v != "" {
			n, _ = strconv.Atoi(v)
		}
		f := newFixtureOn(t, engine, n)
		rng := rand.New(rand.NewPCG(7, 11))
		var mu sync.Mutex
		refused := map[string]bool{}
		for i := 1; i <= n; i += 97 {
			refused[fmt.Sprintf("u%d@p.example", i)] = true
		}
		f.srv.Decide = func(rcpt string, _ int) smtptest.Fault {
			if refused[rcpt] {
				return smtptest.Perm550
			}
			mu.Lock()
			x := rng.Float64()
			mu.Unlock()
			switch {
			case x < 0.30:
				return smtptest.Temp451
			case x < 0.35:
				return smtptest.DropData
			case x < 0.352:
				return smtptest.Stall
			}
			return smtptest.OK
		}
		log := &retryLog{Outbox: f.ob, delays: map[int64][]time.Duration{}}
		f.d.Outbox = log
		f.d.MaxAttempts = 14
		f.d.BatchSize = 100
		jr := rand.New(rand.NewPCG(3, 5))
		f.d.Jitter = jr.Float64
		tr, _ := newSMTP(f.srv, 300*time.Millisecond)
		f.d.Transport = tr

		start := time.Now()
		rounds := 0
		for ; rounds < 60; rounds++ {
			if _, err := f.d.Deliver(ctx); err != nil {
				t.Fatal(err)
			}
			c := f.counts(t)
			if c[store.StatusPending] == 0 && c[store.StatusSending] == 0 {
				break
			}
			rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
			earliest := time.Time{}
			for _, r := range rows {
				if r.NextAttemptAt != nil {
					at, _ := time.Parse(store.TimeFormat, *r.NextAttemptAt)
					if earliest.IsZero() || at.Before(earliest) {
						earliest = at
					}
				}
			}
			// The daemon polls the outbox every minute; stepping 30 minutes past the earliest retry lets
			// one round take the retries that fall due together.
			if earliest.After(f.clock.Now()) {
				f.clock.Add(earliest.Sub(f.clock.Now()) + 30*time.Minute)
			}
		}
		elapsed := time.Since(start)
		c := f.counts(t)
		if c[store.StatusSent] != n-len(refused) || c[store.StatusFailed] != len(refused) || c[store.StatusSending] != 0 {
			t.Fatalf("counts %v, want %d sent and %d failed", c, n-len(refused), len(refused))
		}
		failed, _ := f.ob.List(ctx, store.Filter{Status: store.StatusFailed})
		for _, r := range failed {
			if !refused[*r.Recipient] || !strings.Contains(*r.LastError, "550") || !strings.Contains(*r.LastError, "unavailable") || r.Attempts != 1 {
				t.Errorf("failed row %d %s attempts %d: %s", r.ID, *r.Recipient, r.Attempts, *r.LastError)
			}
		}
		// No retry storm: each retry waited at least half of base·2^(n−1) (the jitter floor), at most 6 h.
		maxAttempts := 0
		for id, ds := range log.delays {
			for i, d := range ds {
				floor := min(time.Duration(float64(time.Minute)*float64(int(1)<<i)*0.5), 6*time.Hour) // the cap holds past retry 10
				if d < floor || d > 6*time.Hour {
					t.Errorf("row %d retry %d waited %s, want ≥ %s and ≤ 6h", id, i+1, d, floor)
				}
			}
			maxAttempts = max(maxAttempts, len(ds)+1)
		}
		// Each server transaction is one attempt: the server saw no more than the deliverer recorded.
		faults := f.srv.Faults()
		total := 0
		for _, v := range faults {
			total += v
		}
		sent, _ := f.ob.List(ctx, store.Filter{Status: store.StatusSent})
		attempts := 0
		for _, r := range sent {
			attempts += r.Attempts
		}
		if total > attempts+len(refused) {
			t.Errorf("server saw %d transactions for %d recorded attempts", total, attempts+len(refused))
		}
		t.Logf("reminders %d: sent %d, failed (550) %d; retries %d, most attempts for one reminder %d; delivery rounds %d; "+
			"faults 451=%d drop=%d stall=%d 550=%d; wall time %s", n, c[store.StatusSent], c[store.StatusFailed], log.retries,
			maxAttempts, rounds+1, faults[smtptest.Temp451], faults[smtptest.DropData], faults[smtptest.Stall], faults[smtptest.Perm550], elapsed.Round(time.Millisecond))
		fmt.Fprintf(os.Stderr, "SOAK reminders=%d sent=%d failed=%d retries=%d max_attempts=%d rounds=%d t451=%d drop=%d stall=%d p550=%d wall=%s\n",
			n, c[store.StatusSent], c[store.StatusFailed], log.retries, maxAttempts, rounds+1,
			faults[smtptest.Temp451], faults[smtptest.DropData], faults[smtptest.Stall], faults[smtptest.Perm550], elapsed.Round(time.Millisecond))
	})
}
