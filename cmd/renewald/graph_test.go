package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/graphtest"
)

const (
	graphTenant       = "contoso.onmicrosoft.com"
	graphClientID     = "renewald-graph-app"
	graphClientSecret = "graph-client-secret-never-shown"
)

// graphStandIn is the loopback Entra ID and Graph, whose CA the binary trusts through SSL_CERT_FILE,
// and whose clock follows the env's.
type graphStandIn struct {
	gs     *graphtest.Server
	caFile string
	dir    string

	mu    sync.Mutex
	start time.Time // the binary's clock at created
	since time.Time
}

func startGraphStandIn(t *testing.T) *graphStandIn {
	t.Helper()
	gs, err := graphtest.Start(graphTenant, graphClientID, sendingMailbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gs.Close)
	x := &graphStandIn{gs: gs, dir: t.TempDir(), start: time.Now(), since: time.Now()}
	gs.Secret = graphClientSecret
	gs.Now = x.now
	x.caFile = filepath.Join(x.dir, "ca.pem")
	os.WriteFile(x.caFile, gs.CA.PEM, 0o600)
	return x
}

func (x *graphStandIn) now() time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.start.Add(time.Since(x.since))
}

// follow sets the stand-in's clock to the env's fake clock.
func (x *graphStandIn) follow(e *env) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.start, x.since = time.Now(), time.Now()
	if e.clock != "" {
		s, _ := time.Parse(time.RFC3339, e.clock)
		x.start, x.since = s.Add(time.Since(e.created)), time.Now()
	}
}

// env returns an env delivering through Graph to the stand-in with credential (the
// client_secret_file or client_certificate_file line), trusting its CA unless noCA.
func (x *graphStandIn) env(t *testing.T, credential string, noCA bool) *env {
	e := newEnv(t, fmt.Sprintf("[mail.graph]\ntenant = %q\nclient_id = %q\nmailbox = %q\nlogin_endpoint = %q\ngraph_endpoint = %q\n%s\n",
		graphTenant, graphClientID, sendingMailbox, x.gs.URL, x.gs.URL, credential))
	body, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(body), "transport = \"file\"", "transport = \"graph\"", 1)), 0o600)
	if !noCA {
		e.environ = []string{"SSL_CERT_FILE=" + x.caFile}
	}
	return e
}

func (x *graphStandIn) secretLine() string {
	p := filepath.Join(x.dir, "graph-secret")
	os.WriteFile(p, []byte(graphClientSecret+"\n"), 0o600)
	return fmt.Sprintf("client_secret_file = %q", p)
}

// certLine registers a new certificate with the stand-in (unless other) and returns its config line.
func (x *graphStandIn) certLine(t *testing.T, name string, other bool) (line string, pemData []byte) {
	t.Helper()
	data, cert, err := graphtest.NewClientCertificate("renewald", time.Now().AddDate(-1, 0, 0), time.Now().AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !other {
		x.gs.Cert = cert
	}
	p := filepath.Join(x.dir, name)
	os.WriteFile(p, data, 0o600)
	return fmt.Sprintf("client_certificate_file = %q", p), data
}

// TestGraphMailTestCommand runs the real binary's "mail test" through the Graph stand-in: accepted
// with a secret and with a certificate (cloud, mailbox, credential kind, the token endpoint's answer,
// Graph's status), 403 and a refused secret and an untrusted certificate (exit 1, one line), and
// never a token.
func TestGraphMailTestCommand(t *testing.T) {
	x := startGraphStandIn(t)
	certLine, _ := x.certLine(t, "app.pem", false)
	for _, cred := range []struct{ name, line, want string }{
		{"secret", x.secretLine(), "credential: client secret"},
		{"certificate", certLine, "credential: certificate "},
	} {
		e := x.env(t, cred.line, false)
		code, out, errs := e.run("mail", "test", "--to", "ops@example.com")
		for _, want := range []string{"Microsoft Graph: cloud global (" + x.gs.URL + "), mailbox " + sendingMailbox, cred.want,
			"token endpoint " + x.gs.TokenURL() + ": HTTP 200 OK: Bearer token, valid for 3600 s", "Graph sendMail: HTTP 202\n",
			"accepted by Microsoft Graph for " + sendingMailbox + ": HTTP 202 Accepted"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("%s: exit %d, output lacks %q:\n%s%s", cred.name, code, want, out, errs)
			}
		}
		t.Logf("%s:\n%s", cred.name, out)
	}
	msgs := x.gs.Messages()
	if len(msgs) != 2 || msgs[0].To != "ops@example.com" || !strings.Contains(string(msgs[0].MIME), "X-Renewald-Test: yes") {
		t.Fatalf("stand-in got %+v", msgs)
	}

	e := x.env(t, x.secretLine(), false)
	code, out, _ := e.run("mail", "test", "--to", "ops@example.com", "--json")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("--json: exit %d %v\n%s", code, err, out)
	}
	if res["accepted"] != true || res["transport"] != "graph" || res["cloud"] != "global" || res["mailbox"] != sendingMailbox ||
		res["credential"] != "client secret" || res["graph_status"] != float64(202) || res["error"] != nil ||
		!strings.HasPrefix(fmt.Sprint(res["token_answer"]), "HTTP 200 OK") {
		t.Errorf("--json: %v", res)
	}

	x.gs.SetDecide(func(int, graphtest.Message) graphtest.Answer {
		return graphtest.Answer{Status: 403, Code: "ErrorAccessDenied"}
	})
	code, out, errs := e.run("mail", "test", "--to", "ops@example.com")
	if code != 1 || !strings.Contains(errs, "HTTP 403 Forbidden ErrorAccessDenied") || !strings.Contains(errs, "Mail.Send") ||
		!strings.Contains(out, "Graph sendMail: HTTP 403 ErrorAccessDenied") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("403: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("403: %s", strings.TrimSpace(errs))
	x.gs.SetDecide(nil)

	wrong := filepath.Join(x.dir, "wrong")
	os.WriteFile(wrong, []byte("not-the-secret"), 0o600)
	code, _, errs = x.env(t, fmt.Sprintf("client_secret_file = %q", wrong), false).run("mail", "test", "--to", "ops@example.com")
	if code != 1 || !strings.Contains(errs, "oauth2 token endpoint "+x.gs.TokenURL()+": HTTP 401 Unauthorized (invalid_client)") ||
		strings.Contains(errs, "not-the-secret") || strings.Contains(errs, "AADSTS") {
		t.Errorf("refused secret: exit %d %q", code, errs)
	}
	otherLine, _ := x.certLine(t, "other.pem", true)
	code, _, errs = x.env(t, otherLine, false).run("mail", "test", "--to", "ops@example.com")
	if code != 1 || !strings.Contains(errs, "HTTP 401 Unauthorized (invalid_client)") {
		t.Errorf("wrong key: exit %d %q", code, errs)
	}
	code, _, errs = x.env(t, x.secretLine(), true).run("mail", "test", "--to", "ops@example.com")
	if code != 1 || !strings.Contains(errs, "x509: certificate signed by unknown authority") {
		t.Errorf("untrusted CA: exit %d %q", code, errs)
	}
	for _, tok := range x.gs.Tokens() {
		if strings.Contains(out+errs, tok) {
			t.Error("a token was printed")
		}
	}
	if len(x.gs.Messages()) != 3 {
		t.Errorf("stand-in accepted %d, want the 3 accepted tests", len(x.gs.Messages()))
	}
}

// TestGraphConfigCheckRefusals: config check names the key for each refusal (exit 2).
func TestGraphConfigCheckRefusals(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	secret := writeFile(t, "secret", "s3cret\n")
	good, _, err := graphtest.NewClientCertificate("a", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	expired, _, _ := graphtest.NewClientCertificate("a", now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1))
	goodFile, expiredFile := filepath.Join(dir, "good.pem"), filepath.Join(dir, "expired.pem")
	os.WriteFile(goodFile, good, 0o600)
	os.WriteFile(expiredFile, expired, 0o600)
	certOnly := string(good[:strings.Index(string(good), "-----BEGIN PRIVATE KEY")])
	encFile := writeFile(t, "enc.pem", certOnly+"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n")
	base := "[mail]\ntransport = \"graph\"\n[mail.graph]\n"
	ids := "tenant = \"contoso.onmicrosoft.com\"\nclient_id = \"app\"\n"
	for _, tc := range []struct {
		name, toml string
		env        map[string]string
		want       string
	}{
		{"no tenant", base + "client_id = \"app\"\nclient_secret_file = \"" + secret + "\"\n", nil, "mail.graph.tenant"},
		{"no client_id", base + "tenant = \"contoso.onmicrosoft.com\"\nclient_secret_file = \"" + secret + "\"\n", nil, "mail.graph.client_id"},
		{"neither credential", base + ids, nil, "mail.graph.client_secret_file"},
		{"both files", base + ids + "client_secret_file = \"" + secret + "\"\nclient_certificate_file = \"" + goodFile + "\"\n", nil, "mail.graph.client_certificate_file"},
		{"certificate and the variable", base + ids + "client_certificate_file = \"" + goodFile + "\"\n", map[string]string{"RENEWALD_GRAPH_CLIENT_SECRET": "s3cret"}, "mail.graph.client_certificate_file"},
		{"unreadable certificate", base + ids + "client_certificate_file = \"/nonexistent/app.pem\"\n", nil, "mail.graph.client_certificate_file"},
		{"encrypted key", base + ids + "client_certificate_file = \"" + encFile + "\"\n", nil, "encrypted"},
		{"expired certificate", base + ids + "client_certificate_file = \"" + expiredFile + "\"\n", nil, "expired on"},
		{"unknown cloud", base + ids + "client_secret_file = \"" + secret + "\"\ncloud = \"mars\"\n", nil, "mail.graph.cloud"},
		{"http login endpoint", base + ids + "client_secret_file = \"" + secret + "\"\nlogin_endpoint = \"http://127.0.0.1:8080\"\n", nil, "mail.graph.login_endpoint"},
		{"http graph endpoint", base + ids + "client_secret_file = \"" + secret + "\"\ngraph_endpoint = \"http://graph.microsoft.com\"\n", nil, "mail.graph.graph_endpoint"},
		{"smtp oauth2 both", "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\ntoken_url = \"https://login.example.com/t\"\nclient_secret_file = \"" + secret + "\"\nclient_certificate_file = \"" + goodFile + "\"\n", nil, "mail.smtp.oauth2.client_certificate_file"},
		{"smtp oauth2 expired certificate", "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\ntoken_url = \"https://login.example.com/t\"\nclient_certificate_file = \"" + expiredFile + "\"\n", nil, "mail.smtp.oauth2.client_certificate_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "c.toml", tc.toml)
			code, out, errs := runMain(t, tc.env, now, "--config", p, "config", "check")
			if code != 2 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || strings.Contains(out+errs, "s3cret") {
				t.Errorf("exit %d, stderr %q, want %q", code, errs, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name, toml string
		env        map[string]string
	}{
		{"secret file", base + ids + "client_secret_file = \"" + secret + "\"\n", nil},
		{"secret in the environment", base + ids, map[string]string{"RENEWALD_GRAPH_CLIENT_SECRET": "s3cret"}},
		{"certificate, usgov", base + ids + "client_certificate_file = \"" + goodFile + "\"\ncloud = \"usgov\"\n", nil},
		{"smtp oauth2 certificate", "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\ntoken_url = \"https://login.example.com/t\"\nclient_certificate_file = \"" + goodFile + "\"\n", nil},
	} {
		p := writeFile(t, "c.toml", tc.toml)
		if code, out, errs := runMain(t, tc.env, now, "--config", p, "config", "check"); code != 0 || strings.Contains(out+errs, "s3cret") {
			t.Errorf("%s: exit %d %q %q", tc.name, code, out, errs)
		}
	}
}

// TestGraphSecretsStayOut runs the daemon's commands through Graph with debug logs, delivering and
// failing (401 refresh, a 503 token endpoint, 403, 429), with a secret and with a certificate:
// neither the client secret, nor any client assertion, nor any access token issued, nor the private
// key appears in any output; the 403 keeps the rows pending without an attempt.
func TestGraphSecretsStayOut(t *testing.T) {
	x := startGraphStandIn(t)
	certLine, certPEM := x.certLine(t, "app.pem", false)
	for _, cred := range []struct{ name, line string }{{"secret", x.secretLine()}, {"certificate", certLine}} {
		t.Run(cred.name, func(t *testing.T) {
			e := x.env(t, cred.line, false)
			e.clock = fixtureDay
			var all strings.Builder
			run := func(args ...string) {
				x.follow(e)
				_, out, errs := e.run(append([]string{"--log-level", "debug"}, args...)...)
				all.WriteString(out + errs)
			}
			before := len(x.gs.Messages())
			run("config", "check")
			run("import", fixture("partners.json"))
			run("tick", "--as-of", "2026-01-15")
			run("outbox", "list", "--json")
			run("mail", "test", "--to", "ops@example.com")
			x.gs.Revoke() // the next delivery gets 401 and refreshes once
			e.clock = "2026-03-31T06:00:00Z"
			run("backfill", "--from", "2026-02-01", "--to", "2026-03-31")
			run("deliver")
			x.gs.SetDecide(func(int, graphtest.Message) graphtest.Answer {
				return graphtest.Answer{Status: 403, Code: "ErrorAccessDenied"}
			})
			e.clock = "2026-04-15T06:00:00Z"
			run("backfill", "--from", "2026-04-01", "--to", "2026-04-15")
			x.follow(e)
			if code, out, errs := e.run("--log-level", "debug", "deliver"); code != 0 {
				t.Errorf("deliver after 403: exit %d, want 0 (every outcome recorded)\n%s%s", code, out, errs)
			} else {
				all.WriteString(out + errs)
			}
			var rows []struct {
				Status    string  `json:"status"`
				Attempts  int     `json:"attempts"`
				LastError *string `json:"last_error"`
			}
			json.Unmarshal([]byte(e.mustRun("outbox", "list", "--json", "--status", "pending")), &rows)
			if len(rows) == 0 {
				t.Fatalf("no pending rows after the 403\n%s", all.String())
			}
			for _, r := range rows {
				if r.Attempts != 0 || r.LastError == nil || !strings.Contains(*r.LastError, "ErrorAccessDenied") {
					t.Errorf("pending after 403: attempts %d, last_error %v", r.Attempts, r.LastError)
				}
			}
			x.gs.SetDecide(func(int, graphtest.Message) graphtest.Answer {
				return graphtest.Answer{Status: 429, Code: "ApplicationThrottled", RetryAfter: "120"}
			})
			e.clock = "2026-04-16T06:00:00Z"
			run("deliver")
			x.gs.SetDecide(nil)
			x.gs.FailTokens(503)
			x.gs.Revoke()
			run("mail", "test", "--to", "ops@example.com")
			run("deliver")
			x.gs.FailTokens(0)
			run("outbox", "list", "--json")
			out := all.String()
			if len(x.gs.Messages())-before < 2 || len(x.gs.Tokens()) < 2 {
				t.Fatalf("not exercised: %d accepted, %d tokens\n%s", len(x.gs.Messages())-before, len(x.gs.Tokens()), out)
			}
			leaks := append([]string{graphClientSecret}, x.gs.Tokens()...)
			leaks = append(leaks, x.gs.Assertions()...)
			if cred.name == "certificate" {
				if len(x.gs.Assertions()) < 2 {
					t.Errorf("%d assertions", len(x.gs.Assertions()))
				}
				key := string(certPEM[strings.Index(string(certPEM), "-----BEGIN PRIVATE KEY-----")+28:])
				leaks = append(leaks, key[:60])
			}
			for _, secret := range leaks {
				if strings.Contains(out, secret) {
					t.Errorf("%.40q… leaked:\n%s", secret, out)
				}
			}
			for _, want := range []string{"HTTP 503", "ErrorAccessDenied", "Mail.Send", "ApplicationThrottled", "level=ERROR"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q: a path was not exercised\n%s", want, out)
				}
			}
		})
	}
}
