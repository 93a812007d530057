package notify_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/store"
)

// TestDailyQuotaSpreadsOverDays: max_per_day = 5 with 12 due delivers 5 today, 5 the next day and 2
// the day after (fake clock); the rest wait pending with no attempt counted, next_attempt_at at the
// start of the next day in the configured zone and last_error naming the quota.
func TestDailyQuotaSpreadsOverDays(t *testing.T) {
	for _, zone := range []string{"UTC", "Europe/Amsterdam"} {
		t.Run(zone, func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, 12)
			f.d.Quota = &notify.Quota{PerDay: 5, Location: loc, Store: f.ob}
			obs := &countingObserver{}
			f.d.Observer = obs
			day := func(n int) time.Time { return time.Date(2025, 12, 30+n, 0, 0, 0, 0, loc) }
			var order []string
			for i, want := range []struct{ sent, deferred int }{{5, 7}, {5, 2}, {2, 0}} {
				st, err := f.d.Deliver(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if st.Sent != want.sent || st.Deferred != want.deferred || st.Retried != 0 {
					t.Fatalf("day %d: stats %+v, want %+v", i, st, want)
				}
				// Again the same day: nothing more goes out, nothing is claimed.
				if st, _ := f.d.Deliver(ctx); st.Claimed != 0 || st.Sent != 0 {
					t.Fatalf("day %d, second run: %+v", i, st)
				}
				pending, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
				for _, r := range pending {
					if r.Attempts != 0 || r.NextAttemptAt == nil || *r.NextAttemptAt != day(i+1).UTC().Format(time.RFC3339) ||
						*r.LastError != "daily quota of 5 reached (mail.max_per_day)" {
						t.Errorf("day %d: pending row %d: attempts %d, next %v, last_error %v", i, r.ID, r.Attempts, *r.NextAttemptAt, *r.LastError)
					}
				}
				// The next day begins at midnight in the zone.
				f.clock.mu.Lock()
				f.clock.t = day(i + 1)
				f.clock.mu.Unlock()
				for _, m := range f.srv.Messages()[len(order):] {
					order = append(order, m.To)
				}
			}
			sent, _ := f.ob.List(ctx, store.Filter{Status: store.StatusSent})
			if len(sent) != 12 || obs.deferred != 9 {
				t.Fatalf("%d sent, %d deferred in all", len(sent), obs.deferred)
			}
			for _, r := range sent {
				if r.Attempts != 1 {
					t.Errorf("row %d: %d attempts, want 1 (deferrals count none)", r.ID, r.Attempts)
				}
			}
			// In due-date order, then id: u1..u12.
			for i, to := range order {
				if want := fmt.Sprintf("u%d@p.example", i+1); to != want {
					t.Errorf("message %d went to %s, want %s", i, to, want)
				}
			}
		})
	}
}

// rendezvous lets two goroutines meet: each meet returns once the other has met too, or after a
// tenth of a second when the other cannot come (it waits on the quota lock this one holds).
type rendezvous chan struct{}

func (r rendezvous) meet() {
	select {
	case r <- struct{}{}:
	case <-r:
	case <-time.After(100 * time.Millisecond):
	}
}

// meetingQuota makes both deliverers count before either claims, the interleaving that would let
// them spend one allowance twice without the quota lock.
type meetingQuota struct {
	*store.Outbox
	r rendezvous
}

func (m meetingQuota) CountSentSince(ctx context.Context, since, now time.Time) (int, error) {
	n, err := m.Outbox.CountSentSince(ctx, since, now)
	m.r.meet()
	return n, err
}

// TestDailyQuotaHoldsAcrossDeliverers runs two deliverers, each with its own database handle (as two
// processes would), at once on 12 due messages with max_per_day = 5, both counting before either
// claims where the lock lets them: 5 go out in all.
func TestDailyQuotaHoldsAcrossDeliverers(t *testing.T) {
	for round := 0; round < 3; round++ {
		f := newFixture(t, 12)
		f.d.BatchSize = 2
		r := make(rendezvous)
		f.d.Quota = &notify.Quota{PerDay: 5, Store: meetingQuota{f.ob, r}}
		other, err := store.Open(ctx, f.db.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		ob2 := &store.Outbox{DB: other, RoleKeys: f.ob.RoleKeys, Lease: f.ob.Lease}
		tr2, err := newSMTP(f.srv, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		d2 := notify.Deliverer{Outbox: ob2, Transport: tr2, Renderer: f.d.Renderer, Now: f.d.Now, BatchSize: f.d.BatchSize,
			MaxAttempts: f.d.MaxAttempts, BackoffBase: f.d.BackoffBase, Logger: f.d.Logger,
			Quota: &notify.Quota{PerDay: 5, Store: meetingQuota{ob2, r}}}
		var wg sync.WaitGroup
		start := make(chan struct{})
		stats := make([]notify.Stats, 2)
		for i, d := range []*notify.Deliverer{f.d, &d2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, err := d.Deliver(ctx)
				if err != nil {
					t.Error(err)
				}
				stats[i] = st
			}()
		}
		close(start)
		wg.Wait()
		c := f.counts(t)
		if f.srv.Count() != 5 || c[store.StatusSent] != 5 || c[store.StatusPending] != 7 {
			t.Fatalf("round %d: server got %d, counts %v, stats %+v", round, f.srv.Count(), c, stats)
		}
	}
}

// TestMinuteQuota: max_per_minute = 4 with 10 due never has more than 4 sent in any minute, across
// the waits (the deliverer's Sleep steps the fake clock).
func TestMinuteQuota(t *testing.T) {
	f := newFixture(t, 10)
	f.d.Quota = &notify.Quota{PerMinute: 4, Store: f.ob}
	var slept time.Duration
	f.d.Sleep = func(_ context.Context, d time.Duration) error {
		slept += d
		f.clock.Add(d)
		return nil
	}
	st, err := f.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 10 {
		t.Fatalf("stats %+v", st)
	}
	rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusSent})
	var at []time.Time
	for _, r := range rows {
		ts, _ := time.Parse(time.RFC3339, *r.SentAt)
		at = append(at, ts)
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	for i := range at {
		n := 0
		for j := range at {
			if !at[j].Before(at[i]) && at[j].Before(at[i].Add(time.Minute)) {
				n++
			}
		}
		if n > 4 {
			t.Errorf("%d sent in the minute from %s", n, at[i])
		}
	}
	if slept < 2*time.Minute {
		t.Errorf("waited %s in all for 10 messages at 4 a minute", slept)
	}
	t.Logf("10 messages at 4/min: first %s, last %s, waited %s", at[0].Format(time.TimeOnly), at[len(at)-1].Format(time.TimeOnly), slept)
}
