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
	list, _ := f.ob.Suppressions(ctx)
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
	if _, err := f.db.Enqueue(ctx, items, f.clock.Now()); err != nil {
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
	rows, _ := f.ob.List(ctx, store.Filter{Status: store.StatusSuppressed})
	if len(rows) != 2 || !strings.HasPrefix(*rows[0].LastError, "address suppressed since 2025-12-30T06:00:00Z: 550") {
		t.Fatalf("suppressed rows %+v", rows)
	}
	// Removed from the list and retried: it goes out.
	if err := f.ob.Unsuppress(ctx, "U1@p.example"); err != nil {
		t.Fatal(err)
	}
	var u1 int64
	for _, r := range rows {
		if *r.Recipient == "u1@p.example" {
			u1 = r.ID
		}
	}
	if err := f.ob.Retry(ctx, u1, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	st, err = f.d.Deliver(ctx)
	if err != nil || st.Sent != 1 {
		t.Fatalf("after remove and retry %+v %v", st, err)
	}
	if row, _ := f.ob.Get(ctx, u1); row.Status != store.StatusSent {
		t.Errorf("row %d is %s", u1, row.Status)
	}
}

// TestNonASCIILocalPartNeedsSMTPUTF8: an address with a non-ASCII local part fails, with a clear
// per-row error, at a server that does not offer SMTPUTF8 (nothing raw 8-bit reaches its envelope);
// the others go out; a server that offers it takes it.
func TestNonASCIILocalPartNeedsSMTPUTF8(t *testing.T) {
	for _, offered := range []bool{false, true} {
		f := newFixture(t, 2)
		if offered {
			addr := f.srv.Addr
			f.srv.Close()
			srv, err := smtptest.StartWith(smtptest.Options{Addr: addr, SMTPUTF8: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			f.srv = srv
		}
		p := &renewal.Partner{ID: "9", Name: "Umlaut GmbH", UsersGiven: true,
			Users:       []renewal.User{{Email: "jürgen@p.example", Name: "Jürgen", Roles: []string{"Global admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Threat Protection", AttainedOn: renewal.NewDate(2024, 2, 29), Status: renewal.StatusActive}}}
		if _, err := f.db.Import(ctx, []*renewal.Partner{p}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		ms := renewal.DefaultRules().Milestones(renewal.NewDate(2024, 2, 29), renewal.ValidationCustomerReferences, renewal.NewDate(2025, 12, 30), renewal.NewDate(2025, 12, 30))
		m := ms[0]
		var eid int64
		rows, _ := f.db.Enrollments(ctx, "9", false, 0, 10)
		eid = rows[0].ID
		if _, err := f.db.Enqueue(ctx, []store.OutboxItem{{EnrollmentID: eid, Milestone: m, Recipient: "jürgen@p.example", Status: store.StatusPending,
			MessageID: renewal.MessageID(eid, m.Anniversary, m.Offset, "jürgen@p.example", "example.com")}}, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		st, err := f.d.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		failed, _ := f.ob.List(ctx, store.Filter{Status: store.StatusFailed})
		if !offered {
			if st.Sent != 2 || st.Failed != 1 || len(failed) != 1 || !strings.Contains(*failed[0].LastError, "SMTPUTF8") {
				t.Errorf("without SMTPUTF8: %+v, failed %+v", st, failed)
			}
			for _, msg := range f.srv.Messages() {
				if strings.Contains(msg.To, "jürgen") {
					t.Error("the non-ASCII address reached the server")
				}
			}
			continue
		}
		if st.Sent != 3 || st.Failed != 0 {
			t.Errorf("with SMTPUTF8: %+v, failed %+v", st, failed)
		}
	}
}
