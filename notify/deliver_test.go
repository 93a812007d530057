package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

var ctx = context.Background()

// clock is a fake clock tests step by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	db    *store.DB
	ob    *store.Outbox
	srv   *smtptest.Server
	clock *clock
	d     *notify.Deliverer
}

// newFixture queues n pending reminders (one partner per reminder, recipient uN@p.example) and starts
// an SMTP server on 127.0.0.1.
func newFixtureOn(t *testing.T, engine store.Engine, n int) *fixture {
	t.Helper()
	db := storetest.Open(t, engine)
	rules := renewal.DefaultRules()
	var ps []*renewal.Partner
	for i := 1; i <= n; i++ {
		ps = append(ps, &renewal.Partner{ID: fmt.Sprint(i), Name: fmt.Sprintf("Partner %d", i), UsersGiven: true,
			Users:       []renewal.User{{Email: fmt.Sprintf("u%d@p.example", i), Name: "U", Roles: []string{"Global admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Threat Protection", AttainedOn: renewal.NewDate(2024, 2, 29), Status: renewal.StatusActive}}})
	}
	if _, err := db.Import(ctx, ps, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ms := rules.Milestones(renewal.NewDate(2024, 2, 29), renewal.ValidationCustomerReferences, renewal.NewDate(2025, 12, 30), renewal.NewDate(2025, 12, 30))
	var items []store.OutboxItem
	for i := 1; i <= n; i++ {
		rcpt := fmt.Sprintf("u%d@p.example", i)
		items = append(items, store.OutboxItem{EnrollmentID: int64(i), Milestone: ms[0], Recipient: rcpt, Status: store.StatusPending,
			MessageID: renewal.MessageID(int64(i), ms[0].Anniversary, ms[0].Offset, rcpt, "example.com")})
	}
	c := &clock{t: time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC)}
	if _, err := db.Enqueue(ctx, items, c.Now(), renewal.Date{}); err != nil {
		t.Fatal(err)
	}
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	tmpl, _ := templates.Load("")
	ob := &store.Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: 5 * time.Minute}
	tr, err := newSMTP(srv, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := &notify.Deliverer{
		Outbox: ob, Transport: tr,
		Renderer: &notify.Renderer{Templates: tmpl, Catalog: renewal.DefaultCatalog(), Rules: rules,
			From: &mail.Address{Name: "Renewals", Address: "renewals@example.com"}, Location: time.UTC},
		Now: c.Now, BatchSize: 25, MaxAttempts: 8, BackoffBase: time.Minute, Logger: slog.New(slog.DiscardHandler),
	}
	return &fixture{db: db, ob: ob, srv: srv, clock: c, d: d}
}

func newSMTP(srv *smtptest.Server, timeout time.Duration) (*notify.SMTP, error) {
	return notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: timeout})
}

func (f *fixture) counts(t *testing.T) map[string]int {
	t.Helper()
	n, err := f.db.CountByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// drain delivers, stepping the clock past each backoff, until nothing is pending or rounds run out.
func (f *fixture) drain(t *testing.T, rounds int) (total notify.Stats) {
	t.Helper()
	for i := 0; i < rounds; i++ {
		st, err := f.d.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total.Sent += st.Sent
		total.Retried += st.Retried
		total.Failed += st.Failed
		if f.counts(t)[store.StatusPending] == 0 {
			return total
		}
		f.clock.Add(7 * time.Hour) // past the longest backoff
	}
	t.Fatalf("outbox not drained after %d rounds: %v", rounds, f.counts(t))
	return total
}

func TestDeliverOverOneConnection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 60)
		st := f.drain(t, 1)
		if st.Sent != 60 || f.srv.Count() != 60 {
			t.Fatalf("sent %d, server got %d", st.Sent, f.srv.Count())
		}
		// 60 messages in batches of 25: three connections.
		if c := f.srv.Connections(); c != 3 {
			t.Errorf("%d connections, want one per batch (3)", c)
		}
		msgs := f.srv.Messages()
		row, _ := f.db.Get(ctx, 1)
		if row.Status != store.StatusSent || row.Subject == nil || !strings.Contains(*row.Subject, "customer references due for Threat Protection") {
			t.Errorf("row %+v", row)
		}
		var found bool
		for _, m := range msgs {
			if m.MessageID == row.MessageID {
				found = true
				if !strings.Contains(string(m.Data), "Auto-Submitted: auto-generated") {
					t.Error("no Auto-Submitted header")
				}
			}
		}
		if !found {
			t.Errorf("no message with Message-ID %s", row.MessageID)
		}
	})
}

func TestTransientFailuresAreRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 40)
		f.srv.Decide = func(rcpt string, n int) smtptest.Fault {
			switch {
			case n%5 == 1:
				return smtptest.Temp451
			case n%7 == 3:
				return smtptest.DropData
			case rcpt == "u13@p.example":
				return smtptest.Perm550
			}
			return smtptest.OK
		}
		st := f.drain(t, 10)
		c := f.counts(t)
		if c[store.StatusSent] != 39 || c[store.StatusFailed] != 1 || c[store.StatusSending] != 0 || c[store.StatusPending] != 0 {
			t.Fatalf("counts %v (stats %+v)", c, st)
		}
		faults := f.srv.Faults()
		if faults[smtptest.Temp451] == 0 || faults[smtptest.DropData] == 0 {
			t.Errorf("faults not exercised: %v", faults)
		}
		rows, _ := f.db.List(ctx, store.Filter{Status: store.StatusFailed})
		if len(rows) != 1 || *rows[0].Recipient != "u13@p.example" || !strings.Contains(*rows[0].LastError, "550") ||
			!strings.Contains(*rows[0].LastError, "mailbox u13@p.example unavailable") || rows[0].Attempts != 1 {
			t.Errorf("550 row: %+v %s", rows, *rows[0].LastError)
		}
		// Every retried row records its attempts; none was delivered twice.
		seen := map[string]int{}
		for _, m := range f.srv.Messages() {
			seen[m.MessageID]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s delivered %d times", id, n)
			}
		}
	})
}

func TestStallTimesOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 3)
		f.srv.Decide = func(rcpt string, n int) smtptest.Fault {
			if n == 1 {
				return smtptest.Stall
			}
			return smtptest.OK
		}
		start := time.Now()
		st, err := f.d.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 20*time.Second {
			t.Errorf("stalled delivery took %s", time.Since(start))
		}
		c := f.counts(t)
		if st.Retried != 1 || c[store.StatusSending] != 0 || c[store.StatusPending] != 1 || c[store.StatusSent] != 2 {
			t.Fatalf("stats %+v counts %v", st, c)
		}
		rows, _ := f.db.List(ctx, store.Filter{Status: store.StatusPending})
		if !strings.Contains(*rows[0].LastError, "timeout") || rows[0].NextAttemptAt == nil {
			t.Errorf("stalled row: %+v", rows[0])
		}
		f.clock.Add(time.Hour)
		f.drain(t, 2)
	})
}

func TestMaxAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 1)
		f.d.MaxAttempts = 3
		f.srv.Decide = func(string, int) smtptest.Fault { return smtptest.Temp451 }
		for i := 0; i < 3; i++ {
			if _, err := f.d.Deliver(ctx); err != nil {
				t.Fatal(err)
			}
			f.clock.Add(7 * time.Hour)
		}
		row, _ := f.db.Get(ctx, 1)
		if row.Status != store.StatusFailed || row.Attempts != 3 || !strings.Contains(*row.LastError, "gave up after 3 attempts") {
			t.Errorf("row %+v %s", row, *row.LastError)
		}
	})
}

func TestServerDownIsRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 2)
		f.srv.Close()
		st, err := f.d.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Retried != 2 || f.counts(t)[store.StatusPending] != 2 {
			t.Errorf("stats %+v counts %v", st, f.counts(t))
		}
	})
}

// TestCrashBetweenSendAndMark claims and sends a batch, then "crashes" before marking: after the
// lease expires the rows are sent again once, with the same Message-ID, and end sent.
func TestCrashBetweenSendAndMark(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 5)
		rems, _, _, err := f.ob.Claim(ctx, f.clock.Now(), renewal.DateOf(f.clock.Now(), time.UTC), 10, renewal.DefaultRules())
		if err != nil || len(rems) != 5 {
			t.Fatalf("claim %d %v", len(rems), err)
		}
		sess, err := f.d.Transport.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rems {
			env, _, err := f.d.Renderer.Envelope(r, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.Send(ctx, r.OutboxID, env); err != nil {
				t.Fatal(err)
			}
		}
		sess.Close() // crash: no marks
		if st, _ := f.d.Deliver(ctx); st.Claimed != 0 {
			t.Fatalf("claimed %d rows still under lease", st.Claimed)
		}
		f.clock.Add(6 * time.Minute)
		st, err := f.d.Deliver(ctx)
		if err != nil || st.Sent != 5 {
			t.Fatalf("after lease: %+v %v", st, err)
		}
		byID := map[string]int{}
		for _, m := range f.srv.Messages() {
			byID[m.MessageID]++
		}
		if len(byID) != 5 {
			t.Fatalf("%d distinct Message-IDs, want 5", len(byID))
		}
		for id, n := range byID {
			if n != 2 {
				t.Errorf("%s delivered %d times, want exactly 2 (once before the crash, once after)", id, n)
			}
		}
		if c := f.counts(t); c[store.StatusSent] != 5 || c[store.StatusSending] != 0 {
			t.Errorf("counts %v", c)
		}
	})
}

// TestCancelStopsAfterMessageInFlight cancels delivery mid-batch: the message in flight is sent and
// marked, the rest go back to pending with their attempt returned.
func TestCancelStopsAfterMessageInFlight(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 20)
		cctx, cancel := context.WithCancel(ctx)
		f.srv.Decide = func(_ string, n int) smtptest.Fault {
			if n == 5 {
				cancel()
			}
			return smtptest.OK
		}
		st, err := f.d.Deliver(cctx)
		if err != nil && err != context.Canceled {
			t.Fatal(err)
		}
		c := f.counts(t)
		if st.Sent != 5 || c[store.StatusSent] != 5 || c[store.StatusPending] != 15 || c[store.StatusSending] != 0 || f.srv.Count() != 5 {
			t.Fatalf("stats %+v counts %v server %d", st, c, f.srv.Count())
		}
		rows, _ := f.db.List(ctx, store.Filter{Status: store.StatusPending, Limit: 1})
		if rows[0].Attempts != 0 {
			t.Errorf("released row kept its attempt: %+v", rows[0])
		}
	})
}

func TestRemovedEnrollmentIsNotSent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		f := newFixtureOn(t, engine, 3)
		// Partner 1 removes its enrollment (import cancels its pending reminder); partner 2's admin loses
		// the role after the reminder was queued (the claim's re-check cancels it).
		_, err := f.db.Import(ctx, []*renewal.Partner{
			{ID: "1", Name: "Partner 1", Enrollments: []renewal.Enrollment{
				{Specialization: "Threat Protection", AttainedOn: renewal.NewDate(2024, 2, 29), Status: renewal.StatusRemoved}}},
			{ID: "2", Name: "Partner 2", UsersGiven: true, Users: []renewal.User{{Email: "u2@p.example", Roles: []string{"Billing admin"}}}},
		}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.d.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent != 1 || st.Cancelled != 1 || f.srv.Count() != 1 || f.srv.Messages()[0].To != "u3@p.example" {
			t.Errorf("stats %+v, sent to %v", st, f.srv.Messages())
		}
		if c := f.counts(t); c[store.StatusCancelled] != 2 {
			t.Errorf("counts %v", c)
		}
	})
}

func TestTLSNoneRefusedToRemoteHost(t *testing.T) {
	if _, err := notify.NewSMTP(notify.SMTPConfig{Host: "smtp.example.com", Port: 25, TLS: "none"}); err == nil {
		t.Error("tls none accepted for a remote host")
	}
	if _, err := notify.NewSMTP(notify.SMTPConfig{Host: "::1", Port: 25, TLS: "none"}); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
}
