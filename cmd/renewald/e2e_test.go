package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the real renewald, built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "renewald-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "renewald")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build renewald: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture returns the absolute path of an importer test file.
func fixture(name string) string {
	p, err := filepath.Abs(filepath.Join("..", "..", "importer", "testdata", name))
	if err != nil {
		panic(err)
	}
	return p
}

type env struct {
	t   *testing.T
	dir string
	cfg string
}

// newEnv writes a config whose database and mail folder live in a temporary directory.
func newEnv(t *testing.T, extra string) *env {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[database]\npath = %q\n[mail]\ntransport = \"file\"\nfile_dir = %q\n%s", filepath.Join(dir, "r.db"), filepath.Join(dir, "mail"), extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, cfg: cfg}
}

func (e *env) cmd(args ...string) *exec.Cmd {
	c := exec.Command(binary, append([]string{"--config", e.cfg}, args...)...)
	c.Dir = e.dir
	return c
}

// run runs the binary to completion and returns exit code, stdout, stderr.
func (e *env) run(args ...string) (int, string, string) {
	e.t.Helper()
	c := e.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func (e *env) mustRun(args ...string) string {
	e.t.Helper()
	code, out, errs := e.run(args...)
	if code != 0 {
		e.t.Fatalf("renewald %v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func TestRunStopsOnSIGTERMAndRefusesASecondDaemon(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("import", fixture("partners.json"))
	c := e.cmd("run")
	var errb syncBuffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Process.Kill()
	// Wait for the catch-up tick, a signal the daemon logs; no fixed sleep.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errb.String(), "msg=tick") {
		if time.Now().After(deadline) {
			t.Fatalf("no tick logged:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, _, stderr := e.run("run")
	if code != 2 || !strings.Contains(stderr, "another renewald run") {
		t.Errorf("second run: exit %d, %q", code, stderr)
	}
	start := time.Now()
	c.Process.Signal(syscall.SIGTERM)
	err := c.Wait()
	if err != nil {
		t.Fatalf("run exited with %v\n%s", err, errb.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %s", d)
	}
	if !strings.Contains(errb.String(), "msg=stopped") {
		t.Errorf("no clean stop logged:\n%s", errb.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var contractFields = []string{"id", "partner_id", "partner_name", "specialization", "attained_on", "anniversary_on",
	"renewal_year", "manual_validation", "offset_days", "due_on", "recipient", "status", "attempts", "next_attempt_at",
	"last_error", "subject", "message_id", "created_at", "sent_at"}

func TestOutboxListJSONContract(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("tick", "--as-of", "2026-01-15")
	e.mustRun("backfill", "--from", "2026-02-01", "--to", "2026-03-31", "--record-only")
	out := e.mustRun("outbox", "list", "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(rows) < 3 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		for _, f := range contractFields {
			if _, ok := r[f]; !ok {
				t.Errorf("row %v lacks %q", r["id"], f)
			}
		}
		for _, f := range []string{"attained_on", "anniversary_on", "due_on"} {
			if _, err := time.Parse("2006-01-02", r[f].(string)); err != nil {
				t.Errorf("%s = %v", f, r[f])
			}
		}
		for _, f := range []string{"created_at", "sent_at", "next_attempt_at"} {
			if v, ok := r[f].(string); ok {
				if ts, err := time.Parse(time.RFC3339, v); err != nil || ts.Location() != time.UTC {
					t.Errorf("%s = %q is not RFC 3339 UTC", f, v)
				}
			} else if r[f] != nil {
				t.Errorf("%s = %v", f, r[f])
			}
		}
		switch r["manual_validation"] {
		case "audit", "customer_references", "none":
		default:
			t.Errorf("manual_validation %v", r["manual_validation"])
		}
	}
	// Typed decode too: the documented field set with its types.
	var typed []struct {
		ID               int64   `json:"id"`
		PartnerID        string  `json:"partner_id"`
		Specialization   string  `json:"specialization"`
		RenewalYear      int     `json:"renewal_year"`
		OffsetDays       int     `json:"offset_days"`
		Recipient        *string `json:"recipient"`
		Status           string  `json:"status"`
		Attempts         int     `json:"attempts"`
		NextAttemptAt    *string `json:"next_attempt_at"`
		LastError        *string `json:"last_error"`
		Subject          *string `json:"subject"`
		SentAt           *string `json:"sent_at"`
		ManualValidation string  `json:"manual_validation"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&typed); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]bool{}
	for _, r := range typed {
		statuses[r.Status] = true
		if r.Status == "sent" && (r.SentAt == nil || r.Subject == nil) {
			t.Errorf("sent row without sent_at/subject: %+v", r)
		}
	}
	if !statuses["sent"] || !statuses["skipped"] {
		t.Errorf("statuses %v", statuses)
	}
	// A tick in the future would stop the daily scans: refused.
	if code, _, errs := e.run("tick", "--as-of", "2999-01-01"); code != 2 || !strings.Contains(errs, "after today") {
		t.Errorf("future tick: exit %d %s", code, errs)
	}
	// Filters.
	out = e.mustRun("outbox", "list", "--json", "--status", "skipped", "--due-from", "2026-02-01", "--due-to", "2026-02-28")
	var skipped []map[string]any
	json.Unmarshal([]byte(out), &skipped)
	for _, r := range skipped {
		if r["status"] != "skipped" || r["due_on"].(string) > "2026-02-28" {
			t.Errorf("filter let through %v", r)
		}
	}
	// The table fits 120 columns.
	for _, line := range strings.Split(e.mustRun("outbox", "list"), "\n") {
		if n := len([]rune(line)); n > 120 {
			t.Errorf("table line of %d columns: %q", n, line)
		}
	}
	// show, preview, cancel and retry.
	if out := e.mustRun("outbox", "show", "1", "--json"); !strings.Contains(out, `"message_id"`) {
		t.Errorf("show: %s", out)
	}
	if out := e.mustRun("preview", "1"); !strings.Contains(out, "Subject: ") || !strings.Contains(out, "BEGIN:VCALENDAR") {
		t.Errorf("preview: %s", out)
	}
	if code, _, errs := e.run("outbox", "cancel", "1"); code != 2 || !strings.Contains(errs, "is sent") {
		t.Errorf("cancel of a sent row: %d %s", code, errs)
	}
	if code, _, _ := e.run("outbox", "show", "99999"); code != 2 {
		t.Errorf("show of a missing row: exit %d", code)
	}
}

func TestImportIsAllOrNothing(t *testing.T) {
	e := newEnv(t, "")
	var b strings.Builder
	b.WriteString("partner_id,partner_name,specialization,attained_on\n")
	for i := 0; i < 5000; i++ {
		date := "2023-04-15"
		if i == 3721 {
			date = "2023-02-30"
		}
		fmt.Fprintf(&b, "%d,Partner %d,Finance,%s\n", i, i, date)
	}
	p := filepath.Join(e.dir, "specs.csv")
	os.WriteFile(p, []byte(b.String()), 0o600)
	code, _, errs := e.run("import", p)
	if code != 2 || !strings.Contains(errs, "specs.csv: line 3723: attained_on") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("exit %d: %q", code, errs)
	}
	// Nothing written: not even an empty database (schedule says there is none).
	if code, out, errs := e.run("schedule", "--json"); code != 2 || !strings.Contains(errs, "no database at") {
		t.Errorf("after a failed import: exit %d %s %s", code, out[:min(200, len(out))], errs)
	}
	// CSV and JSON of the same data give the same database.
	j := newEnv(t, "")
	j.mustRun("import", fixture("partners.json"))
	c := newEnv(t, "")
	c.mustRun("import", fixture("users.csv"), fixture("specializations.csv"))
	c.mustRun("import", fixture("users.csv"), fixture("specializations.csv")) // twice: no change
	if a, b := j.mustRun("schedule", "--json", "--from", "2025-01-01"), c.mustRun("schedule", "--json", "--from", "2025-01-01"); a != b {
		t.Errorf("JSON and CSV imports differ:\n%s\n%s", a, b)
	}
	if code, out, _ := e.run("import", "--dry-run", fixture("partners.json")); code != 0 || !strings.Contains(out, "nothing written") {
		t.Errorf("dry run: %d %s", code, out)
	}
}

// TestReadersDuringWrites lists the outbox in a loop while another process backfills a year.
func TestReadersDuringWrites(t *testing.T) {
	e := newEnv(t, "")
	var b strings.Builder
	b.WriteString("partner_id,partner_name,email,name,roles\n")
	var s strings.Builder
	s.WriteString("partner_id,partner_name,specialization,attained_on\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "%d,P%d,a%d@p.example,A,Global admin\n", i, i, i)
		fmt.Fprintf(&s, "%d,P%d,Finance,%s\n", i, i, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%1000).Format("2006-01-02"))
	}
	up, sp := filepath.Join(e.dir, "u.csv"), filepath.Join(e.dir, "s.csv")
	os.WriteFile(up, []byte(b.String()), 0o600)
	os.WriteFile(sp, []byte(s.String()), 0o600)
	e.mustRun("import", up, sp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writer := e.cmd("backfill", "--from", "2024-01-01", "--to", "2025-12-31")
	var werr bytes.Buffer
	writer.Stderr = &werr
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- writer.Wait() }()
	reads := 0
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("backfill: %v %s", err, werr.String())
			}
			running = false
		default:
			code, _, errs := e.run("outbox", "list", "--limit", "50")
			if code != 0 || strings.Contains(errs, "locked") {
				t.Fatalf("outbox list during backfill: exit %d %s", code, errs)
			}
			reads++
		}
	}
	_ = ctx
	t.Logf("%d reads during the backfill", reads)
	if reads == 0 {
		t.Error("no read overlapped the backfill")
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	c := exec.Command(binary, "demo", "--dir", filepath.Join(dir, "demo"))
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "demo", "mail-out", "*.eml"))
	if len(files) < 5 || !strings.Contains(string(out), "no_recipients") {
		t.Errorf("%d emails; output:\n%s", len(files), out)
	}
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode())
		}
	}
	kinds := map[string]bool{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, k := range []string{"audit due", "customer references due", "qualification requirements due", "At risk"} {
			if bytes.Contains(b, []byte(k)) {
				kinds[k] = true
			}
		}
	}
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"At risk", "audit due", "customer references due", "qualification requirements due"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("demo emails cover %v, want %v", keys, want)
	}
}

func TestDaemonServesMetrics(t *testing.T) {
	e := newEnv(t, "[metrics]\nlisten = \"127.0.0.1:0\"\n")
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("tick", "--as-of", "2026-01-15", "--no-deliver")
	c := e.cmd("run")
	var errb syncBuffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Signal(syscall.SIGTERM); c.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	addr := ""
	for addr == "" || !strings.Contains(errb.String(), "msg=tick") {
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s", errb.String())
		}
		if i := strings.Index(errb.String(), "addr="); i >= 0 {
			addr = strings.Fields(errb.String()[i+len("addr="):])[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	// The catch-up tick sends the two rows queued as of 2026-01-15 and whatever falls due in the
	// week before today (real today: Threat Protection's -90 reminder on 2026-11-30, say).
	var sent []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("outbox", "list", "--status", "sent", "--json")), &sent); err != nil || len(sent) < 2 {
		t.Fatalf("sent rows: %v %v", sent, err)
	}
	for _, want := range []string{fmt.Sprintf(`renewald_outbox_rows{status="sent"} %d`, len(sent)), fmt.Sprintf("renewald_reminders_sent_total %d", len(sent)),
		"renewald_smtp_send_duration_seconds_bucket", "renewald_tick_duration_seconds_count 1",
		"renewald_last_successful_tick_timestamp_seconds", "renewald_oldest_pending_reminder_age_seconds 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}
