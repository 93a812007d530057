package notify_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

// securitySpecs are four specializations whose reminders fall on the same day for one attainment date.
var securitySpecs = []string{"Threat Protection", "Identity and Access Management", "Cloud Security", "Information Protection and Governance"}

// digestFixture imports n partners; partner i holds 1 + (i-1)%4 of securitySpecs, all attained
// 2024-02-29, and has one admin di@p.example; the −60 reminders of every enrollment are queued, due
// 2025-12-30. It returns the fixture with digest on, and how many reminders each address has.
func digestFixture(t *testing.T, n int) (*digestEnv, map[string]int) {
	t.Helper()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var ps []*renewal.Partner
	per := map[string]int{}
	for i := 1; i <= n; i++ {
		rcpt := fmt.Sprintf("d%d@p.example", i)
		p := &renewal.Partner{ID: fmt.Sprint(i), Name: fmt.Sprintf("Partner %d", i), UsersGiven: true,
			Users: []renewal.User{{Email: rcpt, Name: fmt.Sprintf("Admin %d", i), Roles: []string{"Global admin"}}}}
		for k := 0; k <= (i-1)%4; k++ {
			p.Enrollments = append(p.Enrollments, renewal.Enrollment{Specialization: securitySpecs[k], AttainedOn: renewal.NewDate(2024, 2, 29), Status: renewal.StatusActive})
		}
		per[rcpt] = len(p.Enrollments)
		ps = append(ps, p)
	}
	if _, err := db.Import(ctx, ps, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ms := renewal.DefaultRules().Milestones(renewal.NewDate(2024, 2, 29), renewal.ValidationCustomerReferences,
		renewal.NewDate(2025, 12, 30), renewal.NewDate(2025, 12, 30))
	var items []store.OutboxItem
	eid := int64(0)
	for i, p := range ps {
		rcpt := fmt.Sprintf("d%d@p.example", i+1)
		for range p.Enrollments {
			eid++
			items = append(items, store.OutboxItem{EnrollmentID: eid, Milestone: ms[0], Recipient: rcpt, Status: store.StatusPending,
				MessageID: renewal.MessageID(eid, ms[0].Anniversary, ms[0].Offset, rcpt, "example.com")})
		}
	}
	if _, err := db.Enqueue(ctx, items, time.Time{}); err != nil {
		t.Fatal(err)
	}
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	tr, err := notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := templates.Load("")
	c := &clock{t: time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC)}
	ob := &store.Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: 5 * time.Minute, Digest: true}
	d := &notify.Deliverer{Outbox: ob, Transport: tr,
		Renderer: &notify.Renderer{Templates: tmpl, Catalog: renewal.DefaultCatalog(), Rules: renewal.DefaultRules(),
			From: &mail.Address{Name: "Renewals", Address: "renewals@example.com"}, Location: time.UTC},
		Now: c.Now, BatchSize: 7, MaxAttempts: 8, BackoffBase: time.Minute, Logger: slog.New(slog.DiscardHandler), Digest: true}
	return &digestEnv{db: db, ob: ob, srv: srv, clock: c, d: d}, per
}

type digestEnv struct {
	db    *store.DB
	ob    *store.Outbox
	srv   *smtptest.Server
	clock *clock
	d     *notify.Deliverer
}

// parts returns the decoded text/plain, text/html and text/calendar parts of a message.
func parts(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(ct string, r io.Reader, enc string)
	walk = func(ct string, r io.Reader, enc string) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header.Get("Content-Type"), p, p.Header.Get("Content-Transfer-Encoding"))
			}
		}
		b, _ := io.ReadAll(decode(r, enc))
		out[mt] += string(b)
	}
	walk(m.Header.Get("Content-Type"), m.Body, m.Header.Get("Content-Transfer-Encoding"))
	return out
}

// TestDigestOneMessagePerRecipient: 50 recipients with 1–4 reminders due on one day each receive
// exactly one message, whose text, HTML and calendar list every one of their renewals; every row is
// sent under its digest's Message-ID.
func TestDigestOneMessagePerRecipient(t *testing.T) {
	f, per := digestFixture(t, 50)
	rows := 0
	for _, n := range per {
		rows += n
	}
	st, err := f.d.Deliver(ctx)
	if err != nil || st.Sent != rows {
		t.Fatalf("delivered %+v of %d rows: %v", st, rows, err)
	}
	msgs := f.srv.Messages()
	if len(msgs) != 50 {
		t.Fatalf("%d messages for 50 recipients (%d reminders)", len(msgs), rows)
	}
	got := map[string]int{}
	for _, m := range msgs {
		got[m.To]++
		p := parts(t, m.Data)
		n := per[strings.Trim(m.To, "<>")]
		for k := 0; k < n; k++ {
			for _, part := range []string{"text/plain", "text/html", "text/calendar"} {
				if !strings.Contains(p[part], securitySpecs[k]) {
					t.Errorf("%s: the %s part lacks %s", m.To, part, securitySpecs[k])
				}
			}
		}
		if n > 1 && (!strings.HasPrefix(m.MessageID, "<digest.20251230.") || !strings.Contains(p["text/plain"], fmt.Sprintf("%d specialization renewals, nearest deadline first", n))) {
			t.Errorf("%s: Message-ID %s, text %q", m.To, m.MessageID, p["text/plain"][:200])
		}
		if n == 1 && strings.HasPrefix(m.MessageID, "<digest.") {
			t.Errorf("%s: a digest of one row is the ordinary email, got %s", m.To, m.MessageID)
		}
		if c := strings.Count(p["text/calendar"], "BEGIN:VEVENT"); c != 3*n { // window, anniversary, grace end
			t.Errorf("%s: %d calendar events for %d renewals", m.To, c, n)
		}
	}
	for rcpt := range per {
		if got["<"+rcpt+">"]+got[rcpt] != 1 {
			t.Errorf("%s received %d messages", rcpt, got["<"+rcpt+">"]+got[rcpt])
		}
	}
	sent, _ := f.ob.List(ctx, store.Filter{Status: store.StatusSent})
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.MessageID] = true
	}
	for _, r := range sent {
		if !ids[r.MessageID] {
			t.Errorf("row %d stores Message-ID %s, which no message carried", r.ID, r.MessageID)
		}
	}
	t.Logf("%d reminders to 50 recipients: %d messages with digest on (%d without)", rows, len(msgs), rows)
}

// TestDigestCrashBetweenSendAndMark sends every digest and "crashes" before marking: after the lease
// each digest goes out once more with the same Message-ID, and every row ends sent.
func TestDigestCrashBetweenSendAndMark(t *testing.T) {
	f, _ := digestFixture(t, 12)
	rems, err := claimOn(f.ob, f.clock.Now(), renewal.NewDate(2025, 12, 30), 100)
	if err != nil {
		t.Fatal(err)
	}
	byRcpt := map[string][]renewal.Reminder{}
	for _, r := range rems {
		byRcpt[r.Recipient] = append(byRcpt[r.Recipient], r)
	}
	if len(byRcpt) != 12 {
		t.Fatalf("claimed for %d recipients", len(byRcpt))
	}
	sess, err := f.d.Transport.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for rcpt, group := range byRcpt {
		ids := []int64{}
		for _, r := range group {
			ids = append(ids, r.OutboxID)
		}
		env, _, err := f.d.Renderer.DigestEnvelope(group, notify.DigestMessageID(rcpt, group[0].Milestone.DueOn, ids, "example.com"), f.clock.Now())
		if len(group) == 1 {
			env, _, err = f.d.Renderer.Envelope(group[0], f.clock.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Send(ctx, group[0].OutboxID, env); err != nil {
			t.Fatal(err)
		}
	}
	sess.Close() // crash: no marks
	f.clock.Add(6 * time.Minute)
	st, err := f.d.Deliver(ctx)
	if err != nil || st.Sent != len(rems) {
		t.Fatalf("after the lease: %+v %v", st, err)
	}
	n := map[string]int{}
	for _, m := range f.srv.Messages() {
		n[m.MessageID]++
	}
	if len(n) != 12 {
		t.Fatalf("%d distinct Message-IDs for 12 recipients", len(n))
	}
	for id, c := range n {
		if c != 2 {
			t.Errorf("%s delivered %d times, want 2 (before the crash and once after)", id, c)
		}
	}
}

// decode undoes a part's Content-Transfer-Encoding.
func decode(r io.Reader, enc string) io.Reader {
	switch strings.ToLower(enc) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}

// TestDigestStaysTogetherAfterAFailure: a 451 on a digest puts all its rows back with one retry
// time, and the retry goes out as one digest again (not as its rows one by one).
func TestDigestStaysTogetherAfterAFailure(t *testing.T) {
	f, per := digestFixture(t, 4) // d4 has 4 reminders
	first := true
	f.srv.SetDecide(func(rcpt string, _ int) smtptest.Fault {
		if strings.Contains(rcpt, "d4@") && first {
			first = false
			return smtptest.Temp451
		}
		return smtptest.OK
	})
	if _, err := f.d.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
	if len(rows) != per["d4@p.example"] {
		t.Fatalf("%d rows pending, want d4's %d", len(rows), per["d4@p.example"])
	}
	for _, r := range rows {
		if *r.NextAttemptAt != *rows[0].NextAttemptAt {
			t.Errorf("row %d retries at %s, row %d at %s: the digest splits", r.ID, *r.NextAttemptAt, rows[0].ID, *rows[0].NextAttemptAt)
		}
	}
	f.clock.Add(7 * time.Hour)
	before := f.srv.Count()
	if st, err := f.d.Deliver(ctx); err != nil || st.Sent != 4 {
		t.Fatalf("retry %+v %v", st, err)
	}
	if got := f.srv.Count() - before; got != 1 {
		t.Errorf("the retry sent %d messages to d4, want one digest", got)
	}
}
