package notify_test

import (
	"testing"
	"time"

	"github.com/renewald/renewald/store"
)

// TestMailOutageDoesNotLoseReminders: the relay is down (connection refused) for 60 hours. With
// max_attempts 8 and a 60 s backoff base the attempts run out in about two hours, but a temporary
// failure ends failed only once max_attempts is reached and the first attempt is older than
// give_up_after_hours (72): the rows stay pending with their backoff (at most 6 h) through the
// weekend and go out when the relay is back; a relay that never comes back gives up after 72 h.
func TestMailOutageDoesNotLoseReminders(t *testing.T) {
	run := func(t *testing.T, down time.Duration) (*fixture, time.Time) {
		f := newFixture(t, 3)
		f.d.GiveUpAfter = 72 * time.Hour
		start := f.clock.Now()
		addr := f.srv.Addr
		f.srv.Close()
		restarted := false
		for f.clock.Now().Sub(start) < 80*time.Hour {
			if f.clock.Now().Sub(start) >= down && !restarted {
				f.restart(t, addr)
				restarted = true
			}
			if _, err := f.d.Deliver(ctx); err != nil {
				t.Fatal(err)
			}
			c := f.counts(t)
			if c[store.StatusPending] == 0 {
				break
			}
			if c[store.StatusFailed] > 0 && f.clock.Now().Sub(start) < 72*time.Hour {
				t.Fatalf("failed after %s of outage: %v", f.clock.Now().Sub(start), c)
			}
			f.clock.Add(10 * time.Minute)
		}
		return f, start
	}
	t.Run("a weekend outage", func(t *testing.T) {
		f, start := run(t, 60*time.Hour)
		if c := f.counts(t); c[store.StatusSent] != 3 {
			t.Errorf("after the relay came back at +60 h: %v", c)
		}
		rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusSent})
		for _, r := range rows {
			sent, _ := time.Parse(time.RFC3339, *r.SentAt)
			if sent.Sub(start) < 60*time.Hour || sent.Sub(start) > 66*time.Hour || r.Attempts < 8 {
				t.Errorf("row %d sent at +%s after %d attempts (the backoff is capped at 6 h)", r.ID, sent.Sub(start), r.Attempts)
			}
		}
	})
	t.Run("a relay that never comes back", func(t *testing.T) {
		f, start := run(t, 100*time.Hour)
		c := f.counts(t)
		if c[store.StatusFailed] != 3 {
			t.Fatalf("after 80 h: %v", c)
		}
		rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusFailed})
		for _, r := range rows {
			upd, _ := time.Parse(time.RFC3339, r.UpdatedAt)
			if upd.Sub(start) < 72*time.Hour {
				t.Errorf("row %d failed at +%s", r.ID, upd.Sub(start))
			}
		}
	})
}
