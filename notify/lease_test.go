package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
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
		rems, _, _, err := f.ob.Claim(ctx, f.clock.Now(), renewal.DateOf(f.clock.Now(), time.UTC), 10, renewal.DefaultRules())
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
