package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
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

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"

	"go.uber.org/goleak"
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
	// No goroutine the in-process tests started may outlive them (goleak.VerifyTestMain, which
	// would exit before the binary is removed).
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
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
	// clock, when set, is an RFC 3339 instant the binary's clock reads when the env is made: every
	// process runs on one timeline from there (RENEWALD_FAKE_CLOCK), so reminders of fixtures dated
	// in the past are due "today" when delivered (R13) and leases still run out.
	clock   string
	created time.Time
	// environ is added to the binary's environment (e.g. SSL_CERT_FILE).
	environ []string
}

// fixtureDay is the day the fixtures' reminders fall due: tests that tick as of it run the binary
// on it.
const fixtureDay = "2026-01-15T06:00:00Z"

// newEnv writes a config whose database and mail folder live in a temporary directory.
func newEnv(t *testing.T, extra string) *env {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[database]\npath = %q\n[mail]\ntransport = \"file\"\nfile_dir = %q\n%s", filepath.Join(dir, "r.db"), filepath.Join(dir, "mail"), extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, cfg: cfg, created: time.Now()}
}

func (e *env) cmd(args ...string) *exec.Cmd {
	c := exec.Command(binary, append([]string{"--config", e.cfg}, args...)...)
	c.Dir = e.dir
	if e.clock != "" {
		start, err := time.Parse(time.RFC3339, e.clock)
		if err != nil {
			e.t.Fatal(err)
		}
		c.Env = append(os.Environ(), fakeClockEnv+"="+start.Add(time.Since(e.created)).Format(time.RFC3339Nano))
	}
	if len(e.environ) > 0 {
		if c.Env == nil {
			c.Env = os.Environ()
		}
		c.Env = append(c.Env, e.environ...)
	}
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
	e.clock = fixtureDay
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
	sentID := ""
	for _, r := range typed {
		if r.Status == "sent" {
			sentID = fmt.Sprint(r.ID)
			break
		}
	}
	if code, _, errs := e.run("outbox", "cancel", sentID); code != 2 || !strings.Contains(errs, "is sent") {
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
		raw, _ := os.ReadFile(f)
		b, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw))) // the bodies are quoted-printable
		b = bytes.ToLower(b)
		for _, k := range []string{"pass the audit", "submit customer references", "check in partner center", "at risk"} {
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
	if want := []string{"at risk", "check in partner center", "pass the audit", "submit customer references"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("demo emails cover %v, want %v", keys, want)
	}
}

func TestDaemonServesMetrics(t *testing.T) {
	e := newEnv(t, "[metrics]\nlisten = \"127.0.0.1:0\"\n")
	e.clock = fixtureDay
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
	// Kubernetes (−90 due 2026-01-15) and, arriving mid-window, Threat Protection (its −60 of
	// 2025-12-30, R14), each to Ada and Bob: four sent.
	for _, want := range []string{`renewald_outbox_rows{status="sent"} 4`, `renewald_outbox_rows{status="expired"} 0`, "renewald_reminders_sent_total 4",
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

// TestOutboxRefusesFlagsThatDoNotApply: each outbox subcommand takes its own flags; any other flag,
// or an argument it does not take, is a usage error (exit 2) and changes nothing.
func TestOutboxRefusesFlagsThatDoNotApply(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("tick", "--as-of", "2026-01-15", "--no-deliver")
	status := func(id string) string {
		var row struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(e.mustRun("outbox", "show", id, "--json")), &row); err != nil {
			t.Fatal(err)
		}
		return row.Status
	}
	// The first pending row (rows before it are superseded records of arriving enrollments, R14).
	var pending []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("outbox", "list", "--status", "pending", "--json")), &pending); err != nil || len(pending) == 0 {
		t.Fatalf("no pending row: %v", err)
	}
	id := fmt.Sprint(pending[0].ID)
	if s := status(id); s != "pending" {
		t.Fatalf("row %s is %s, want pending", id, s)
	}
	for _, args := range [][]string{
		{"cancel", id, "--failed", "--json"},
		{"cancel", id, "--json"},
		{"cancel", "--status", "pending", id},
		{"retry", id, "--json"},
		{"retry", "--failed", "--partner", "4761234"},
		{"retry", id, "--failed"},
		{"show", id, "--status", "sent"},
		{"show", id, "--failed"},
		{"list", "--failed"},
		{"list", id},
	} {
		code, out, errs := e.run(append([]string{"outbox"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errs, "renewald outbox") {
			t.Errorf("outbox %v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if s := status(id); s != "pending" {
		t.Errorf("row %s is %s after refused commands, want pending", id, s)
	}
	// What applies still works.
	e.mustRun("outbox", "list", "--json", "--status", "pending", "--partner", "4761234", "--due-from", "2026-01-01", "--due-to", "2026-12-31", "--limit", "5")
	e.mustRun("outbox", "show", "--json", id)
	e.mustRun("outbox", "retry", "--failed")
	if out := e.mustRun("outbox", "cancel", id); !strings.Contains(out, "cancelled") || status(id) != "cancelled" {
		t.Errorf("cancel: %s", out)
	}
}

// TestRenewalRecordAndClear records a renewal through the real binary: its waiting reminders are
// cancelled, schedule shows it renewed, bad input exits 2 naming what is wrong, and clear reopens it.
func TestRenewalRecordAndClear(t *testing.T) {
	e := newEnv(t, "")
	e.clock = fixtureDay
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("tick", "--as-of", "2026-01-15", "--no-deliver")
	// Kubernetes on Microsoft Azure, attained 2023-04-15: its −90 reminder of 2026-04-15 is pending.
	out := e.mustRun("renewal", "record", "--partner", "4761234", "--specialization", "kubernetes on microsoft azure",
		"--anniversary", "2026-04-15", "--on", "2026-01-10")
	if !strings.Contains(out, "2 queued reminders cancelled") {
		t.Errorf("record: %s", out)
	}
	var rows []struct {
		Status    string  `json:"status"`
		LastError *string `json:"last_error"`
		Anniv     string  `json:"anniversary_on"`
	}
	json.Unmarshal([]byte(e.mustRun("outbox", "list", "--json", "--status", "cancelled")), &rows)
	if len(rows) != 2 || *rows[0].LastError != "renewal recorded: renewed on 2026-01-10" {
		t.Errorf("cancelled rows %+v", rows)
	}
	var sched []struct {
		Specialization string  `json:"specialization"`
		Anniversary    string  `json:"anniversary_on"`
		Outcome        string  `json:"outcome"`
		RenewedOn      *string `json:"renewed_on"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("schedule", "--json", "--from", "2026-01-01", "--to", "2026-12-31")), &sched); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, s := range sched {
		switch {
		case s.Specialization == "Kubernetes on Microsoft Azure" && s.Anniversary == "2026-04-15":
			seen++
			if s.Outcome != "renewed" || s.RenewedOn == nil || *s.RenewedOn != "2026-01-10" {
				t.Errorf("schedule entry %+v", s)
			}
		case s.Outcome != "open" || s.RenewedOn != nil:
			t.Errorf("schedule entry %+v", s)
		}
	}
	if seen != 1 || !strings.Contains(e.mustRun("schedule", "--from", "2026-01-01"), "renewed 2026-01-10") {
		t.Errorf("schedule does not show the outcome: %+v", sched)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"renewal", "record", "--partner", "nobody", "--specialization", "Finance", "--anniversary", "2026-04-15"}, "partner nobody is not in the database"},
		{[]string{"renewal", "record", "--partner", "4761234", "--specialization", "Kubernetes", "--anniversary", "2026-04-15"}, "--specialization"},
		{[]string{"renewal", "record", "--partner", "4761234", "--specialization", "Kubernetes on Microsoft Azure", "--anniversary", "2026-04-16"}, "2026-04-16 is not an anniversary"},
		{[]string{"renewal", "clear", "--partner", "4761234", "--specialization", "Kubernetes on Microsoft Azure", "--anniversary", "2026-04-15", "--on", "2026-01-01"}, "flag provided but not defined"},
		{[]string{"renewal", "record", "--partner", "4761234"}, "usage"},
		{[]string{"renewal"}, "usage"},
	} {
		if code, _, errs := e.run(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d %s, want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	if out := e.mustRun("renewal", "clear", "--partner", "4761234", "--specialization", "Kubernetes on Microsoft Azure", "--anniversary", "2026-04-15"); !strings.Contains(out, "cleared") {
		t.Errorf("clear: %s", out)
	}
	// Outcomes through a CSV import; an anniversary the enrollment does not have exits 2 with the line.
	good := filepath.Join(e.dir, "o.csv")
	os.WriteFile(good, []byte("partner_id,specialization,anniversary_on,outcome,on\n4761234,Kubernetes on Microsoft Azure,2026-04-15,renewed,2026-01-12\n"), 0o600)
	if out := e.mustRun("import", good); !strings.Contains(out, "recorded 1 renewal outcomes") {
		t.Errorf("import of outcomes: %s", out)
	}
	bad := filepath.Join(e.dir, "bad.csv")
	os.WriteFile(bad, []byte("partner_id,specialization,anniversary_on,outcome,on\n4761234,Threat Protection,2026-02-29,renewed,2026-01-12\n"), 0o600)
	if code, _, errs := e.run("import", bad); code != 2 || !strings.Contains(errs, "bad.csv: line 2: anniversary_on") {
		t.Errorf("bad outcome: exit %d %s", code, errs)
	}
	bad2 := filepath.Join(e.dir, "bad2.csv")
	os.WriteFile(bad2, []byte("partner_id,specialization,anniversary_on,outcome,on\n4761234,Threat Protection,2026-02-28,renewed,2026-01-12\n"), 0o600)
	if code, _, errs := e.run("import", bad2); code != 0 {
		t.Errorf("leap-day outcome: exit %d %s", code, errs)
	}
}

// TestDigestThroughTheBinary: with mail.digest on, preview shows the digest a row goes out in, and
// deliver writes one message per address listing each of its renewals.
func TestDigestThroughTheBinary(t *testing.T) {
	e := newEnv(t, "")
	e.clock = fixtureDay
	body, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, []byte(strings.Replace(string(body), "transport = \"file\"\n", "transport = \"file\"\ndigest = true\n", 1)), 0o600)
	up, sp := writeSharedDueData(t, e.dir, 6, 3)
	e.mustRun("import", up, sp)
	e.mustRun("tick", "--no-deliver")
	var pending []struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal([]byte(e.mustRun("outbox", "list", "--json", "--status", "pending")), &pending)
	if len(pending) != 6 {
		t.Fatalf("%d pending rows, want 6", len(pending))
	}
	out := e.mustRun("preview", fmt.Sprint(pending[0].ID))
	if !strings.Contains(out, fmt.Sprintf("(a digest of outbox rows [%d ", pending[0].ID)) || !strings.Contains(out, "Subject: 3 renewals, next due 2026-") ||
		!strings.Contains(out, "Message-ID: <digest.20260115.") {
		t.Errorf("preview:\n%s", out)
	}
	e.mustRun("deliver")
	files, _ := filepath.Glob(filepath.Join(e.dir, "mail", "*.eml"))
	if len(files) != 2 {
		t.Fatalf("%d messages for 2 addresses with 3 reminders each", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		// The calendar is the message's base64 text/calendar part.
		i := strings.Index(string(b), "Content-Type: text/calendar")
		if i < 0 {
			t.Fatalf("%s has no calendar", f)
		}
		rest := string(b[i:])
		body := rest[strings.Index(rest, "\r\n\r\n")+4:]
		body = body[:strings.Index(body, "\r\n--")]
		ics, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(body, "\r\n", ""))
		if err != nil {
			t.Fatal(err)
		}
		if c := strings.Count(string(ics), "BEGIN:VEVENT"); c != 9 { // window, anniversary and grace end of each
			t.Errorf("%s: %d calendar events, want 9 (three renewals)", f, c)
		}
	}
}

// TestPreviewOfASentRow shows the message as it went out (its send day's wording, its Message-ID) and
// names the row's status, whatever the date of the preview; and --log-json keeps every stderr line JSON,
// the final error included.
func TestPreviewOfASentRow(t *testing.T) {
	e := newEnv(t, "")
	e.clock = fixtureDay
	e.mustRun("import", fixture("partners.json"))
	e.mustRun("tick", "--as-of", "2026-01-15")
	var sent []struct {
		ID      int64  `json:"id"`
		Subject string `json:"subject"`
		MsgID   string `json:"message_id"`
	}
	json.Unmarshal([]byte(e.mustRun("outbox", "list", "--json", "--status", "sent")), &sent)
	if len(sent) == 0 {
		t.Fatal("nothing sent")
	}
	e.clock = "2026-03-20T06:00:00Z" // weeks later: a re-render would read differently
	out := e.mustRun("preview", fmt.Sprint(sent[0].ID))
	if !strings.Contains(out, "Status: sent at 2026-01-15") || !strings.Contains(out, "Subject: "+sent[0].Subject+"\n") ||
		!strings.Contains(out, "Message-ID: "+sent[0].MsgID) {
		t.Errorf("preview of a sent row:\n%s", out[:min(len(out), 600)])
	}
	code, _, errs := e.run("--log-json", "outbox", "show", "99999")
	if code != 2 {
		t.Errorf("exit %d", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		if !strings.HasPrefix(line, "{") || !json.Valid([]byte(line)) {
			if !strings.Contains(line, "RENEWALD_FAKE_CLOCK") {
				t.Errorf("not a JSON line on stderr: %q", line)
			}
		}
	}
	if !strings.Contains(errs, `"command":"outbox"`) {
		t.Errorf("the final error is not logged as JSON: %s", errs)
	}
}

// TestUsersCSVEmptiesAPartner: importing a users row with empty user columns leaves the partner
// without users, so its last admin stops receiving reminders.
func TestUsersCSVEmptiesAPartner(t *testing.T) {
	e := newEnv(t, "")
	e.mustRun("import", fixture("partners.json"))
	keys := renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys()
	recipients := func() int {
		db, err := store.Open(ctx(), filepath.Join(e.dir, "r.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rc, err := db.Recipients(ctx(), []string{"4761234"}, keys)
		if err != nil {
			t.Fatal(err)
		}
		return len(rc["4761234"])
	}
	if n := recipients(); n != 2 {
		t.Fatalf("%d recipients before, want Ada and Bob", n)
	}
	empty := filepath.Join(e.dir, "users.csv")
	os.WriteFile(empty, []byte("partner_id,partner_name,email,name,roles\n4761234,Contoso Ltd,,,\n"), 0o600)
	e.mustRun("import", empty)
	if n := recipients(); n != 0 {
		t.Errorf("%d recipients after emptying the partner's users", n)
	}
}
