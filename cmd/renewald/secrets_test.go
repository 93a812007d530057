package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/graphtest"
	"github.com/renewald/renewald/internal/smtptest"
)

// TestNoSecretLeavesThroughRedirects redirects every HTTP endpoint renewald calls (the Graph token
// endpoint with a secret and with a certificate, Graph sendMail, the SMTP XOAUTH2 token_url) to a
// recording server on another port, and runs config check, import, tick, mail test, deliver and
// outbox list in-process with debug logs; beside them SMTP with a password and PostgreSQL DSNs
// with a password (one that parses, one that does not). No secret (client secret, assertion,
// access token, private key, SMTP password, DSN password) appears in any output or log line, and
// the recording server receives no request at all; no row is counted sent through a redirect,
// and mail test exits non-zero.
func TestNoSecretLeavesThroughRedirects(t *testing.T) {
	now, _ := time.Parse(time.RFC3339, fixtureDay)
	clock := func() time.Time { return now }
	rec := smtptest.StartRecorder()
	defer rec.Close()
	gs, err := graphtest.Start(graphTenant, graphClientID, sendingMailbox)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	gs.Secret, gs.Now = graphClientSecret, clock
	certPEM, cert, err := graphtest.NewClientCertificate("renewald", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	gs.Cert = cert
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(gs.CA.PEM)
	const (
		oauthSecret  = "smtp-oauth2-secret-never-shown"
		smtpPassword = "smtp-password-never-shown"
		dsnPassword  = "dsn-password-never-shown"
		scope        = "https://outlook.office365.com/.default"
	)
	te := smtptest.StartTokenEndpoint("smtp-app", oauthSecret, scope)
	defer te.Close()
	srv, err := smtptest.StartWith(smtptest.Options{RequireAuth: true,
		Plain:   func(_, p string) bool { return p == smtpPassword },
		XOAUTH2: func(_, tok string) bool { return te.Valid(tok) }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	files := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	graph := func(cred string) string {
		return fmt.Sprintf("transport = \"graph\"\n[mail.graph]\ntenant = %q\nclient_id = %q\nmailbox = %q\nlogin_endpoint = %q\ngraph_endpoint = %q\n%s\n",
			graphTenant, graphClientID, sendingMailbox, gs.URL, gs.URL, cred)
	}
	secretLine := fmt.Sprintf("client_secret_file = %q", file("graph-secret", graphClientSecret+"\n"))
	certLine := fmt.Sprintf("client_certificate_file = %q", file("app.pem", string(certPEM)))
	smtp := fmt.Sprintf("transport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = %d\ntls = \"none\"\nusername = %q\n", srv.Port, sendingMailbox)
	noRedirect := func() { gs.RedirectTokens(""); gs.RedirectSendMail(""); te.RedirectTo("") }
	for _, tc := range []struct {
		name, database, mail string
		redirect             func()
		want                 string // in the output; "" when nothing is redirected
	}{
		{"graph token endpoint, secret", "", graph(secretLine), func() { gs.RedirectTokens(rec.URL) }, "HTTP 307 Temporary Redirect"},
		{"graph token endpoint, certificate", "", graph(certLine), func() { gs.RedirectTokens(rec.URL) }, "HTTP 307 Temporary Redirect"},
		{"graph sendMail", "", graph(secretLine), func() { gs.RedirectSendMail(rec.URL) }, "HTTP 307 Temporary Redirect from " + gs.URL},
		{"smtp xoauth2 token_url", "", smtp + fmt.Sprintf("auth = \"xoauth2\"\n[mail.smtp.oauth2]\ntoken_url = %q\nclient_id = \"smtp-app\"\nclient_secret_file = %q\nscopes = [%q]\n",
			te.URL, file("oauth-secret", oauthSecret), scope), func() { te.RedirectTo(rec.URL) }, "HTTP 307 Temporary Redirect"},
		{"smtp password", "", smtp + fmt.Sprintf("auth = \"plain\"\npassword_file = %q\n", file("smtp-password", smtpPassword)), func() {}, ""},
		{"postgres dsn", fmt.Sprintf("driver = \"postgres\"\ndsn = \"postgres://renewald:%s@127.0.0.1:1/renewald?connect_timeout=1\"\n", dsnPassword),
			graph(secretLine), func() {}, ""},
		{"postgres unparsable dsn", fmt.Sprintf("driver = \"postgres\"\ndsn_file = %q\n", file("dsn", "postgres://renewald:Gen#"+dsnPassword+"@127.0.0.1:1/renewald\n")),
			graph(secretLine), func() {}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noRedirect()
			tc.redirect()
			defer noRedirect()
			dir := t.TempDir()
			db := tc.database
			if db == "" {
				db = fmt.Sprintf("path = %q\n", filepath.Join(dir, "r.db"))
			}
			cfg := file(strings.ReplaceAll(tc.name, " ", "-")+".toml", fmt.Sprintf("[database]\n%s[mail]\nfrom = %q\n%s", db, sendingMailbox, tc.mail))
			sentBefore, reqsBefore := len(gs.Messages())+srv.Count(), len(rec.Requests())
			var all strings.Builder
			run := func(args ...string) int {
				m, out, errb := newTestMain(nil, clock)
				m.RootCAs = roots
				code := m.Run(ctx(), append([]string{"--config", cfg, "--log-level", "debug"}, args...))
				fmt.Fprintf(&all, "$ renewald %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
				return code
			}
			run("config", "check")
			run("import", fixture("partners.json"))
			run("tick", "--as-of", "2026-01-15")
			mailTest := run("mail", "test", "--to", "ops@example.com")
			run("deliver")
			run("outbox", "list", "--json")
			out := all.String()

			secrets := []string{graphClientSecret, oauthSecret, smtpPassword, dsnPassword, te.LastToken(),
				string(certPEM[strings.Index(string(certPEM), "-----BEGIN PRIVATE KEY-----")+28:])[:60]}
			secrets = append(secrets, gs.Tokens()...)
			secrets = append(secrets, gs.Assertions()...)
			for _, s := range secrets {
				if s != "" && strings.Contains(out, s) {
					t.Errorf("a secret (%.16s…) in the output:\n%s", s, out)
				}
			}
			for _, r := range rec.Requests()[reqsBefore:] {
				for _, s := range secrets {
					if s != "" && strings.Contains(r, s) {
						t.Errorf("the recording server received a secret (%.16s…)", s)
					}
				}
				t.Errorf("the recording server received a request:\n%.300s", r)
			}
			if tc.want != "" {
				if mailTest == exitOK || !strings.Contains(out, tc.want) {
					t.Errorf("mail test exit %d, want non-zero; output lacks %q:\n%s", mailTest, tc.want, out)
				}
				if n := len(gs.Messages()) + srv.Count() - sentBefore; n != 0 || strings.Contains(out, `"status": "sent"`) {
					t.Errorf("%d messages reached a server, or a row is sent:\n%s", n, out)
				}
			}
			if tc.name == "graph token endpoint, certificate" && len(gs.Assertions()) == 0 {
				t.Error("no assertion was made: the certificate path was not exercised")
			}
			t.Logf("%s", out)
		})
	}
}
