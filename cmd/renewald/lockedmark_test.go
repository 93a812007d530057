package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/store"
)

// TestMarkWaitsOutAWriter runs the real binary's deliver while another process holds the database's
// write lock longer than the busy timeout (as a big import does) right after the server accepted a
// message: the mark of that message waits and lands, nothing stays sending, and every Message-ID is
// received exactly once. The lock is released when the deliverer reports the retry: a signal, not a
// timer.
func TestMarkWaitsOutAWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 10 s busy timeout")
	}
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := smtpEnv(t, fmt.Sprintf("[mail.smtp]\nhost = \"127.0.0.1\"\nport = %d\ntls = \"none\"\n", srv.Port))
	e.clock = fixtureDay
	up, sp := writeSharedDueData(t, e.dir, 60, 1)
	e.mustRun("import", up, sp)
	e.mustRun("tick", "--no-deliver")

	// The writer: another connection (this process) taking the write lock after the 20th message.
	holder, err := sql.Open("sqlite3", "file:"+filepath.Join(e.dir, "r.db")+"?_txlock=immediate&_busy_timeout=30000")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	locked := make(chan *sql.Tx, 1)
	srv.SetDecide(func(_ string, n int) smtptest.Fault {
		if n == 21 { // the 20th message's mark is next; take the lock before it
			tx, err := holder.BeginTx(context.Background(), nil)
			if err != nil {
				t.Error(err)
			}
			locked <- tx
		}
		return smtptest.OK
	})
	c := e.cmd("deliver")
	var errb syncBuffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	tx := <-locked
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(errb.String(), "cannot mark a sent message yet") {
		select {
		case err := <-done:
			tx.Rollback()
			t.Fatalf("deliver ended while the lock was held: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mark retry reported:\n%s", errb.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a real child process's log
	}
	tx.Rollback()
	if err := <-done; err != nil {
		t.Fatalf("deliver: %v\n%s", err, errb.String())
	}
	db, err := store.Open(ctx(), filepath.Join(e.dir, "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts, _ := storetest.Outbox(db).CountByStatus(ctx())
	if counts[store.StatusSent] != 60 || counts[store.StatusSending] != 0 {
		t.Errorf("counts %v", counts)
	}
	// A second deliver after any lease would find nothing to re-send.
	e.mustRun("deliver")
	ids := map[string]int{}
	for _, m := range srv.Messages() {
		ids[m.MessageID]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("%s received %d times", id, n)
		}
	}
	if len(ids) != 60 {
		t.Errorf("%d distinct messages of 60", len(ids))
	}
	fmt.Fprintf(os.Stderr, "MARKWAIT sent=%d received=%d distinct=%d\n", counts[store.StatusSent], srv.Count(), len(ids))
}
