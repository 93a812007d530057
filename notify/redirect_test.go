package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/graphtest"
	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/store"
)

// startRecorder is the other host a redirect points at.
func startRecorder(t *testing.T) *smtptest.Recorder {
	t.Helper()
	rec := smtptest.StartRecorder()
	t.Cleanup(rec.Close)
	return rec
}

// assertNoneReached fails when the recorder received any request, and names the secrets it carried.
func assertNoneReached(t *testing.T, rec *smtptest.Recorder, secrets ...string) {
	t.Helper()
	for _, r := range rec.Requests() {
		for _, s := range secrets {
			if s != "" && strings.Contains(r, s) {
				t.Errorf("the redirect target received a secret (%.12s…)", s)
			}
		}
		t.Errorf("the redirect target received a request:\n%.300s", r)
	}
}

// TestTokenRequestsDoNotFollowRedirects: a token endpoint answering 307 to another host (plain
// http) gets no request of ours repeated there, with the client secret or the certificate
// assertion; the batch stays pending with an error naming the endpoint and the status.
func TestTokenRequestsDoNotFollowRedirects(t *testing.T) {
	cert := newClientCert(t)
	for _, tc := range []struct {
		name string
		cert *notify.ClientCertificate
	}{{"graph secret", nil}, {"graph certificate", cert}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGraphFixture(t, names(3), tc.cert)
			rec := startRecorder(t)
			g.gs.RedirectTokens(rec.URL)
			st, err := g.d.Deliver(ctx)
			if err != nil {
				t.Fatal(err)
			}
			secrets := append([]string{graphSecret}, g.gs.Assertions()...)
			if tc.cert != nil && len(g.gs.Assertions()) == 0 {
				t.Fatal("no assertion reached the token endpoint")
			}
			assertNoneReached(t, rec, secrets...)
			rows := g.rows(t, store.StatusPending)
			if st.Sent != 0 || len(rows) != 3 {
				t.Fatalf("stats %+v, %d pending; want nothing sent, all 3 pending", st, len(rows))
			}
			le := *rows[0].LastError
			if !strings.Contains(le, "oauth2 token endpoint "+g.gs.TokenURL()) || !strings.Contains(le, "HTTP 307") {
				t.Errorf("last_error %q, want the token endpoint and HTTP 307", le)
			}
			for _, s := range secrets {
				if strings.Contains(le, s) || strings.Contains(g.logs.String(), s) {
					t.Errorf("a secret in last_error or the log: %q", le)
				}
			}
			t.Logf("last_error: %s", le)
		})
	}
	t.Run("smtp xoauth2", func(t *testing.T) {
		f := newOAuthFixture(t, 3)
		rec := startRecorder(t)
		f.te.RedirectTo(rec.URL)
		st, err := f.d.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		assertNoneReached(t, rec, clientSecret)
		rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusPending})
		if st.Sent != 0 || f.srv.Count() != 0 || len(rows) != 3 {
			t.Fatalf("stats %+v, smtp got %d, %d pending", st, f.srv.Count(), len(rows))
		}
		le := *rows[0].LastError
		if !strings.Contains(le, "oauth2 token endpoint "+f.te.URL) || !strings.Contains(le, "HTTP 307") || strings.Contains(le, clientSecret) {
			t.Errorf("last_error %q, want the token endpoint and HTTP 307, no secret", le)
		}
	})
}

// TestGraphSendMailRedirectIsNotSent: sendMail answered by a 307 (or any 2xx but 202) is not a
// sent message: the rows stay pending, the redirect is not followed (neither the message nor the
// token reaches the other host), and mail test reports an error.
func TestGraphSendMailRedirectIsNotSent(t *testing.T) {
	g := newGraphFixture(t, names(9), nil)
	rec := startRecorder(t)
	g.gs.RedirectSendMail(rec.URL)
	st, err := g.d.Deliver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	assertNoneReached(t, rec, append(g.gs.Tokens(), graphSecret)...)
	if n := len(g.rows(t, store.StatusSent)); st.Sent != 0 || n != 0 || len(g.rows(t, store.StatusPending)) != 9 {
		t.Fatalf("stats %+v, %d sent; want all 9 pending", st, n)
	}
	le := *g.rows(t, store.StatusPending)[0].LastError
	if !strings.Contains(le, "graph sendMail as "+mailbox) || !strings.Contains(le, "HTTP 307 Temporary Redirect from "+g.gs.URL+"/v1.0/users/") {
		t.Errorf("last_error %q, want the endpoint and HTTP 307", le)
	}
	t.Logf("last_error: %s", le)

	env := &notify.Envelope{From: mailbox, To: "ops@example.com", Data: []byte("To: ops@example.com\r\nSubject: t\r\n\r\nhi\r\n")}
	if res, err := g.tr.Test(ctx, env); err == nil || res.Status != 307 {
		t.Errorf("mail test through a redirect: %+v, %v; want an error", res, err)
	}
	assertNoneReached(t, rec)

	// Only 202 Accepted is a sent message.
	g.gs.RedirectSendMail("")
	g.gs.SetDecide(func(int, graphtest.Message) graphtest.Answer { return graphtest.Answer{Status: 200} })
	if res, err := g.tr.Test(ctx, env); err == nil || res.Status != 200 {
		t.Errorf("mail test answered 200: %+v, %v; want an error", res, err)
	}
}

// newClientCert is a client certificate valid around the fixtures' clock.
func newClientCert(t *testing.T) *notify.ClientCertificate {
	t.Helper()
	start := time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC)
	data, _, err := graphtest.NewClientCertificate("renewald", start.AddDate(0, -1, 0), start.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := notify.ParseClientCertificate(data, start)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
