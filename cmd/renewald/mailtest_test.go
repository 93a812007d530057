package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
)

const (
	oauthClientSecret = "oauth-client-secret-never-shown"
	oauthScope        = "https://outlook.office365.com/.default"
	sendingMailbox    = "renewals@example.com"
)

// m365 is a stand-in for Exchange Online on loopback: STARTTLS with a certificate from a CA made
// here, only XOAUTH2, only tokens from its token endpoint.
type m365 struct {
	ca  *smtptest.CA
	te  *smtptest.TokenEndpoint
	srv *smtptest.Server
}

func startM365(t *testing.T) *m365 {
	t.Helper()
	ca, err := smtptest.NewCA("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	te := smtptest.StartTokenEndpoint("renewald-app", oauthClientSecret, oauthScope)
	t.Cleanup(te.Close)
	srv, err := smtptest.StartWith(smtptest.Options{TLS: ca.ServerTLS(), RequireAuth: true,
		XOAUTH2: func(user, token string) bool { return user == sendingMailbox && te.Valid(token) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &m365{ca: ca, te: te, srv: srv}
}

// config returns the [mail.smtp] tables for this server; caFile "" leaves ca_file out.
func (x *m365) config(t *testing.T, caFile, secretFile string) string {
	return fmt.Sprintf(`[mail.smtp]
host = "127.0.0.1"
port = %d
username = %q
tls = "starttls"
auth = "xoauth2"
ca_file = %q
[mail.smtp.oauth2]
token_url = %q
client_id = "renewald-app"
client_secret_file = %q
`, x.srv.Port, sendingMailbox, caFile, x.te.URL, secretFile)
}

// smtpEnv is newEnv with transport = "smtp" and extra appended.
func smtpEnv(t *testing.T, extra string) *env {
	e := newEnv(t, extra)
	body, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(body), "transport = \"file\"", "transport = \"smtp\"", 1)), 0o600)
	return e
}

// TestMailTestCommand runs the real binary's "mail test" against the loopback Microsoft 365
// stand-in: accepted (exit 0, the server's reply, TLS version and mechanism), refused with 550,
// a certificate that does not verify, a token endpoint that refuses the client (exit 1, one line),
// and a bad address or configuration (exit 2).
func TestMailTestCommand(t *testing.T) {
	x := startM365(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, x.ca.PEM, 0o600)
	secretFile := filepath.Join(dir, "client-secret")
	os.WriteFile(secretFile, []byte(oauthClientSecret+"\n"), 0o600)
	e := smtpEnv(t, x.config(t, caFile, secretFile))

	code, out, errs := e.run("mail", "test", "--to", "ops@example.com")
	if code != 0 || !strings.Contains(out, "accepted by 127.0.0.1:") || !strings.Contains(out, "2.0.0 OK") ||
		!strings.Contains(out, "TLS: TLS 1.3, auth: XOAUTH2") {
		t.Fatalf("accepted: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("accepted: %s", strings.TrimSpace(out))
	msgs := x.srv.Messages()
	if len(msgs) != 1 || msgs[0].To != "ops@example.com" || msgs[0].User != sendingMailbox ||
		!strings.Contains(string(msgs[0].Data), "X-Renewald-Test: yes") || !strings.Contains(string(msgs[0].Data), "Subject: renewald test message") {
		t.Fatalf("server got %+v", msgs)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "r.db")); err == nil {
		t.Error("mail test opened the database: it does not go through the outbox")
	}

	code, out, _ = e.run("mail", "test", "--to", "ops@example.com", "--json")
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("--json: exit %d %v\n%s", code, err, out)
	}
	if res["accepted"] != true || res["tls"] != "TLS 1.3" || res["auth"] != "XOAUTH2" || res["error"] != nil ||
		!strings.Contains(fmt.Sprint(res["reply"]), "OK") || res["to"] != "ops@example.com" {
		t.Errorf("--json: %v", res)
	}

	x.srv.SetDecide(func(string, int) smtptest.Fault { return smtptest.Perm550 })
	code, out, errs = e.run("mail", "test", "--to", "nobody@example.com")
	if code != 1 || !strings.Contains(errs, "550") || !strings.Contains(errs, "mailbox nobody@example.com unavailable") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("550: exit %d %q %q", code, out, errs)
	}
	t.Logf("refused: %s", strings.TrimSpace(errs))
	code, out, _ = e.run("mail", "test", "--to", "nobody@example.com", "--json")
	json.Unmarshal([]byte(out), &res)
	if code != 1 || res["accepted"] != false || !strings.Contains(fmt.Sprint(res["error"]), "550") || res["temporary"] != nil {
		t.Errorf("550 --json: exit %d %v", code, res)
	}
	x.srv.SetDecide(nil)

	noCA := smtpEnv(t, x.config(t, "", secretFile))
	code, _, errs = noCA.run("mail", "test", "--to", "ops@example.com")
	if code != 1 || !strings.Contains(errs, "x509: certificate signed by unknown authority") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("TLS failure: exit %d %q", code, errs)
	}
	t.Logf("TLS failure: %s", strings.TrimSpace(errs))

	wrongSecret := filepath.Join(dir, "wrong-secret")
	os.WriteFile(wrongSecret, []byte("not-the-secret\n"), 0o600)
	badToken := smtpEnv(t, x.config(t, caFile, wrongSecret))
	code, _, errs = badToken.run("mail", "test", "--to", "ops@example.com")
	if code != 1 || !strings.Contains(errs, "oauth2 token endpoint "+x.te.URL+": HTTP 401 Unauthorized (invalid_client)") ||
		strings.Contains(errs, "not-the-secret") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("token failure: exit %d %q", code, errs)
	}
	t.Logf("token failure: %s", strings.TrimSpace(errs))

	for _, args := range [][]string{{"mail", "test"}, {"mail", "test", "--to", "not an address"},
		{"mail", "test", "--to", "a@example.com\r\nBcc: b@example.com"}, {"mail", "send", "--to", "a@example.com"}} {
		if code, _, errs := e.run(args...); code != 2 {
			t.Errorf("%q: exit %d %q", args, code, errs)
		}
	}
	badCfg := smtpEnv(t, x.config(t, filepath.Join(dir, "missing.pem"), secretFile))
	if code, _, errs := badCfg.run("mail", "test", "--to", "ops@example.com"); code != 2 || !strings.Contains(errs, "mail.smtp.ca_file") {
		t.Errorf("missing CA file: exit %d %q", code, errs)
	}
	if got := x.srv.Count(); got != 2 {
		t.Errorf("server accepted %d messages, want the 2 accepted tests", got)
	}
}

// TestMailTestFileTransport writes the test message to the mail folder.
func TestMailTestFileTransport(t *testing.T) {
	e := newEnv(t, "")
	code, out, errs := e.run("mail", "test", "--to", "ops@example.com")
	files, _ := filepath.Glob(filepath.Join(e.dir, "mail", "*.eml"))
	if code != 0 || len(files) != 1 || !strings.Contains(out, "written to") {
		t.Fatalf("exit %d, %d files, %s%s", code, len(files), out, errs)
	}
}

// TestDailyQuotaAcrossDeliverProcesses starts two real "deliver" processes at once on one database
// with 12 reminders due and max_per_day = 5: 5 are sent in all, the other 7 wait for tomorrow with
// no attempt counted.
func TestDailyQuotaAcrossDeliverProcesses(t *testing.T) {
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := smtpEnv(t, fmt.Sprintf("max_per_day = 5\nbatch_size = 2\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = %d\ntls = \"none\"\n", srv.Port))
	today := time.Now().UTC()
	var u, s strings.Builder
	u.WriteString("partner_id,partner_name,email,name,roles\n")
	s.WriteString("partner_id,partner_name,specialization,attained_on\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&u, "%d,P%d,a@p%d.example,A,Global admin\n", i, i, i)
		fmt.Fprintf(&s, "%d,P%d,Finance,%s\n", i, i, today.AddDate(-2, 0, 30).Format("2006-01-02"))
	}
	up, sp := filepath.Join(e.dir, "u.csv"), filepath.Join(e.dir, "s.csv")
	os.WriteFile(up, []byte(u.String()), 0o600)
	os.WriteFile(sp, []byte(s.String()), 0o600)
	e.mustRun("import", up, sp)
	e.mustRun("tick", "--no-deliver")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := 0; i < 2; i++ {
		c := e.cmd("deliver")
		var b bytes.Buffer
		c.Stdout, c.Stderr = &b, &b
		cmds, outs = append(cmds, c), append(outs, &b)
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("deliver %d: %v\n%s", i, err, outs[i])
		}
	}
	var rows []struct {
		Status    string  `json:"status"`
		Attempts  int     `json:"attempts"`
		LastError *string `json:"last_error"`
	}
	json.Unmarshal([]byte(e.mustRun("outbox", "list", "--json")), &rows)
	n := map[string]int{}
	for _, r := range rows {
		n[r.Status]++
		if r.Status == "pending" && (r.Attempts != 0 || r.LastError == nil || *r.LastError != "daily quota of 5 reached (mail.max_per_day)") {
			t.Errorf("pending row: attempts %d, last_error %v", r.Attempts, r.LastError)
		}
	}
	if srv.Count() != 5 || n["sent"] != 5 || n["pending"] != 7 {
		t.Errorf("server got %d, statuses %v\n%s\n%s", srv.Count(), n, outs[0], outs[1])
	}
	t.Logf("two deliver processes: %s / %s", strings.TrimSpace(lastLine(outs[0].String())), strings.TrimSpace(lastLine(outs[1].String())))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
