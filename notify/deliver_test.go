package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewald/renewald/importer"
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
	partners int // imported so far, one enrollment and one recipient each
	db       *store.DB
	ob       *store.Outbox
	srv      *smtptest.Server
	clock    *clock
	d        *notify.Deliverer
}

// newFixture queues n pending reminders (one partner per reminder, recipient uN@p.example) and starts
// an SMTP server on 127.0.0.1.
// claimAs claims up to limit rows for a test as a deliverer on the default rules would at now (in UTC),
// and completes the reminders it gets.
func claimAs(ob *store.Outbox, now time.Time, limit int) ([]renewal.Reminder, error) {
	return claimOn(ob, now, renewal.DateOf(now, time.UTC), limit)
}

// claimOn is claimAs with the day "today" given.
func claimOn(ob *store.Outbox, now time.Time, today renewal.Date, limit int) ([]renewal.Reminder, error) {
	rules := renewal.DefaultRules()
	rems, _, _, err := ob.Claim(ctx, now, today, limit, rules.ExpiryOn(today))
	return rules.CompleteAll(rems), err
}

func newFixture(t *testing.T, n int) *fixture { return newFixtureOn(t, store.SQLite, n) }

// newFixtureOn is newFixture on the given engine.
func newFixtureOn(t *testing.T, engine store.Engine, n int) *fixture {
	names := make([]string, n)
	for i := range names {
		names[i] = "U"
	}
	return newNamedFixtureOn(t, engine, names)
}

// newNamedFixture is newFixture with recipient i+1 named names[i], imported through the importer
// from a JSON file as an operator would.
func newNamedFixture(t *testing.T, names []string) *fixture {
	return newNamedFixtureOn(t, store.SQLite, names)
}

// newNamedFixtureOn is newNamedFixture on the given engine.
func newNamedFixtureOn(t *testing.T, engine store.Engine, names []string) *fixture {
	t.Helper()
	db := storetest.Open(t, engine)
	rules := renewal.DefaultRules()
	c := &clock{t: time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC)}
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
	f := &fixture{db: db, ob: ob, srv: srv, clock: c, d: d}
	f.add(t, names)
	return f
}

// add imports one partner per name (ids, enrollments and recipients uN@p.example numbered on from
// those already there) and queues a reminder due now for each.
func (f *fixture) add(t *testing.T, names []string) {
	t.Helper()
	type jsonUser struct {
		Email string   `json:"email"`
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	type jsonSpec struct {
		Name       string `json:"name"`
		AttainedOn string `json:"attained_on"`
	}
	type jsonPartner struct {
		ID              string     `json:"id"`
		Name            string     `json:"name"`
		Users           []jsonUser `json:"users"`
		Specializations []jsonSpec `json:"specializations"`
	}
	var file struct {
		Partners []jsonPartner `json:"partners"`
	}
	first := f.partners + 1
	for i := first; i < first+len(names); i++ {
		file.Partners = append(file.Partners, jsonPartner{ID: fmt.Sprint(i), Name: fmt.Sprintf("Partner %d", i),
			Users:           []jsonUser{{Email: fmt.Sprintf("u%d@p.example", i), Name: names[i-first], Roles: []string{"Global admin"}}},
			Specializations: []jsonSpec{{Name: "Threat Protection", AttainedOn: "2024-02-29"}}})
	}
	body, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "partners.json")
	if err := os.WriteFile(src, body, 0o600); err != nil {
		t.Fatal(err)
	}
	ds, err := importer.Importer{Catalog: renewal.DefaultCatalog()}.Files(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Import(ctx, ds.Partners, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ms := renewal.DefaultRules().Milestones(renewal.NewDate(2024, 2, 29), renewal.ValidationCustomerReferences,
		renewal.NewDate(2025, 12, 30), renewal.NewDate(2025, 12, 30))
	var items []store.OutboxItem
	for i := first; i < first+len(names); i++ {
		rcpt := fmt.Sprintf("u%d@p.example", i)
		items = append(items, store.OutboxItem{EnrollmentID: int64(i), Milestone: ms[0], Recipient: rcpt, Status: store.StatusPending,
			MessageID: renewal.MessageID(int64(i), ms[0].Anniversary, ms[0].Offset, rcpt, "example.com")})
	}
	if _, err := f.db.Enqueue(ctx, items, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.partners += len(names)
}

func newSMTP(srv *smtptest.Server, timeout time.Duration) (*notify.SMTP, error) {
	return notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: timeout})
}

// restart starts the SMTP server again on addr, where the transport expects it (after an outage).
func (f *fixture) restart(t *testing.T, addr string) {
	t.Helper()
	srv, err := smtptest.StartWith(smtptest.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
}

func (f *fixture) counts(t *testing.T) map[string]int {
	t.Helper()
	n, err := f.ob.CountByStatus(ctx)
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
		row, _ := f.ob.Get(ctx, 1)
		if row.Status != store.StatusSent || row.Subject == nil || !strings.Contains(*row.Subject, "Threat Protection specialization") {
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
		rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusFailed})
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
		rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
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
		row, _ := f.ob.Get(ctx, 1)
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
		rems, err := claimAs(f.ob, f.clock.Now(), 10)
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
		rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending, Limit: 1})
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

// TestEnvelopeHasAngleBrackets delivers to a server that, like Postfix with
// strict_rfc821_envelopes = yes, refuses "MAIL FROM:addr" and "RCPT TO:addr" without brackets.
func TestEnvelopeHasAngleBrackets(t *testing.T) {
	f := newFixture(t, 3)
	st := f.drain(t, 1)
	if bad := f.srv.EnvelopeSyntaxErrors(); len(bad) != 0 {
		t.Fatalf("envelope commands refused for their syntax: %q", bad)
	}
	if st.Sent != 3 || f.srv.Count() != 3 {
		t.Fatalf("stats %+v, server got %d", st, f.srv.Count())
	}
	var mailCmds int
	for _, c := range f.srv.PlaintextCommands() {
		if strings.HasPrefix(c, "MAIL FROM:") {
			mailCmds++
			if !strings.HasPrefix(c, "MAIL FROM:<renewals@example.com>") {
				t.Errorf("sent %q", c)
			}
		}
		if strings.HasPrefix(c, "RCPT TO:") && !(strings.HasPrefix(c, "RCPT TO:<u") && strings.HasSuffix(c, "@p.example>")) {
			t.Errorf("sent %q", c)
		}
	}
	if mailCmds != 3 {
		t.Errorf("%d MAIL commands, want 3", mailCmds)
	}
	if m := f.srv.Messages()[0]; m.From != "renewals@example.com" || !strings.HasSuffix(m.To, "@p.example") {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
}

// TestToHeaderRoundTrips delivers to recipients whose imported names need quoting or encoding: the
// To header of every message parses back (net/mail.ParseAddress) to the imported name and address.
func TestToHeaderRoundTrips(t *testing.T) {
	long := strings.Repeat(`O"Ab, c\`, 32) // 256 bytes of quotes, commas, spaces and backslashes
	names := []string{
		`Renée "René" Martin`,
		`CONTOSO\jdoe`,
		`Sean O"Brien`,
		`Doe, Jane`,
		`Zoë Ångström 山田太郎`,
		`"quoted"`,
		`a\"b`,
		`Ann (Finance) <ann@evil.example>`,
		`=?utf-8?q?not_an_encoded_word?=`,
		long,
		strings.Repeat("é", 128), // 256 bytes, all non-ASCII
		"",
	}
	f := newNamedFixture(t, names)
	st := f.drain(t, 1)
	if st.Sent != len(names) || st.Failed != 0 {
		t.Errorf("stats %+v counts %v", st, f.counts(t))
	}
	got := map[string]*mail.Address{}
	for _, m := range f.srv.Messages() {
		if m.ToHeaderErr != nil {
			t.Errorf("To header of the message to %s does not parse: %v", m.To, m.ToHeaderErr)
			continue
		}
		got[m.To] = m.ToHeader
	}
	for i, name := range names {
		addr := fmt.Sprintf("u%d@p.example", i+1)
		a := got[addr]
		if a == nil {
			t.Errorf("no message to %s", addr)
			continue
		}
		if a.Name != strings.TrimSpace(name) || a.Address != addr {
			t.Errorf("To header of %s = %q <%s>, want %q", addr, a.Name, a.Address, name)
		}
	}
	for _, m := range f.srv.Messages() {
		for _, line := range strings.Split(string(m.Data), "\r\n") {
			if len(line) > 998 {
				t.Errorf("message to %s has a line of %d bytes", m.To, len(line))
			}
		}
	}
}

// syncBuf is a log sink safe for the deliverer's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRenderFailureIsLoudAndRetried renders with a subject template that breaks for one recipient:
// that is our defect, so it is logged as an error, counted for the metrics and retried with backoff,
// not failed at once like a 550; the others go out.
func TestRenderFailureIsLoudAndRetried(t *testing.T) {
	f := newFixture(t, 3)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "subject.tmpl"),
		[]byte(`{{if eq .Recipient "u2@p.example"}}{{index .Designations 99}}{{end}}Renewal of {{.Specialization}}`), 0o600)
	tmpl, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.d.Renderer.Templates = tmpl
	var logs syncBuf
	f.d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	obs := &countingObserver{}
	f.d.Observer = obs
	st, err := f.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 2 || st.RenderErrors != 1 || st.Retried != 1 || st.Failed != 0 || obs.renderFailed != 1 {
		t.Fatalf("stats %+v, observer %+v", st, obs)
	}
	row, _ := f.ob.Get(ctx, 2)
	if row.Status != store.StatusPending || row.NextAttemptAt == nil || !strings.Contains(*row.LastError, "render: ") {
		t.Errorf("row %+v", row)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "cannot render reminder") ||
		!strings.Contains(logs.String(), "outbox_id=2") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
}

// countingObserver counts what delivery tells its observer, as the metrics do.
type countingObserver struct {
	mu                     sync.Mutex
	sends                  map[string]int
	outcomes               map[string]int
	renderFailed, deferred int
}

func (o *countingObserver) SMTPSend(outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sends == nil {
		o.sends = map[string]int{}
	}
	o.sends[outcome]++
}

func (o *countingObserver) Delivered(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.outcomes == nil {
		o.outcomes = map[string]int{}
	}
	o.outcomes[outcome]++
}

func (o *countingObserver) RenderFailed() { o.mu.Lock(); o.renderFailed++; o.mu.Unlock() }

func (o *countingObserver) QuotaDeferred(n int) { o.mu.Lock(); o.deferred += n; o.mu.Unlock() }
