package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/store"
)

// envInt reads a size from the environment (full-size runs) or returns def (CI).
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// writeSharedDueData writes CSVs with n partners whose Finance enrollment has its −30 reminder due
// on 2026-01-15 (n reminders to deliver), each admin address shared by perAdmin partners
// (admin@pK.example, K = 1 + (i-1)/perAdmin): with digests on, one message per address.
func writeSharedDueData(t *testing.T, dir string, n, perAdmin int) (string, string) {
	var u, s strings.Builder
	u.WriteString("partner_id,partner_name,email,name,roles\n")
	s.WriteString("partner_id,partner_name,specialization,attained_on\n")
	for i := 1; i <= n; i++ {
		k := 1 + (i-1)/perAdmin
		fmt.Fprintf(&u, "%d,Partner %d,admin@p%d.example,Admin %d,Global admin\n", i, i, k, k)
		fmt.Fprintf(&s, "%d,Partner %d,Finance,2023-02-14\n", i, i) // anniversary 2026-02-14, −30 on 2026-01-15
	}
	up, sp := filepath.Join(dir, "users.csv"), filepath.Join(dir, "specs.csv")
	os.WriteFile(up, []byte(u.String()), 0o600)
	os.WriteFile(sp, []byte(s.String()), 0o600)
	return up, sp
}

// TestCrashLoop kills the real binary with SIGKILL at random moments while it scans, queues, claims,
// sends and marks, restarts it until the outbox is drained, and checks that nothing was lost, that
// duplicates are at most one per kill and carry the same Message-ID, that nothing is left sending,
// and that the database is intact. Full size: RENEWALD_CRASH_REMINDERS=5000 RENEWALD_CRASH_KILLS=20.
func TestCrashLoop(t *testing.T) {
	crashLoop(t, envInt(t, "RENEWALD_CRASH_REMINDERS", 800), envInt(t, "RENEWALD_CRASH_KILLS", 6), 1)
}

// TestCrashLoopDigest is the crash loop with mail.digest on and four partners per admin address: each
// address gets one digest, a killed one is sent again at most once per kill, with the same Message-ID.
func TestCrashLoopDigest(t *testing.T) {
	crashLoop(t, 400, 4, 4)
}

func crashLoop(t *testing.T, n, kills, perAdmin int) {
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := newEnv(t, fmt.Sprintf(`[mail.smtp]
host = "127.0.0.1"
port = %d
tls = "none"
`, srv.Port))
	// SMTP delivery, one-second leases so a killed claim comes back quickly, small batches.
	body, _ := os.ReadFile(e.cfg)
	cfg := strings.Replace(string(body), "transport = \"file\"\n", "transport = \"smtp\"\nlease_seconds = 1\nbatch_size = 20\n", 1)
	if perAdmin > 1 {
		cfg = strings.Replace(cfg, "lease_seconds = 1\n", "lease_seconds = 1\ndigest = true\n", 1)
	}
	os.WriteFile(e.cfg, []byte(cfg), 0o600)
	e.clock = fixtureDay
	up, sp := writeSharedDueData(t, e.dir, n, perAdmin)
	e.mustRun("import", up, sp)

	rng := rand.New(rand.NewPCG(uint64(n), uint64(kills)))
	killed := 0
	for attempt := 0; killed < kills && attempt < kills*20; attempt++ {
		c := e.cmd("tick", "--as-of", "2026-01-15")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done: // finished before the kill: nothing left to interrupt this round
		case <-time.After(time.Duration(20+rng.IntN(180)) * time.Millisecond):
			c.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
		if srv.Count() >= (n+perAdmin-1)/perAdmin && killed < kills {
			break
		}
	}
	// Restart until drained: a killed claim is retaken once its lease expires.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		e.mustRun("tick", "--as-of", "2026-01-15")
		db, err := store.Open(ctx(), filepath.Join(e.dir, "r.db"))
		if err != nil {
			t.Fatal(err)
		}
		counts, _ := storetest.Outbox(db).CountByStatus(ctx())
		verdict, _ := db.IntegrityCheck(ctx())
		db.Close()
		if counts[store.StatusPending] == 0 && counts[store.StatusSending] == 0 {
			if counts[store.StatusSent] != n || verdict != "ok" {
				t.Fatalf("drained with counts %v, integrity %q", counts, verdict)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %v", counts)
		}
		time.Sleep(300 * time.Millisecond) // a killed claim's lease (1 s) must run out: real time, a real process
	}
	byID := map[string]int{}
	byRcpt := map[string]string{}
	for _, m := range srv.Messages() {
		byID[m.MessageID]++
		if prev, ok := byRcpt[m.To]; ok && prev != m.MessageID {
			t.Errorf("%s got two different Message-IDs: %s and %s", m.To, prev, m.MessageID)
		}
		byRcpt[m.To] = m.MessageID
	}
	dups := 0
	for _, c := range byID {
		dups += c - 1
	}
	admins := (n + perAdmin - 1) / perAdmin
	for i := 1; i <= admins; i++ {
		rcpt := fmt.Sprintf("admin@p%d.example", i)
		if _, ok := byRcpt[rcpt]; !ok {
			t.Errorf("no reminder reached %s", rcpt)
		}
	}
	if perAdmin > 1 && len(byID) != admins {
		t.Errorf("%d distinct Message-IDs for %d digests", len(byID), admins)
	}
	if dups > killed {
		t.Errorf("%d duplicates for %d kills", dups, killed)
	}
	if killed == 0 {
		t.Error("no kill landed")
	}
	t.Logf("reminders expected %d, distinct delivered %d, messages received %d, duplicates %d, kills %d",
		n, len(byRcpt), srv.Count(), dups, killed)
	fmt.Fprintf(os.Stderr, "CRASHLOOP expected=%d delivered=%d received=%d duplicates=%d kills=%d\n", n, len(byRcpt), srv.Count(), dups, killed)
}
