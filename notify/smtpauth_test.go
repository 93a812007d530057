package notify_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/store"
)

const (
	clientSecret = "client-secret-must-not-leak"
	mailbox      = "renewals@example.com"
	scope        = "https://outlook.office365.com/.default"
)

// oauthFixture is a fixture whose SMTP server offers only XOAUTH2 and accepts only the tokens the
// in-process token endpoint issued.
type oauthFixture struct {
	*fixture
	te *smtptest.TokenEndpoint
	tr *notify.SMTP
}

func newOAuthFixture(t *testing.T, n int) *oauthFixture {
	t.Helper()
	f := newFixture(t, n)
	te := smtptest.StartTokenEndpoint("renewald-app", clientSecret, scope)
	t.Cleanup(te.Close)
	srv, err := smtptest.StartWith(smtptest.Options{RequireAuth: true,
		XOAUTH2: func(user, token string) bool { return user == mailbox && te.Valid(token) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
	tr, err := notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 2 * time.Second,
		Auth: notify.AuthXOAUTH2, Username: mailbox, Now: f.clock.Now,
		OAuth2: &notify.OAuth2Config{TokenURL: te.URL, ClientID: "renewald-app", ClientSecret: clientSecret, Scopes: []string{scope}}})
	if err != nil {
		t.Fatal(err)
	}
	f.d.Transport = tr
	return &oauthFixture{fixture: f, te: te, tr: tr}
}

// TestXOAUTH2TokenReusedUntilNearExpiry sends 60 messages over three connections with one token,
// then, past 55 minutes of a one-hour token (the clock is the fixture's), fetches a new one.
func TestXOAUTH2TokenReusedUntilNearExpiry(t *testing.T) {
	f := newOAuthFixture(t, 60)
	st := f.drain(t, 1)
	if st.Sent != 60 || f.srv.Count() != 60 {
		t.Fatalf("stats %+v, server got %d", st, f.srv.Count())
	}
	ok, failed := f.srv.Auths()
	if f.te.Fetches() != 1 || ok["XOAUTH2"] != 3 || len(failed) != 0 {
		t.Fatalf("token fetches %d, XOAUTH2 logins %v, failures %v; want 1 fetch for 3 sessions", f.te.Fetches(), ok, failed)
	}
	if u := f.srv.Messages()[0].User; u != mailbox {
		t.Errorf("authenticated as %q", u)
	}
	t.Logf("60 messages, 3 sessions: %d token fetch", f.te.Fetches())

	// 54 minutes on: still reused. 56 minutes on (less than 5 minutes left): fetched anew.
	for _, tc := range []struct {
		step    time.Duration
		fetches int
	}{{54 * time.Minute, 1}, {2 * time.Minute, 2}, {time.Minute, 2}} {
		f.clock.Add(tc.step)
		queueMore(t, f.fixture, 1)
		if _, err := f.d.Deliver(ctx); err != nil {
			t.Fatal(err)
		}
		if f.te.Fetches() != tc.fetches {
			t.Errorf("after %s more: %d token fetches, want %d", tc.step, f.te.Fetches(), tc.fetches)
		}
	}
	if c := f.counts(t); c[store.StatusPending] != 0 || c[store.StatusSent] != 63 {
		t.Errorf("counts %v", c)
	}
}

// TestXOAUTH2RefreshesOnceOn535 revokes the cached token: the server answers 535, the transport
// fetches a new token once and the retried connection delivers. A server that refuses every token
// costs exactly one refresh per connection and leaves the messages pending.
func TestXOAUTH2RefreshesOnceOn535(t *testing.T) {
	f := newOAuthFixture(t, 2)
	if st := f.drain(t, 1); st.Sent != 2 {
		t.Fatalf("stats %+v", st)
	}
	f.te.Revoke()
	queueMore(t, f.fixture, 2)
	st, err := f.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, failed := f.srv.Auths()
	if st.Sent != 2 || f.te.Fetches() != 2 || failed["XOAUTH2"] != 1 {
		t.Fatalf("after revocation: stats %+v, fetches %d, failed logins %v", st, f.te.Fetches(), failed)
	}

	// Every token refused from now on: one refresh, then the batch waits with backoff.
	f.srv.Close()
	srv, err := smtptest.StartWith(smtptest.Options{RequireAuth: true, XOAUTH2: func(string, string) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tr, _ := notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 2 * time.Second,
		Auth: notify.AuthXOAUTH2, Username: mailbox, Now: f.clock.Now,
		OAuth2: &notify.OAuth2Config{TokenURL: f.te.URL, ClientID: "renewald-app", ClientSecret: clientSecret, Scopes: []string{scope}}})
	f.d.Transport = tr
	before := f.te.Fetches()
	queueMore(t, f.fixture, 2)
	st, err = f.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Retried != 2 || f.te.Fetches()-before != 2 { // the first token, then one refresh
		t.Errorf("refused tokens: stats %+v, %d fetches", st, f.te.Fetches()-before)
	}
	rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
	if len(rows) != 2 || rows[0].Attempts != 1 || !strings.Contains(*rows[0].LastError, "535") {
		t.Fatalf("pending rows %+v", rows)
	}
	if strings.Contains(*rows[0].LastError, clientSecret) || strings.Contains(*rows[0].LastError, "access-token-") {
		t.Errorf("secret in last_error: %s", *rows[0].LastError)
	}
}

// TestTokenEndpointDownLeavesMessagesPending: 503 or a refused client is a temporary failure of
// the batch that names the endpoint and its HTTP status, never the secret.
func TestTokenEndpointDownLeavesMessagesPending(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(*oauthFixture)
		want   string
	}{
		{"503", func(f *oauthFixture) { f.te.Fail(503) }, "HTTP 503 Service Unavailable"},
		{"refused client", func(f *oauthFixture) { f.te.ClientSecret = "rotated" }, "HTTP 401 Unauthorized (invalid_client)"},
		{"down", func(f *oauthFixture) { f.te.Close() }, "connect: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOAuthFixture(t, 3)
			tc.break_(f)
			st, err := f.d.Deliver(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Retried != 3 || st.Sent != 0 || f.srv.Count() != 0 {
				t.Fatalf("stats %+v", st)
			}
			rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
			if len(rows) != 3 || rows[0].NextAttemptAt == nil {
				t.Fatalf("rows %+v", rows)
			}
			le := *rows[0].LastError
			if !strings.Contains(le, "oauth2 token endpoint "+f.te.URL) || !strings.Contains(le, tc.want) {
				t.Errorf("last_error %q, want the endpoint and %q", le, tc.want)
			}
			if strings.Contains(le, clientSecret) || strings.Contains(le, "AADSTS") {
				t.Errorf("last_error shows the secret or the response body: %q", le)
			}
		})
	}
}

// queueMore queues n more reminders, due now, to new recipients.
func queueMore(t *testing.T, f *fixture, n int) {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = "More"
	}
	f.add(t, names)
}

type tlsCase struct {
	name       string
	serverTLS  func(ca *smtptest.CA) *tls.Config
	caPEM      bool
	serverName string
	want       string // "" for delivered, else a substring of the error
}

// TestSTARTTLSWithPrivateCA delivers over STARTTLS to a server whose certificate a CA made here
// signed: trusted through CAPEM, refused without it or for another server name (temporary, with the
// x509 reason, and not a byte of the envelope in plain text), refused below TLS 1.2.
func TestSTARTTLSWithPrivateCA(t *testing.T) {
	ca, err := smtptest.NewCA("relay.internal.example", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []tlsCase{
		{name: "ca_file", caPEM: true},
		{name: "ca_file and server_name", caPEM: true, serverName: "relay.internal.example"},
		{name: "no ca_file", want: "x509: certificate signed by unknown authority"},
		{name: "server_name mismatch", caPEM: true, serverName: "other.example", want: "x509: certificate is valid for relay.internal.example, not other.example"},
		{name: "TLS 1.1 server", caPEM: true, want: "protocol version",
			serverTLS: func(ca *smtptest.CA) *tls.Config {
				c := ca.ServerTLS()
				c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
				return c
			}},
		{name: "no STARTTLS offered", caPEM: true, want: "does not support STARTTLS",
			serverTLS: func(*smtptest.CA) *tls.Config { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 2)
			stc := ca.ServerTLS()
			if tc.serverTLS != nil {
				stc = tc.serverTLS(ca)
			}
			srv, err := smtptest.StartWith(smtptest.Options{TLS: stc})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			cfg := notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "starttls", Timeout: 2 * time.Second, ServerName: tc.serverName}
			if tc.caPEM {
				cfg.CAPEM = ca.PEM
			}
			tr, err := notify.NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			f.d.Transport = tr
			st, err := f.d.Deliver(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if st.Sent != 2 || srv.Count() != 2 {
					t.Fatalf("stats %+v", st)
				}
				for _, c := range srv.PlaintextCommands() {
					if !strings.HasPrefix(c, "EHLO") && c != "STARTTLS" {
						t.Errorf("%q sent before TLS", c)
					}
				}
				return
			}
			if st.Retried != 2 || st.Sent != 0 || srv.Count() != 0 {
				t.Fatalf("stats %+v", st)
			}
			for _, c := range srv.PlaintextCommands() {
				if strings.HasPrefix(c, "MAIL") || strings.HasPrefix(c, "RCPT") || strings.HasPrefix(c, "AUTH") || c == "DATA" {
					t.Errorf("%q sent in plain text", c)
				}
			}
			rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
			if len(rows) != 2 || !strings.Contains(*rows[0].LastError, tc.want) {
				t.Fatalf("rows %+v, want last_error with %q", rows, tc.want)
			}
			t.Logf("%s: %s", tc.name, *rows[0].LastError)
		})
	}
}

// TestTestReportsReplyTLSAndAuth is the transport side of renewald mail test.
func TestTestReportsReplyTLSAndAuth(t *testing.T) {
	ca, err := smtptest.NewCA("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smtptest.StartWith(smtptest.Options{TLS: ca.ServerTLS(), RequireAuth: true,
		Plain: func(u, p string) bool { return u == "renewald" && p == "pw" }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tr, err := notify.NewSMTP(notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: "starttls", CAPEM: ca.PEM,
		Username: "renewald", Password: "pw", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env := &notify.Envelope{From: mailbox, To: "ops@example.com", Data: []byte("Subject: test\r\n\r\nhello\r\n")}
	res, err := tr.Test(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if res.TLSVersion != "TLS 1.3" || res.Auth != "PLAIN" || !strings.HasPrefix(res.Reply, "2.0.0 OK") {
		t.Errorf("result %+v", res)
	}
	srv.SetDecide(func(string, int) smtptest.Fault { return smtptest.Perm550 })
	_, err = tr.Test(ctx, env)
	var se *notify.SendError
	if !errors.As(err, &se) || se.Temporary || !strings.Contains(se.Reply, "550") {
		t.Errorf("550: %v", err)
	}
}
