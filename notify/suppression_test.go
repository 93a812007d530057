package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/smtptest"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// TestSuppression: a 550 5.1.1 (or a bare 550) at RCPT puts the address on the suppression list and
// later rows to it end suppressed without a transaction at the server; a 554 at DATA (the content,
// not the mailbox) does not; after "suppression remove" and "outbox retry" the row goes out.
func TestSuppression(t *testing.T) {
	f := newFixture(t, 4)
	faults := map[string]smtptest.Fault{"<u1@p.example>": smtptest.Perm550, "<u2@p.example>": smtptest.Perm554Data,
		"<u3@p.example>": smtptest.Perm550Bare, "u1@p.example": smtptest.Perm550, "u2@p.example": smtptest.Perm554Data,
		"u3@p.example": smtptest.Perm550Bare}
	f.srv.SetDecide(func(rcpt string, _ int) smtptest.Fault { return faults[rcpt] })
	st, err := f.d.Deliver(ctx)
	if err != nil || st.Sent != 1 || st.Failed != 3 {
		t.Fatalf("first delivery %+v %v", st, err)
	}
	list, _ := f.db.Suppressions(ctx)
	if len(list) != 2 || list[0].Address != "u1@p.example" || list[1].Address != "u3@p.example" ||
		!strings.Contains(list[0].Reply, "5.1.1") {
		t.Fatalf("suppressions %+v", list)
	}
	// The −30 reminder of the same renewal for everyone, a month later; the server would accept all.
	f.srv.SetDecide(nil)
	ms := renewal.DefaultRules().Milestones(renewal.NewDate(2024, 2, 29), renewal.ValidationCustomerReferences,
		renewal.NewDate(2026, 1, 29), renewal.NewDate(2026, 1, 29))
	var items []store.OutboxItem
	for i := 1; i <= 4; i++ {
		rcpt := fmt.Sprintf("u%d@p.example", i)
		items = append(items, store.OutboxItem{EnrollmentID: int64(i), Milestone: ms[0], Recipient: rcpt, Status: store.StatusPending,
			MessageID: renewal.MessageID(int64(i), ms[0].Anniversary, ms[0].Offset, rcpt, "example.com")})
	}
	if _, err := f.db.Enqueue(ctx, items, f.clock.Now(), renewal.Date{}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Date(2026, 1, 29, 6, 0, 0, 0, time.UTC).Sub(f.clock.Now()))
	before := f.srv.Transactions()
	st, err = f.d.Deliver(ctx)
	if err != nil || st.Sent != 2 || st.Cancelled != 2 {
		t.Fatalf("second delivery %+v %v", st, err)
	}
	if n := f.srv.Transactions() - before; n != 2 {
		t.Errorf("%d transactions at the server, want 2 (the suppressed addresses are not contacted)", n)
	}
	rows, _ := f.db.List(ctx, store.Filter{Status: store.StatusSuppressed})
	if len(rows) != 2 || !strings.HasPrefix(*rows[0].LastError, "address suppressed since 2025-12-30T06:00:00Z: 550") {
		t.Fatalf("suppressed rows %+v", rows)
	}
	// Removed from the list and retried: it goes out.
	if err := f.db.Unsuppress(ctx, "U1@p.example"); err != nil {
		t.Fatal(err)
	}
	var u1 int64
	for _, r := range rows {
		if *r.Recipient == "u1@p.example" {
			u1 = r.ID
		}
	}
	if err := f.db.Retry(ctx, u1, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	st, err = f.d.Deliver(ctx)
	if err != nil || st.Sent != 1 {
		t.Fatalf("after remove and retry %+v %v", st, err)
	}
	if row, _ := f.db.Get(ctx, u1); row.Status != store.StatusSent {
		t.Errorf("row %d is %s", u1, row.Status)
	}
}
