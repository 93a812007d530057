package notify_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/graphtest"
	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

const (
	graphTenant = "contoso.onmicrosoft.com"
	graphClient = "renewald-graph-app"
	graphSecret = "graph-client-secret-must-not-leak"
)

// graphFixture is a fixture delivering through the Graph transport to the loopback stand-in, whose
// clock is the fixture's, with the deliverer's logs and observations kept.
type graphFixture struct {
	*fixture
	gs   *graphtest.Server
	tr   *notify.Graph
	logs *syncBuf
	obs  *graphObserver
}

// graphObserver is the counting observer that also counts transport errors by kind.
type graphObserver struct {
	countingObserver
	kinds map[string]int
}

func (o *graphObserver) TransportError(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.kinds == nil {
		o.kinds = map[string]int{}
	}
	o.kinds[kind]++
}

func (o *graphObserver) kind(k string) int { o.mu.Lock(); defer o.mu.Unlock(); return o.kinds[k] }

func startGraph(t *testing.T) *graphtest.Server {
	t.Helper()
	gs, err := graphtest.Start(graphTenant, graphClient, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gs.Close)
	return gs
}

// newGraphFixture queues the named recipients' reminders and delivers them through Graph with a
// client secret, or with cert when it is not nil.
func newGraphFixture(t *testing.T, names []string, cert *notify.ClientCertificate) *graphFixture {
	t.Helper()
	f := newNamedFixture(t, names)
	gs := startGraph(t)
	gs.Secret, gs.Now = graphSecret, f.clock.Now
	if cert != nil {
		gs.Cert = cert.Cert
	}
	g := &graphFixture{fixture: f, gs: gs, logs: &syncBuf{}, obs: &graphObserver{}}
	g.tr = g.transport(t, cert)
	f.d.Transport = g.tr
	f.d.Logger = slog.New(slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.d.Observer = g.obs
	return g
}

func (g *graphFixture) transport(t *testing.T, cert *notify.ClientCertificate) *notify.Graph {
	t.Helper()
	hc := g.gs.HTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	cfg := notify.GraphConfig{LoginEndpoint: g.gs.URL, GraphEndpoint: g.gs.URL, Tenant: graphTenant, ClientID: graphClient,
		Mailbox: mailbox, HTTPClient: hc, Now: g.clock.Now, Timeout: 5 * time.Second}
	if cert != nil {
		cfg.Certificate = cert
	} else {
		cfg.ClientSecret = graphSecret
	}
	tr, err := notify.NewGraph(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "U"
	}
	return out
}

func (g *graphFixture) rows(t *testing.T, status string) []store.OutboxRow {
	t.Helper()
	rows, err := g.ob.List(ctx, store.Filter{Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestGraphSendsWithOneToken sends 50 messages in two batches with one token fetch; each posted
// body is the base64 of the very MIME message the SMTP transport builds for the row; past 55
// minutes of the one-hour token (fake clock) a new one is fetched.
func TestGraphSendsWithOneToken(t *testing.T) {
	ns := names(50)
	ns[2] = `Ada "The Admin", Lovelace`
	ns[3] = "Zoë Ünal"
	g := newGraphFixture(t, ns, nil)
	st, err := g.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msgs := g.gs.Messages()
	if st.Sent != 50 || len(msgs) != 50 || g.gs.TokenFetches() != 1 || g.tr.TokenFetches() != 1 {
		t.Fatalf("stats %+v, %d accepted, %d token fetches; want 50 sent with one token", st, len(msgs), g.gs.TokenFetches())
	}
	t.Logf("50 messages, 2 batches: %d token fetch, statuses %v", g.gs.TokenFetches(), g.gs.Statuses())

	// The SMTP transport's message for the same rows, built at the same instant.
	for _, id := range []int64{1, 3, 4} {
		row, _ := g.ob.Get(ctx, id)
		rem, err := g.ob.Reminder(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rem = renewal.DefaultRules().Complete(rem)
		env, subject, err := g.d.Renderer.Envelope(rem, g.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		var posted []byte
		for _, m := range msgs {
			if m.MessageID == row.MessageID {
				posted = m.MIME
			}
		}
		if posted == nil {
			t.Fatalf("row %d: no message with Message-ID %s", id, row.MessageID)
		}
		want, got := parseMessage(t, env.Data), parseMessage(t, posted)
		for _, h := range []string{"Message-Id", "To", "From", "Subject", "Date", "Auto-Submitted", "X-Auto-Response-Suppress"} {
			if got.header.Get(h) != want.header.Get(h) || got.header.Get(h) == "" {
				t.Errorf("row %d: %s %q, SMTP builds %q", id, h, got.header.Get(h), want.header.Get(h))
			}
		}
		to, err := mail.ParseAddress(got.header.Get("To"))
		if err != nil || to.Name != ns[id-1] || to.Address != *row.Recipient {
			t.Errorf("row %d: To %q parses to %v %v", id, got.header.Get("To"), to, err)
		}
		if dec, _ := new(mime.WordDecoder).DecodeHeader(got.header.Get("Subject")); dec != subject || dec != *row.Subject {
			t.Errorf("row %d: subject %q, want %q", id, dec, subject)
		}
		if strings.Join(got.parts, "\n") != strings.Join(want.parts, "\n") || len(got.parts) != 3 {
			t.Errorf("row %d: parts differ:\n%s\nSMTP builds:\n%s", id, strings.Join(got.parts, "\n"), strings.Join(want.parts, "\n"))
		}
	}

	for _, tc := range []struct {
		step    time.Duration
		fetches int
	}{{54 * time.Minute, 1}, {2 * time.Minute, 2}, {time.Minute, 2}} {
		g.clock.Add(tc.step)
		queueMore(t, g.fixture, 1)
		if _, err := g.d.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		if g.gs.TokenFetches() != tc.fetches {
			t.Errorf("after %s more: %d token fetches, want %d", tc.step, g.gs.TokenFetches(), tc.fetches)
		}
	}
	if c := g.counts(t); c[store.StatusSent] != 53 || c[store.StatusPending] != 0 {
		t.Errorf("counts %v", c)
	}
}

type parsed struct {
	header mail.Header
	parts  []string // each leaf part: its media type and decoded body
}

// parseMessage parses a MIME message with net/mail and mime/multipart, down to its leaf parts.
func parseMessage(t *testing.T, data []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	var p parsed
	p.header = m.Header
	var walk func(ctype, cte string, body io.Reader)
	walk = func(ctype, cte string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ctype)
		if err != nil {
			t.Fatalf("content type %q: %v", ctype, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
			}
		}
		var r io.Reader = body
		switch strings.ToLower(cte) {
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		case "base64":
			b, _ := io.ReadAll(body)
			dec, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
			if err != nil {
				t.Fatal(err)
			}
			r = bytes.NewReader(dec)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		p.parts = append(p.parts, mt+": "+string(b))
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return p
}

// TestGraph401RefreshesOnce: a revoked token gets 401, one new token, and the message goes out; a
// Graph that refuses every token costs one refresh and makes the batch wait.
func TestGraph401RefreshesOnce(t *testing.T) {
	g := newGraphFixture(t, names(2), nil)
	if st, _ := g.d.Deliver(ctx); st.Sent != 2 {
		t.Fatalf("stats %+v", st)
	}
	g.gs.Revoke()
	queueMore(t, g.fixture, 2)
	st, err := g.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 2 || g.gs.TokenFetches() != 2 || g.gs.Statuses()[401] != 1 {
		t.Fatalf("after revocation: stats %+v, %d fetches, statuses %v", st, g.gs.TokenFetches(), g.gs.Statuses())
	}

	g.gs.SetDecide(func(int, graphtest.Message) graphtest.Answer {
		return graphtest.Answer{Status: 401, Code: "InvalidAuthenticationToken"}
	})
	queueMore(t, g.fixture, 3)
	st, err = g.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retried != 1 || st.Released != 2 || st.Sent != 0 || g.gs.TokenFetches() != 3 {
		t.Fatalf("401 twice: stats %+v, %d fetches", st, g.gs.TokenFetches())
	}
	rows := g.rows(t, store.StatusPending)
	if len(rows) != 3 || rows[0].Attempts != 1 || rows[1].Attempts != 0 || rows[2].Attempts != 0 ||
		!strings.Contains(*rows[0].LastError, "HTTP 401 Unauthorized InvalidAuthenticationToken") {
		t.Fatalf("pending %+v %s", rows, *rows[0].LastError)
	}
	for _, tok := range g.gs.Tokens() {
		if strings.Contains(g.logs.String()+*rows[0].LastError, tok) || strings.Contains(g.logs.String(), graphSecret) {
			t.Error("a token or the secret is in the logs or last_error")
		}
	}
}

// TestGraphConfigErrorsKeepBatchPending: 403 and 404 stop the batch, keep every message pending
// with no attempt counted, log one error naming the code (and for 403 the Mail.Send permission and
// the mailbox scope), count kind "config", and send nothing more before the backoff.
func TestGraphConfigErrorsKeepBatchPending(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   string
	}{
		{403, "ErrorAccessDenied", "Mail.Send application permission"},
		{403, "ErrorSendAsDenied", "RBAC scope includes the mailbox " + mailbox},
		{404, "ErrorInvalidUser", "mail.graph.mailbox"},
		{404, "MailboxNotEnabledForRESTAPI", "mail.graph.mailbox"},
		{404, "ResourceNotFound", "mail.graph.mailbox"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			g := newGraphFixture(t, names(30), nil)
			g.d.BatchSize = 10
			g.gs.SetDecide(func(int, graphtest.Message) graphtest.Answer {
				return graphtest.Answer{Status: tc.status, Code: tc.code}
			})
			st, err := g.d.Deliver(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := g.gs.Requests()
			if st.Sent != 0 || st.Claimed != 10 || st.Released != 9 || n != 1 {
				t.Fatalf("stats %+v, %d requests; want one request, the batch stopped", st, n)
			}
			rows := g.rows(t, store.StatusPending)
			if len(rows) != 30 {
				t.Fatalf("%d pending, want all 30", len(rows))
			}
			for _, r := range rows {
				if r.Attempts != 0 {
					t.Errorf("row %d: %d attempts, want 0", r.ID, r.Attempts)
				}
			}
			le := *rows[0].LastError
			if !strings.Contains(le, tc.code) || !strings.Contains(le, tc.want) {
				t.Errorf("last_error %q", le)
			}
			logs := g.logs.String()
			if c := strings.Count(logs, "level=ERROR"); c != 1 || !strings.Contains(logs, tc.code) || g.obs.kind(notify.KindConfig) != 1 {
				t.Errorf("%d error lines, %d config errors counted:\n%s", c, g.obs.kind(notify.KindConfig), logs)
			}
			t.Logf("%d %s: %s", tc.status, tc.code, le)

			// Within the backoff nothing is tried; after it, a fixed configuration sends them all.
			g.clock.Add(59 * time.Second)
			if st, _ := g.d.Deliver(ctx); st.Claimed != 0 {
				t.Errorf("claimed %d during the backoff", st.Claimed)
			}
			g.gs.SetDecide(nil)
			g.clock.Add(time.Second)
			st, _ = g.d.Deliver(ctx)
			if st.Sent != 30 {
				t.Errorf("after the backoff: %+v", st)
			}
			for _, r := range g.rows(t, store.StatusSent) {
				if r.Attempts != 1 {
					t.Errorf("row %d sent after %d attempts, want 1", r.ID, r.Attempts)
				}
			}
		})
	}
}

// TestGraphRetryAfter: 429 with Retry-After 120 (seconds, or the HTTP date) on the third message:
// nothing is sent before 120 s on the fake clock, then everything; the unsent rest keeps its
// attempts.
func TestGraphRetryAfter(t *testing.T) {
	for _, form := range []string{"seconds", "date"} {
		t.Run(form, func(t *testing.T) {
			g := newGraphFixture(t, names(12), nil)
			start := g.clock.Now()
			ra := "120"
			if form == "date" {
				ra = start.Add(120 * time.Second).UTC().Format(http.TimeFormat)
			}
			g.gs.SetDecide(func(n int, _ graphtest.Message) graphtest.Answer {
				if n == 3 {
					return graphtest.Answer{Status: 429, Code: "ApplicationThrottled", RetryAfter: ra}
				}
				return graphtest.Answer{}
			})
			st, err := g.d.Deliver(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Sent != 2 || st.Retried != 1 || st.Released != 9 || g.obs.kind(notify.KindThrottled) != 1 {
				t.Fatalf("stats %+v, throttled %d", st, g.obs.kind(notify.KindThrottled))
			}
			for _, r := range g.rows(t, store.StatusPending) {
				want := 0
				if r.ID == 3 {
					want = 1
				}
				if r.Attempts != want || r.NextAttemptAt == nil || *r.NextAttemptAt != start.Add(120*time.Second).UTC().Format(time.RFC3339) {
					t.Errorf("row %d: attempts %d, next %v", r.ID, r.Attempts, *r.NextAttemptAt)
				}
			}
			for _, step := range []time.Duration{time.Second, 60 * time.Second, 58 * time.Second} {
				g.clock.Add(step)
				if st, _ := g.d.Deliver(ctx); st.Claimed != 0 {
					t.Fatalf("%s after the 429: claimed %d", g.clock.Now().Sub(start), st.Claimed)
				}
			}
			if n, _ := g.gs.Requests(); n != 3 {
				t.Fatalf("%d requests before Retry-After ended", n)
			}
			g.clock.Add(time.Second) // +120 s
			st, _ = g.d.Deliver(ctx)
			n, times := g.gs.Requests()
			if st.Sent != 10 || n != 13 || g.counts(t)[store.StatusSent] != 12 {
				t.Fatalf("at +120 s: stats %+v, %d requests", st, n)
			}
			for _, at := range times[3:] {
				if at.Sub(start) < 120*time.Second {
					t.Errorf("request at +%s, before Retry-After", at.Sub(start))
				}
			}
			t.Logf("429 Retry-After %s: 3 requests at +0 s, none until +120 s, then %d", ra, n-3)
		})
	}
}

// TestGraph503WithoutRetryAfterBacksOff: throttled without Retry-After waits for the backoff.
func TestGraph503WithoutRetryAfterBacksOff(t *testing.T) {
	g := newGraphFixture(t, names(3), nil)
	g.gs.SetDecide(func(n int, _ graphtest.Message) graphtest.Answer {
		if n == 1 {
			return graphtest.Answer{Status: 503}
		}
		return graphtest.Answer{}
	})
	st, _ := g.d.Deliver(ctx)
	if st.Retried != 1 || st.Released != 2 || g.obs.kind(notify.KindThrottled) != 1 {
		t.Fatalf("stats %+v", st)
	}
	g.clock.Add(time.Minute)
	if st, _ := g.d.Deliver(ctx); st.Sent != 3 {
		t.Fatalf("after the backoff: %+v", st)
	}
}

// TestGraphInvalidRecipients: 400 ErrorInvalidRecipients fails that row only; another 400 is a
// defect of ours: failed, logged as an error and counted like a render failure.
func TestGraphInvalidRecipients(t *testing.T) {
	g := newGraphFixture(t, names(6), nil)
	g.gs.SetDecide(func(_ int, m graphtest.Message) graphtest.Answer {
		switch m.To {
		case "u3@p.example":
			return graphtest.Answer{Status: 400, Code: "ErrorInvalidRecipients"}
		case "u5@p.example":
			return graphtest.Answer{Status: 400, Code: "ErrorMimeContentInvalid"}
		}
		return graphtest.Answer{}
	})
	st, err := g.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 4 || st.Failed != 2 || st.RenderErrors != 1 || g.obs.renderFailed != 1 || g.obs.kind(notify.KindDefect) != 1 {
		t.Fatalf("stats %+v, observer %+v", st, g.obs.kinds)
	}
	failed := g.rows(t, store.StatusFailed)
	if len(failed) != 2 || *failed[0].Recipient != "u3@p.example" || !strings.Contains(*failed[0].LastError, "ErrorInvalidRecipients") ||
		!strings.Contains(*failed[1].LastError, "ErrorMimeContentInvalid") {
		t.Fatalf("failed %+v", failed)
	}
	if c := strings.Count(g.logs.String(), "level=ERROR"); c != 1 {
		t.Errorf("%d error lines, want 1 (the defect)", c)
	}
}

// TestGraphQuotas: max_per_day holds for Graph as for SMTP.
func TestGraphQuotas(t *testing.T) {
	g := newGraphFixture(t, names(12), nil)
	g.d.Quota = &notify.Quota{PerDay: 5, Store: g.ob}
	st, err := g.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 5 || st.Deferred != 7 || len(g.gs.Messages()) != 5 {
		t.Fatalf("stats %+v, %d accepted", st, len(g.gs.Messages()))
	}
}

// TestGraphTooLargeIsRenderError: a message over 3 MB is not posted.
func TestGraphTooLargeIsRenderError(t *testing.T) {
	g := newGraphFixture(t, names(1), nil)
	sess, err := g.tr.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	err = sess.Send(ctx, 1, &notify.Envelope{From: mailbox, To: "a@p.example", Data: bytes.Repeat([]byte("a"), 3<<20+1)})
	var se *notify.SendError
	if !errors.As(err, &se) || se.Kind != notify.KindDefect || !strings.Contains(se.Reply, "render:") {
		t.Fatalf("err %v", err)
	}
	if n, _ := g.gs.Requests(); n != 0 {
		t.Errorf("%d requests", n)
	}
}

// TestGraphCertificateCredentials: the token endpoint verifies the client assertion (signature
// with the certificate's key, aud, iss/sub, exp-nbf <= 600, x5t#S256, an unseen jti); each token
// request carries a fresh one; a certificate with another key is refused and the message waits.
func TestGraphCertificateCredentials(t *testing.T) {
	start := time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC)
	data, _, err := graphtest.NewClientCertificate("renewald", start.AddDate(0, -1, 0), start.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := notify.ParseClientCertificate(data, start)
	if err != nil {
		t.Fatal(err)
	}
	g := newGraphFixture(t, names(3), cert)
	st, err := g.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 3 || g.gs.TokenFetches() != 1 || len(g.gs.Refused()) != 0 {
		t.Fatalf("stats %+v, %d fetches, refused %v", st, g.gs.TokenFetches(), g.gs.Refused())
	}
	g.clock.Add(56 * time.Minute) // the token is near its end: a new request with a new assertion
	queueMore(t, g.fixture, 1)
	if st, _ := g.d.Deliver(ctx); st.Sent != 1 || g.gs.TokenFetches() != 2 || len(g.gs.Refused()) != 0 {
		t.Fatalf("second token: stats %+v, %d fetches, refused %v", st, g.gs.TokenFetches(), g.gs.Refused())
	}
	as := g.gs.Assertions()
	if len(as) != 2 || as[0] == as[1] {
		t.Fatalf("assertions %d, want 2 different", len(as))
	}
	t.Logf("certificate: %d tokens granted on %d verified assertions", g.gs.TokenFetches(), len(as))

	// Another key than the registered certificate's.
	other, _, err := graphtest.NewClientCertificate("renewald", start.AddDate(0, -1, 0), start.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := notify.ParseClientCertificate(other, start)
	if err != nil {
		t.Fatal(err)
	}
	g.d.Transport = g.transport(t, wrong)
	queueMore(t, g.fixture, 1)
	st, _ = g.d.Deliver(ctx)
	refused := g.gs.Refused()
	if st.Sent != 0 || st.Retried != 1 || len(refused) != 1 || !strings.Contains(refused[0], "signature") {
		t.Fatalf("wrong key: stats %+v, refused %v", st, refused)
	}
	rows := g.rows(t, store.StatusPending)
	if len(rows) != 1 || !strings.Contains(*rows[0].LastError, "HTTP 401 Unauthorized (invalid_client)") {
		t.Fatalf("pending %+v", rows)
	}
	for _, a := range g.gs.Assertions() {
		if strings.Contains(*rows[0].LastError+g.logs.String(), a) {
			t.Error("an assertion is in last_error or the logs")
		}
	}
	t.Logf("wrong key refused: %s (%s)", *rows[0].LastError, refused[0])
}

// TestParseClientCertificateRefusals: an encrypted key, an expired certificate, a key of another
// certificate and a file without a key are refused.
func TestParseClientCertificateRefusals(t *testing.T) {
	now := time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC)
	good, _, err := graphtest.NewClientCertificate("a", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	expired, _, _ := graphtest.NewClientCertificate("a", now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0))
	other, _, _ := graphtest.NewClientCertificate("b", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	certOnly := good[:bytes.Index(good, []byte("-----BEGIN PRIVATE KEY"))]
	otherKey := other[bytes.Index(other, []byte("-----BEGIN PRIVATE KEY")):]
	encrypted := append(append([]byte{}, certOnly...), []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n")...)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"expired", expired, "expired on"},
		{"encrypted", encrypted, "encrypted"},
		{"no key", certOnly, "no PEM private key"},
		{"other key", append(append([]byte{}, certOnly...), otherKey...), "does not belong"},
		{"nothing", []byte("hello"), "no PEM certificate"},
	} {
		if _, err := notify.ParseClientCertificate(tc.data, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestGraphCrashBetweenAcceptAndMark: Graph accepted the batch (202), the process died before the
// marks: once the lease runs out each message is sent again once, with the same Message-ID.
func TestGraphCrashBetweenAcceptAndMark(t *testing.T) {
	g := newGraphFixture(t, names(4), nil)
	rems, err := claimAs(g.ob, g.clock.Now(), 10)
	if err != nil || len(rems) != 4 {
		t.Fatalf("claim %d %v", len(rems), err)
	}
	sess, err := g.tr.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rems {
		env, _, err := g.d.Renderer.Envelope(r, g.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Send(ctx, r.OutboxID, env); err != nil {
			t.Fatal(err)
		}
	}
	sess.Close() // crash: no marks
	if st, _ := g.d.Deliver(ctx); st.Claimed != 0 {
		t.Fatalf("claimed %d rows under lease", st.Claimed)
	}
	g.clock.Add(6 * time.Minute)
	if st, err := g.d.Deliver(ctx); err != nil || st.Sent != 4 {
		t.Fatalf("after the lease: %+v %v", st, err)
	}
	byID := map[string]int{}
	for _, m := range g.gs.Messages() {
		byID[m.MessageID]++
	}
	if len(byID) != 4 {
		t.Fatalf("%d Message-IDs", len(byID))
	}
	for id, n := range byID {
		if n != 2 {
			t.Errorf("%s sent %d times, want 2", id, n)
		}
	}
	if c := g.counts(t); c[store.StatusSent] != 4 {
		t.Errorf("counts %v", c)
	}
}

// TestGraphTest is the transport side of mail test: token endpoint's answer, Graph's status and
// code, the credential kind; never a token.
func TestGraphTest(t *testing.T) {
	g := newGraphFixture(t, names(1), nil)
	env := &notify.Envelope{From: mailbox, To: "ops@example.com", Data: []byte("To: ops@example.com\r\nSubject: t\r\n\r\nhi\r\n")}
	res, err := g.tr.Test(ctx, env)
	if err != nil || res.Status != 202 || !strings.HasPrefix(res.TokenAnswer, "HTTP 200 OK: Bearer token, valid for 3600 s") ||
		res.Credential != "client secret" || res.TokenEndpoint != g.gs.TokenURL() {
		t.Fatalf("%+v %v", res, err)
	}
	g.gs.SetDecide(func(int, graphtest.Message) graphtest.Answer {
		return graphtest.Answer{Status: 403, Code: "ErrorAccessDenied"}
	})
	res, err = g.tr.Test(ctx, env)
	if err == nil || res.Status != 403 || res.Code != "ErrorAccessDenied" {
		t.Fatalf("%+v %v", res, err)
	}
	for _, tok := range g.gs.Tokens() {
		if strings.Contains(fmt.Sprint(res, err), tok) {
			t.Error("token in the result")
		}
	}
}

// TestXOAUTH2WithCertificate: the one token source serves SMTP XOAUTH2 with a certificate too: the
// token endpoint verifies the assertion and the SMTP server accepts the token it issued.
func TestXOAUTH2WithCertificate(t *testing.T) {
	f := newFixture(t, 3)
	gs := startGraph(t)
	gs.Now = f.clock.Now
	data, c, err := graphtest.NewClientCertificate("renewald", f.clock.Now().AddDate(0, -1, 0), f.clock.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	gs.Cert = c
	cert, err := notify.ParseClientCertificate(data, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	valid := func(tok string) bool {
		for _, v := range gs.Tokens() {
			if v == tok {
				return true
			}
		}
		return false
	}
	srv, err := smtptest.StartWith(smtptest.Options{RequireAuth: true,
		XOAUTH2: func(user, token string) bool { return user == mailbox && valid(token) }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hc := gs.HTTPClient()
	defer hc.CloseIdleConnections()
	tr, err := notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 2 * time.Second,
		Auth: notify.AuthXOAUTH2, Username: mailbox, Now: f.clock.Now,
		OAuth2: &notify.OAuth2Config{TokenURL: gs.TokenURL(), ClientID: graphClient, Certificate: cert,
			Scopes: []string{gs.URL + "/.default"}, HTTPClient: hc}})
	if err != nil {
		t.Fatal(err)
	}
	f.d.Transport = tr
	st, err := f.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 3 || srv.Count() != 3 || gs.TokenFetches() != 1 || len(gs.Assertions()) != 1 || len(gs.Refused()) != 0 {
		t.Fatalf("stats %+v, smtp got %d, %d fetches, refused %v", st, srv.Count(), gs.TokenFetches(), gs.Refused())
	}
}
