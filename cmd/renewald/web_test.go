package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/config"
)

func TestWebConfigValidation(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"off loopback without users and TLS", "[web]\nlisten = \"0.0.0.0:8080\"\n", "web.users_file"},
		{"off loopback without cert", "[web]\nlisten = \"0.0.0.0:8080\"\nusers_file = \"u\"\n", "web.cert_file"},
		{"bare port", "[web]\nlisten = \":8080\"\nusers_file = \"u\"\ncert_file = \"c\"\n", "web.key_file"},
		{"any address v6", "[web]\nlisten = \"[::]:8080\"\n", "web.users_file"},
		{"key without cert", "[web]\nlisten = \"127.0.0.1:8080\"\nkey_file = \"k\"\n", "web.cert_file"},
		{"bad listen", "[web]\nlisten = \"8080\"\n", "web.listen"},
		{"base path trailing slash", "[web]\nbase_path = \"/renewald/\"\n", "web.base_path"},
		{"base path relative", "[web]\nbase_path = \"renewald\"\n", "web.base_path"},
		{"unknown key", "[web]\nport = 8080\n", "unknown key web.port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "c.toml", tc.toml)
			if _, err := config.Load(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to name %s", err, tc.want)
			}
		})
	}
	for _, ok := range []string{"[web]\nlisten = \"127.0.0.1:8080\"\nbase_path = \"/renewald\"\n", "[web]\nlisten = \"localhost:8080\"\n",
		"[web]\nlisten = \"[::1]:8080\"\n", "[web]\nlisten = \"0.0.0.0:8443\"\nusers_file = \"u\"\ncert_file = \"c\"\nkey_file = \"k\"\n"} {
		if _, err := config.Load(writeFile(t, "c.toml", ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	code, _, errs := runMain(t, nil, now, "--config", writeFile(t, "c.toml", "[web]\nlisten = \"0.0.0.0:8080\"\n"), "config", "check")
	if code != 2 || !strings.Contains(errs, "web.users_file") || !strings.Contains(errs, "web.key_file") {
		t.Errorf("config check: exit %d %q", code, errs)
	}
	if code, _, errs := runMain(t, nil, now, "--db", filepath.Join(t.TempDir(), "x.db"), "web"); code != 2 || !strings.Contains(errs, "web.listen") {
		t.Errorf("web without listen: exit %d %q", code, errs)
	}
}

// waitAddr waits for the process's log line naming msg and returns its addr=.
func waitAddr(t *testing.T, errb *syncBuffer, msg string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := errb.String()
		if i := strings.Index(s, msg); i >= 0 {
			if j := strings.Index(s[i:], "addr="); j >= 0 {
				return strings.Fields(s[i+j+len("addr="):])[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", msg, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func fileSum(t *testing.T, p string) [32]byte {
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestWebCommandServesReadOnlyBesideTheDaemon: `renewald web` takes no lock and writes nothing, so it
// serves the pages of a database a daemon holds.
func TestWebCommandServesReadOnlyBesideTheDaemon(t *testing.T) {
	e := newEnv(t, "[web]\nlisten = \"127.0.0.1:0\"\n")
	e.clock = fixtureDay
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("tick", "--as-of", "2026-01-15")
	db := filepath.Join(e.dir, "r.db")
	before := [2][32]byte{fileSum(t, db), fileSum(t, db+"-wal")}
	c := e.cmd("web")
	var errb syncBuffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Signal(syscall.SIGTERM); c.Wait() }()
	addr := waitAddr(t, &errb, "web pages listening")
	for _, p := range []string{"/", "/outbox", "/outbox/1", "/renewals", "/partners/4761234"} {
		if code, body := httpGet(t, "http://"+addr+p); code != 200 || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, _ := httpGet(t, "http://"+addr+"/metrics"); code != 404 {
		t.Errorf("/metrics from renewald web: %d", code)
	}
	// A daemon starts on the same file while the pages are served: web holds no lock.
	if code, _, errs := e.run("outbox", "list"); code != 0 {
		t.Errorf("outbox list beside web: %d %s", code, errs)
	}
	after := [2][32]byte{fileSum(t, db), fileSum(t, db+"-wal")}
	if !bytes.Equal(before[0][:], after[0][:]) || !bytes.Equal(before[1][:], after[1][:]) {
		t.Error("renewald web changed the database")
	}
	c.Process.Signal(syscall.SIGTERM)
	if err := c.Wait(); err != nil {
		t.Errorf("web did not exit 0 on SIGTERM: %v\n%s", err, errb.String())
	}
}

// TestRunServesWebAndMetricsOnOneServer: when [web] listen equals [metrics] listen, the daemon serves
// both from one server; /metrics stays unauthenticated.
func TestRunServesWebAndMetricsOnOneServer(t *testing.T) {
	e := newEnv(t, "[metrics]\nlisten = \"127.0.0.1:0\"\n[web]\nlisten = \"127.0.0.1:0\"\nbase_path = \"/renewald\"\n")
	e.clock = fixtureDay
	e.mustRun("import", fixture("partners.json"))
	c := e.cmd("run")
	var errb syncBuffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Signal(syscall.SIGTERM); c.Wait() }()
	addr := waitAddr(t, &errb, "web pages listening")
	if strings.Contains(errb.String(), "metrics listening") {
		t.Error("a second server for the metrics")
	}
	if code, body := httpGet(t, "http://"+addr+"/metrics"); code != 200 || !strings.Contains(body, "renewald_outbox_rows") {
		t.Errorf("/metrics: %d", code)
	}
	if code, body := httpGet(t, "http://"+addr+"/renewald/"); code != 200 || !strings.Contains(body, "Last successful tick") {
		t.Errorf("/renewald/: %d", code)
	}
}
