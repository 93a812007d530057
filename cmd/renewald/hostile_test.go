package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
)

// TestHostileInputExitsTwoAndWritesNothing feeds the real binary bad files and bad configuration:
// each gives exit 2, one line naming the file and field, and leaves the database as it was.
func TestHostileInputExitsTwoAndWritesNothing(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("import", fixture("partners.json"))
	before := e.mustRun("schedule", "--json", "--from", "2025-01-01")
	users := "partner_id,partner_name,email,name,roles\n"
	specs := "partner_id,partner_name,specialization,attained_on\n"
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"CR/LF in address", "u.csv", users + "9,X,\"a@x.example\r\nBcc: v@evil.example\",A,Global admin\n", "email"},
		{"LF in name", "u.csv", users + "9,X,a@x.example,\"A\nB\",Global admin\n", "name"},
		{"10 MB name", "u.csv", users + "9,X,a@x.example," + strings.Repeat("a", 10<<20) + ",Global admin\n", "name"},
		{"invalid UTF-8", "s.csv", specs + "9,\xc3\x28,Finance,2023-01-01\n", "partner_name"},
		{"duplicate keys", "p.json", `{"partners": [{"id": "9", "name": "X", "name": "Y"}]}`, "appears twice"},
		{"date far in the past", "s.csv", specs + "9,X,Finance,1899-12-31\n", "attained_on"},
		{"date far in the future", "s.csv", specs + "9,X,Finance,9999-12-31\n", "attained_on"},
		{"impossible date", "s.csv", specs + "9,X,Finance,2023-02-29\n", "attained_on"},
		{"Azure Expert MSP", "s.csv", specs + "9,X,Azure Expert MSP,2023-01-01\n", "own renewal process"},
		{"binary garbage", "s.csv", "\x00\x01\x02\xff\n", "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(e.dir, tc.file)
			os.WriteFile(p, []byte(tc.content), 0o600)
			// A good file first in the same import: it must not be written either.
			code, _, errs := e.run("import", fixture("users.csv"), p)
			if code != 2 || !strings.Contains(errs, p) || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 || len(errs) > 1000 {
				t.Errorf("exit %d, stderr %.300q", code, errs)
			}
			if after := e.mustRun("schedule", "--json", "--from", "2025-01-01"); after != before {
				t.Error("the database changed")
			}
		})
	}
	for _, tc := range []struct{ name, cfg, want string }{
		{"negative offset out of range", "[renewal]\noffsets_days = [-400, 0]\n", "renewal.offsets_days"},
		{"negative grace", "[renewal]\ngrace_period_days = -1\n", "renewal.grace_period_days"},
		{"unknown key", "[mail]\nsmtp_host = \"x\"\n", "unknown key mail.smtp_host"},
		{"plain text to a remote server", "[mail.smtp]\nhost = \"mail.example.com\"\ntls = \"none\"\n", "mail.smtp.tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(e.dir, "bad.toml")
			os.WriteFile(p, []byte(tc.cfg), 0o600)
			for _, cmd := range [][]string{{"config", "check"}, {"run"}, {"tick"}} {
				c := e.cmd(cmd...)
				c.Args = append([]string{binary, "--config", p}, cmd...)
				out, _ := c.CombinedOutput()
				want := 2
				if cmd[0] == "run" {
					want = 78 // EX_CONFIG: systemd does not restart it
				}
				if c.ProcessState.ExitCode() != want || !strings.Contains(string(out), tc.want) {
					t.Errorf("%v: exit %d, %q", cmd, c.ProcessState.ExitCode(), out)
				}
			}
		})
	}
}

// TestSecretsStayOut checks that the SMTP password shows up in no output: config check, a failing
// delivery's logs and errors, or the outbox.
func TestSecretsStayOut(t *testing.T) {
	const secret = "hunter2-very-secret"
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	srv.Close() // a server that is down: delivery fails and logs
	e := newEnv(t, fmt.Sprintf("[mail.smtp]\nhost = \"127.0.0.1\"\nport = %d\nusername = \"renewald\"\npassword_file = %q\ntls = \"none\"\n",
		srv.Port, filepath.Join(t.TempDir(), "pw")))
	e.clock = fixtureDay
	body, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(body), "transport = \"file\"", "transport = \"smtp\"", 1)), 0o600)
	var pwFile string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "password_file") {
			pwFile = strings.Trim(strings.TrimSpace(strings.SplitN(l, "=", 2)[1]), `"`)
		}
	}
	os.WriteFile(pwFile, []byte(secret+"\n"), 0o600)
	var all strings.Builder
	for _, args := range [][]string{{"config", "check"}, {"import", fixture("partners.json")}, {"--log-level", "debug", "tick", "--as-of", "2026-01-15"},
		{"outbox", "list", "--json"}, {"deliver"}} {
		_, out, errs := e.run(args...)
		all.WriteString(out + errs)
	}
	if strings.Contains(all.String(), secret) {
		t.Errorf("the password leaked:\n%s", all.String())
	}
	if !strings.Contains(all.String(), "temporary delivery failure") {
		t.Errorf("the failing delivery was not exercised:\n%s", all.String())
	}
	fi, _ := os.Stat(filepath.Join(e.dir, "r.db"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v", fi.Mode())
	}
}

// TestConcurrentOperatorsWhileDaemonRuns runs imports, backfills and outbox lists while the daemon
// ticks and delivers to a loopback SMTP server: no "database is locked", no lost write.
func TestConcurrentOperatorsWhileDaemonRuns(t *testing.T) {
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := newEnv(t, fmt.Sprintf("[mail.smtp]\nhost = \"127.0.0.1\"\nport = %d\ntls = \"none\"\n", srv.Port))
	body, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(body), "transport = \"file\"", "transport = \"smtp\"", 1)), 0o600)
	// Reminders due today, so the daemon's catch-up tick queues and delivers while we work.
	today := time.Now().UTC()
	var u, s strings.Builder
	u.WriteString("partner_id,partner_name,email,name,roles\n")
	s.WriteString("partner_id,partner_name,specialization,attained_on\n")
	for i := 1; i <= 1500; i++ {
		fmt.Fprintf(&u, "%d,P%d,a@p%d.example,A,Global admin\n", i, i, i)
		fmt.Fprintf(&s, "%d,P%d,Finance,%s\n", i, i, today.AddDate(-2, 0, 30).Format("2006-01-02"))
	}
	up, sp := filepath.Join(e.dir, "u.csv"), filepath.Join(e.dir, "s.csv")
	os.WriteFile(up, []byte(u.String()), 0o600)
	os.WriteFile(sp, []byte(s.String()), 0o600)
	e.mustRun("import", up, sp)

	d := e.cmd("run")
	var derr syncBuffer
	d.Stderr = &derr
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	work := func(name string, n int, args func(i int) []string) {
		defer wg.Done()
		for i := 0; i < n; i++ {
			code, out, stderr := e.run(args(i)...)
			if code != 0 || strings.Contains(stderr, "locked") {
				errs <- fmt.Sprintf("%s %d: exit %d %s %s", name, i, code, out, stderr)
				return
			}
		}
	}
	wg.Add(3)
	go work("import", 5, func(i int) []string {
		p := filepath.Join(e.dir, fmt.Sprintf("extra%d.csv", i))
		os.WriteFile(p, []byte(fmt.Sprintf("partner_id,partner_name,specialization,attained_on\nx%d,Extra %d,Sales,2022-03-0%d\n", i, i, i+1)), 0o600)
		return []string{"import", p}
	})
	go work("backfill", 3, func(i int) []string {
		return []string{"backfill", "--from", fmt.Sprintf("202%d-01-01", 3+i), "--to", fmt.Sprintf("202%d-12-31", 3+i), "--wait", "60s"}
	})
	go work("outbox list", 30, func(int) []string { return []string{"outbox", "list", "--limit", "20"} })
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// Wait for the catch-up tick's delivery, then stop the daemon.
	deadline := time.Now().Add(60 * time.Second)
	for srv.Count() < 1500 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	d.Process.Signal(os.Interrupt)
	if err := d.Wait(); err != nil {
		t.Fatalf("daemon: %v\n%s", err, derr.String())
	}
	if srv.Count() != 1500 {
		t.Errorf("daemon delivered %d of 1500", srv.Count())
	}
	out := e.mustRun("schedule", "--json", "--from", "2025-01-01", "--to", "2025-12-31")
	for i := 0; i < 5; i++ {
		if !strings.Contains(out, fmt.Sprintf(`"partner_id": "x%d"`, i)) {
			t.Errorf("import %d was lost", i)
		}
	}
	if strings.Contains(derr.String(), "locked") {
		t.Errorf("daemon saw a locked database:\n%s", derr.String())
	}
}

// TestOAuth2SecretsStayOut runs the daemon's commands with auth = "xoauth2" against the loopback
// Microsoft 365 stand-in, delivering and failing (token endpoint refusing, then down), with debug
// logs: neither the client secret nor any access token issued appears in any output.
func TestOAuth2SecretsStayOut(t *testing.T) {
	x := startM365(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, x.ca.PEM, 0o600)
	secretFile := filepath.Join(dir, "client-secret")
	os.WriteFile(secretFile, []byte(oauthClientSecret+"\n"), 0o600)
	e := smtpEnv(t, x.config(t, caFile, secretFile))
	// Reminders go out on their due dates only (R13): the binary's clock steps from the fixture's day
	// to the end of each backfilled range before it delivers.
	e.clock = fixtureDay
	var all strings.Builder
	var tokens []string
	run := func(args ...string) {
		_, out, errs := e.run(append([]string{"--log-level", "debug"}, args...)...)
		all.WriteString(out + errs)
		if tok := x.te.LastToken(); tok != "" && (len(tokens) == 0 || tokens[len(tokens)-1] != tok) {
			tokens = append(tokens, tok)
		}
	}
	run("config", "check")
	run("import", fixture("partners.json"))
	run("tick", "--as-of", "2026-01-15")
	run("outbox", "list", "--json")
	run("mail", "test", "--to", "ops@example.com")
	x.te.Revoke() // the next delivery gets 535, refreshes once
	e.clock = "2026-03-31T06:00:00Z"
	run("backfill", "--from", "2026-02-01", "--to", "2026-03-31")
	run("deliver")
	x.te.Fail(503)
	e.clock = "2026-04-15T06:00:00Z"
	run("backfill", "--from", "2026-04-01", "--to", "2026-04-15")
	run("deliver")
	run("mail", "test", "--to", "ops@example.com")
	x.te.Close()
	run("mail", "test", "--to", "ops@example.com")
	run("outbox", "list", "--json")
	if x.srv.Count() < 3 || len(tokens) < 2 {
		t.Fatalf("not exercised: %d messages accepted, %d tokens issued\n%s", x.srv.Count(), len(tokens), all.String())
	}
	for _, secret := range append([]string{oauthClientSecret}, tokens...) {
		if strings.Contains(all.String(), secret) {
			t.Errorf("%q leaked:\n%s", secret, all.String())
		}
	}
	for _, want := range []string{"HTTP 503", "temporary delivery failure", "connection refused"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("output lacks %q: a failure path was not exercised\n%s", want, all.String())
		}
	}
}
