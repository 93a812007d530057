package notify_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// slowTransport is the real SMTP transport on a slow day: every message takes 10 s on the fake clock,
// and after the fifth a second delivery (a deliver beside the daemon) tries to claim.
type slowTransport struct {
	notify.Transport
	clock *clock
	sent  int
	mid   func()
}

type slowSession struct {
	notify.Session
	t *slowTransport
}

func (t *slowTransport) Open(ctx context.Context) (notify.Session, error) {
	s, err := t.Transport.Open(ctx)
	if err != nil {
		return nil, err
	}
	return &slowSession{s, t}, nil
}

func (s *slowSession) Send(ctx context.Context, id int64, env *notify.Envelope) error {
	err := s.Session.Send(ctx, id, env)
	s.t.clock.Add(10 * time.Second)
	if s.t.sent++; s.t.sent == 5 {
		s.t.mid()
	}
	return err
}

// TestBatchLongerThanTheLease: a batch of 10 that takes 100 s with a 30 s lease keeps its claim on
// the rows it has not sent yet, so a second delivery claims none of them and nothing is sent twice.
func TestBatchLongerThanTheLease(t *testing.T) {
	f := newFixture(t, 10)
	f.ob.Lease = 30 * time.Second
	f.d.Lease = 30 * time.Second
	f.d.BatchSize = 10
	stolen := -1
	f.d.Transport = &slowTransport{Transport: f.d.Transport, clock: f.clock, mid: func() {
		rems, err := claimAs(f.ob, f.clock.Now(), 10)
		if err != nil {
			t.Error(err)
		}
		stolen = len(rems)
	}}
	st, err := f.d.Deliver(ctx)
	if err != nil || st.Sent != 10 {
		t.Fatalf("delivered %+v %v", st, err)
	}
	if stolen != 0 {
		t.Errorf("a second delivery claimed %d rows of a batch still running", stolen)
	}
	ids := map[string]int{}
	for _, m := range f.srv.Messages() {
		ids[m.MessageID]++
	}
	if len(ids) != 10 || f.srv.Count() != 10 {
		t.Errorf("%d messages, %d distinct", f.srv.Count(), len(ids))
	}
}

// stallTransport is the real transport whose first message takes 40 s on the fake clock (a stalled
// server); after it, another delivery claims what it can.
type stallTransport struct {
	notify.Transport
	clock *clock
	after func()
	sent  int
}

type stallSession struct {
	notify.Session
	t *stallTransport
}

func (t *stallTransport) Open(ctx context.Context) (notify.Session, error) {
	s, err := t.Transport.Open(ctx)
	if err != nil {
		return nil, err
	}
	return &stallSession{s, t}, nil
}

func (s *stallSession) Send(ctx context.Context, id int64, env *notify.Envelope) error {
	err := s.Session.Send(ctx, id, env)
	if s.t.sent++; s.t.sent == 1 {
		s.t.clock.Add(40 * time.Second)
		s.t.after()
	}
	return err
}

// TestBatchLeavesRowsItLost: one message stalls past the 30 s lease and another delivery claims the
// batch's rows meanwhile; the first batch then sends none of the rest (its renewal finds the claims
// gone), so beyond the one message in flight nothing goes out twice.
func TestBatchLeavesRowsItLost(t *testing.T) {
	f := newFixture(t, 5)
	f.ob.Lease, f.d.Lease, f.d.BatchSize = 30*time.Second, 30*time.Second, 5
	other := &store.Outbox{DB: f.db, RoleKeys: f.ob.RoleKeys, Lease: 5 * time.Minute}
	var taken []renewal.Reminder
	f.d.Transport = &stallTransport{Transport: f.d.Transport, clock: f.clock, after: func() {
		var err error
		taken, err = claimAs(other, f.clock.Now(), 10)
		if err != nil {
			t.Error(err)
		}
	}}
	st, err := f.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The other took all five (the stalled one's lease had lapsed too: it is the one message that may
	// go out twice, at-least-once); this batch sent only the one in flight.
	if len(taken) != 5 || st.Sent != 1 {
		t.Fatalf("the other delivery took %d rows; this one sent %d (%+v)", len(taken), st.Sent, st)
	}
	for _, r := range taken { // the other delivery sends what it took
		if err := other.MarkSent(ctx, r.OutboxID, f.clock.Now(), "s"); err != nil {
			t.Errorf("row %d: %v", r.OutboxID, err)
		}
	}
	if n := f.srv.Count(); n != 1 {
		t.Errorf("the server got %d messages from the first batch, want 1: the rest belonged to the other delivery", n)
	}
}

// TestLeaseLostIsOneSentinel: the store's lost-claim error, wrapped as its marks wrap it, is the one
// delivery recognises with errors.Is, and no other error is.
func TestLeaseLostIsOneSentinel(t *testing.T) {
	wrapped := fmt.Errorf("mark outbox row 7: %w", store.ErrLeaseLost)
	if !errors.Is(wrapped, notify.ErrLeaseLost) {
		t.Errorf("%v is not notify.ErrLeaseLost", wrapped)
	}
	if errors.Is(errors.New(store.ErrLeaseLost.Error()), notify.ErrLeaseLost) {
		t.Error("an error with the same text counts as a lost claim")
	}
}
