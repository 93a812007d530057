package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/pgtest"
	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/store"
)

// runProc is one real `renewald run` of a test, with its stderr (JSON logs).
type runProc struct {
	c    *exec.Cmd
	logs *syncBuffer
	done chan error
}

// startDaemon starts `renewald --log-json run` in e.
func startDaemon(t *testing.T, e *env) *runProc {
	t.Helper()
	c := e.cmd("--log-json", "run")
	d := &runProc{c: c, logs: &syncBuffer{}, done: make(chan error, 1)}
	c.Stderr = d.logs
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- c.Wait() }()
	t.Cleanup(func() {
		if c.ProcessState == nil {
			c.Process.Kill()
			<-d.done
		}
	})
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *runProc) stop(t *testing.T) {
	t.Helper()
	d.c.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Errorf("daemon exited with %v\n%s", err, d.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not stop\n%s", d.logs.String())
	}
}

// ticks returns the daemon's logged ticks: how many dates each scanned and how many it delivered.
func (d *runProc) ticks(t *testing.T) (scans, delivered int) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(d.logs.String()))
	for sc.Scan() {
		var l struct {
			Msg          string `json:"msg"`
			ScannedDates int    `json:"scanned_dates"`
			Delivered    int    `json:"delivered"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Msg {
		case "tick":
			if l.ScannedDates > 0 {
				scans++
			}
			delivered += l.Delivered
		case "tick failed":
			t.Errorf("tick failed: %s", sc.Text())
		}
	}
	return scans, delivered
}

// pollUntil checks cond until it holds or the deadline passes: the daemons are separate processes.
func pollUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newPostgresEnv is an env whose database is a fresh PostgreSQL one (the DSN in a dsn_file) and
// whose mail goes to srv with short leases, small batches and a rate limit per daemon, so that a
// delivery lasts long enough to be interrupted and outlasts a killed daemon's leases. (Leases are
// kept to the second: a lease of 1 s may run out at once, and a live claim be taken over.)
func newPostgresEnv(t *testing.T, srv *smtptest.Server) (*env, string) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf(`[database]
driver = "postgres"
dsn_file = %q
[mail]
transport = "smtp"
lease_seconds = 3
batch_size = 20
rate_per_second = 200
[mail.smtp]
host = "127.0.0.1"
port = %d
tls = "none"
`, dsnFile, srv.Port)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, cfg: cfg, created: time.Now(), clock: fixtureDay}, dsn
}

// outboxCounts reads the outbox's status counts from the PostgreSQL database.
func outboxCounts(t *testing.T, dsn string) map[string]int {
	t.Helper()
	db, err := store.OpenPostgres(ctx(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts, err := storetest.Outbox(db).CountByStatus(ctx())
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// received checks what srv received: every one of n recipients reached, one Message-ID each; it
// returns the duplicates.
func received(t *testing.T, srv *smtptest.Server, n int) (dups int) {
	t.Helper()
	byID := map[string]int{}
	byRcpt := map[string]string{}
	for _, m := range srv.Messages() {
		byID[m.MessageID]++
		if prev, ok := byRcpt[m.To]; ok && prev != m.MessageID {
			t.Errorf("%s got two different Message-IDs: %s and %s", m.To, prev, m.MessageID)
		}
		byRcpt[m.To] = m.MessageID
	}
	for _, c := range byID {
		dups += c - 1
	}
	if len(byRcpt) != n {
		t.Errorf("%d recipients reached, want %d", len(byRcpt), n)
	}
	return dups
}

// TestTwoDaemonsOnOnePostgresDatabase runs two real daemons (`run`, as on two hosts) on one
// PostgreSQL database with 2,000 reminders due: every reminder is received exactly once and one scan
// covers the day across both. Then, with a fresh outbox, one daemon is killed (SIGKILL) in the
// middle of delivery: the other finishes after the lease, with at most one duplicate (same
// Message-ID) and nothing left sending. Sizes: RENEWALD_MULTIHOST_REMINDERS.
func TestTwoDaemonsOnOnePostgresDatabase(t *testing.T) {
	pgtest.Require(t)
	n := envInt(t, "RENEWALD_MULTIHOST_REMINDERS", 2000)

	t.Run("exactly once", func(t *testing.T) {
		srv, err := smtptest.Start()
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		e, dsn := newPostgresEnv(t, srv)
		up, sp := writeSharedDueData(t, e.dir, n, 1)
		e.mustRun("import", up, sp)
		a, b := startDaemon(t, e), startDaemon(t, e)
		pollUntil(t, 2*time.Minute, "every reminder sent", func() bool {
			c := outboxCounts(t, dsn)
			return c[store.StatusSent] == n
		})
		a.stop(t)
		b.stop(t)
		scansA, sentA := a.ticks(t)
		scansB, sentB := b.ticks(t)
		if dups := received(t, srv, n); dups != 0 || srv.Count() != n {
			t.Errorf("received %d messages with %d duplicates, want %d exactly once", srv.Count(), dups, n)
		}
		if scansA+scansB != 1 {
			t.Errorf("%d + %d scans of the day, want one across both daemons", scansA, scansB)
		}
		if sentA == 0 || sentB == 0 {
			t.Errorf("delivered %d and %d: both daemons should deliver side by side", sentA, sentB)
		}
		if c := outboxCounts(t, dsn); c[store.StatusSending] != 0 || c[store.StatusPending] != 0 {
			t.Errorf("left over: %v", c)
		}
		t.Logf("two daemons: %d reminders, received %d, duplicates 0, scans %d+%d, delivered by their ticks %d+%d",
			n, srv.Count(), scansA, scansB, sentA, sentB)
		fmt.Fprintf(os.Stderr, "MULTIHOST reminders=%d received=%d scans=%d delivered_a=%d delivered_b=%d\n",
			n, srv.Count(), scansA+scansB, sentA, sentB)
	})

	t.Run("kill -9 mid-delivery", func(t *testing.T) {
		srv, err := smtptest.Start()
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		e, dsn := newPostgresEnv(t, srv)
		up, sp := writeSharedDueData(t, e.dir, n, 1)
		e.mustRun("import", up, sp)
		a, b := startDaemon(t, e), startDaemon(t, e)
		pollUntil(t, 2*time.Minute, "delivery under way", func() bool { return srv.Count() >= n/4 })
		a.c.Process.Signal(syscall.SIGKILL)
		<-a.done
		atKill := srv.Count()
		pollUntil(t, 2*time.Minute, "the survivor to finish", func() bool {
			c := outboxCounts(t, dsn)
			return c[store.StatusSent] == n
		})
		b.stop(t)
		reclaimed := 0
		db, err := store.OpenPostgres(ctx(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := storetest.Outbox(db).List(ctx(), store.Filter{Status: store.StatusSent})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Attempts > 1 {
				reclaimed++ // claimed by the killed daemon, taken over once its lease ran out
			}
		}
		// reclaimed is 0 when the kill fell between two of the killed daemon's batches: a figure, not a check.
		dups := received(t, srv, n)
		if dups > 1 {
			t.Errorf("%d duplicates for one kill", dups)
		}
		if atKill >= n {
			t.Errorf("the kill landed after delivery ended (%d received)", atKill)
		}
		if c := outboxCounts(t, dsn); c[store.StatusSending] != 0 || c[store.StatusPending] != 0 || c[store.StatusSent] != n {
			t.Errorf("outbox after the survivor: %v", c)
		}
		t.Logf("kill -9: %d reminders, %d received when killed, %d received in all, %d re-claimed after the lease, duplicates %d (1 kill)",
			n, atKill, srv.Count(), reclaimed, dups)
		fmt.Fprintf(os.Stderr, "MULTIHOST-KILL reminders=%d at_kill=%d received=%d reclaimed=%d duplicates=%d kills=1\n",
			n, atKill, srv.Count(), reclaimed, dups)
	})
}
