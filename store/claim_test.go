package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
)

func newOutbox(db *DB) *Outbox {
	return &Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: 5 * time.Minute}
}

// TestMarkNeedsTheClaimThatHoldsTheRow: a delivery whose lease ran out and whose row another
// delivery has claimed since cannot mark it, even after an operator's retry reset the attempts.
func TestMarkNeedsTheClaimThatHoldsTheRow(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		enqueueSample(t, db)
		rules, today := renewal.DefaultRules(), d("2026-01-20")
		slow, fast := newOutbox(db), newOutbox(db)
		first, _, _, err := slow.Claim(ctx, t0, today, 10, rules.ExpiryOn(today))
		if err != nil || len(first) != 1 {
			t.Fatalf("claim: %v %v", first, err)
		}
		id := first[0].OutboxID
		staleToken := slow.claims[id]
		second, _, _, err := fast.Claim(ctx, t0.Add(6*time.Minute), today, 10, rules.ExpiryOn(today))
		if err != nil || len(second) != 1 || second[0].OutboxID != id {
			t.Fatalf("re-claim after the lease: %v %v", second, err)
		}
		for name, mark := range map[string]func() error{
			"sent":    func() error { return slow.MarkSent(ctx, id, t0.Add(7*time.Minute), "s") },
			"retry":   func() error { return slow.MarkRetry(ctx, id, t0, t0.Add(time.Hour), "451") },
			"failed":  func() error { return slow.MarkFailed(ctx, id, t0, "550") },
			"expired": func() error { return slow.MarkExpired(ctx, id, t0, "late") },
			"release": func() error { return slow.Release(ctx, id, t0) },
		} {
			slow.hold(first, staleToken) // the slow delivery still holds its old claim
			if err := mark(); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("stale %s mark: %v, want ErrLeaseLost", name, err)
			}
		}
		if r, _ := newOutbox(db).Get(ctx, id); r.Status != StatusSending || r.Attempts != 2 {
			t.Fatalf("stale marks changed the row: %+v", r)
		}
		// ABA: the holder fails it, an operator retries it (attempts back to 0), it is claimed again
		// at attempt 1 — the attempt number the stale claim had. The token still tells them apart.
		if err := fast.MarkFailed(ctx, id, t0.Add(7*time.Minute), "550"); err != nil {
			t.Fatal(err)
		}
		if err := newOutbox(db).Retry(ctx, id, t0.Add(8*time.Minute)); err != nil {
			t.Fatal(err)
		}
		third, _, _, err := fast.Claim(ctx, t0.Add(9*time.Minute), today, 10, rules.ExpiryOn(today))
		if err != nil || len(third) != 1 || third[0].Attempts != first[0].Attempts {
			t.Fatalf("claim after retry: %+v %v", third, err)
		}
		slow.hold(first, staleToken)
		if err := slow.MarkSent(ctx, id, t0.Add(10*time.Minute), "s"); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("stale mark after an operator retry: %v, want ErrLeaseLost", err)
		}
		if err := fast.MarkSent(ctx, id, t0.Add(10*time.Minute), "s"); err != nil {
			t.Errorf("holder's mark: %v", err)
		}
		if r, _ := newOutbox(db).Get(ctx, id); r.Status != StatusSent {
			t.Errorf("row %+v, want sent", r)
		}
	})
}

// TestConcurrentClaimsTakeEachRowOnce: deliveries claiming at once (on PostgreSQL through
// FOR UPDATE SKIP LOCKED, on SQLite one writer at a time) never take the same row twice.
func TestConcurrentClaimsTakeEachRowOnce(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		const partners = 60
		var ps []*renewal.Partner
		for i := range partners {
			ps = append(ps, &renewal.Partner{ID: fmt.Sprintf("p%03d", i), Name: "P", UsersGiven: true,
				Users: []renewal.User{
					{Email: "a@x.example", Roles: []string{"Global admin"}},
					{Email: "b@x.example", Roles: []string{"Global admin"}},
				},
				Enrollments: []renewal.Enrollment{{Specialization: "Kubernetes on Microsoft Azure", AttainedOn: d("2023-05-20"), Status: renewal.StatusActive}}})
		}
		if _, err := db.Import(ctx, ps, t0); err != nil {
			t.Fatal(err)
		}
		ms := renewal.DefaultRules().Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2026-01-20"), d("2026-01-20"))
		var items []OutboxItem
		for e := int64(1); e <= partners; e++ {
			for _, r := range []string{"a@x.example", "b@x.example"} {
				items = append(items, OutboxItem{EnrollmentID: e, Milestone: ms[0], Recipient: r, Status: StatusPending,
					MessageID: renewal.MessageID(e, ms[0].Anniversary, ms[0].Offset, r, "example.com")})
			}
		}
		if st, err := db.Enqueue(ctx, items, t0); err != nil || st.Queued != len(items) {
			t.Fatalf("enqueue: %+v %v", st, err)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ob := newOutbox(db)
				for {
					got, _, _, err := ob.Claim(ctx, t0, d("2026-01-20"), 7, renewal.DefaultRules().ExpiryOn(d("2026-01-20")))
					if err != nil {
						errs <- err
						return
					}
					if len(got) == 0 {
						return
					}
					for _, r := range got {
						if err := ob.MarkSent(ctx, r.OutboxID, t0, "s"); err != nil {
							errs <- err
							return
						}
						mu.Lock()
						seen[r.OutboxID]++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(seen) != len(items) {
			t.Errorf("%d rows delivered of %d", len(seen), len(items))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("row %d claimed %d times", id, n)
			}
		}
	})
}
