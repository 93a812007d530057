package agenda

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

var (
	ctx = context.Background()
	now = time.Date(2026, 3, 12, 6, 0, 0, 0, time.UTC)
	d   = renewal.MustParseDate
)

// TestScheduleReminderStatuses: every reminder of `schedule` says what will really happen to it, from
// its outbox rows or, with none yet, from the recorded outcome and the partner's recipients.
func TestScheduleReminderStatuses(t *testing.T) {
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "renewald.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	admin := func(email string) renewal.User {
		return renewal.User{Email: email, Name: email, Roles: []string{"Global admin"}}
	}
	partner := func(id string, users ...renewal.User) *renewal.Partner {
		// Attained 2023-06-10: the −90 reminder of 2026-06-10 is due 2026-03-12.
		return &renewal.Partner{ID: id, Name: "Partner " + id, UsersGiven: true, Users: users,
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: d("2023-06-10"), Status: renewal.StatusActive}}}
	}
	partners := []*renewal.Partner{
		partner("fresh", admin("a@fresh.example")),
		partner("renewed", admin("a@renewed.example")),
		partner("renewednobody"),
		partner("nobody", renewal.User{Email: "s@nobody.example", Name: "Sam", Roles: []string{"Referrals admin"}}),
		partner("superseded", admin("a@superseded.example")),
		partner("mixed", admin("a@mixed.example"), admin("b@mixed.example")),
		partner("cancelledrows", admin("a@cancelledrows.example")),
	}
	if _, err := db.Import(ctx, partners, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	rules, cat := renewal.DefaultRules(), renewal.DefaultCatalog()
	roles := renewal.NewRoleMatcher(renewal.DefaultRecipientRoles())
	es, err := db.Enrollments(ctx, "", false, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, e := range es {
		ids[e.PartnerID] = e.ID
	}
	ms := rules.Milestones(d("2023-06-10"), renewal.ValidationNone, d("2026-03-12"), d("2026-03-12"))
	if len(ms) != 1 || ms[0].Offset != -90 {
		t.Fatalf("milestones %+v", ms)
	}
	item := func(partnerID, rcpt, status string) store.OutboxItem {
		id := ids[partnerID]
		return store.OutboxItem{EnrollmentID: id, Milestone: ms[0], Recipient: rcpt, Status: status,
			MessageID: renewal.MessageID(id, ms[0].Anniversary, ms[0].Offset, rcpt, "example.com")}
	}
	if _, err := db.Enqueue(ctx, []store.OutboxItem{
		item("superseded", "a@superseded.example", store.StatusSuperseded),
		item("mixed", "a@mixed.example", store.StatusPending), item("mixed", "b@mixed.example", store.StatusPending),
		item("cancelledrows", "a@cancelledrows.example", store.StatusPending),
	}, now); err != nil {
		t.Fatal(err)
	}
	// One of mixed's two rows is sent, the other waits for a retry.
	ob := &store.Outbox{DB: db, RoleKeys: roles.Keys(), Lease: 5 * time.Minute}
	claimed, _, _, err := ob.Claim(ctx, now, d("2026-03-12"), 10, rules.ExpiryOn(d("2026-03-12")))
	if err != nil {
		t.Fatal(err)
	}
	for _, rem := range claimed {
		switch {
		case rem.PartnerID == "mixed" && rem.Recipient == "a@mixed.example":
			err = ob.MarkSent(ctx, rem.OutboxID, now, "Reminder")
		default:
			err = ob.Release(ctx, rem.OutboxID, now)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"renewed", "renewednobody", "cancelledrows"} {
		o := renewal.Outcome{PartnerID: p, Specialization: "Finance", Anniversary: d("2026-06-10"), RenewedOn: d("2026-03-01")}
		if _, err := db.RecordRenewal(ctx, o, now); err != nil {
			t.Fatal(err)
		}
	}

	entries, err := Schedule(ctx, db, cat, rules, roles, "", d("2026-03-12"), d("2026-03-12"), func(id int64, err error) { t.Errorf("skipped %d: %v", id, err) })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Reminder{}
	for _, e := range entries {
		if len(e.Reminders) != 1 {
			t.Fatalf("%s: reminders %+v", e.PartnerID, e.Reminders)
		}
		got[e.PartnerID] = e.Reminders[0]
	}
	for _, tc := range []struct {
		partner, status string
		rows            map[string]int
	}{
		{"fresh", "scheduled", map[string]int{}},
		{"renewed", "cancelled", map[string]int{}},
		{"renewednobody", "cancelled", map[string]int{}},
		{"nobody", "no_recipients", map[string]int{}},
		{"superseded", "superseded", map[string]int{"superseded": 1}},
		{"mixed", "mixed", map[string]int{"sent": 1, "pending": 1}},
		{"cancelledrows", "cancelled", map[string]int{"cancelled": 1}},
	} {
		t.Run(tc.partner, func(t *testing.T) {
			r, ok := got[tc.partner]
			if !ok {
				t.Fatalf("no entry; have %v", got)
			}
			if r.Status != tc.status || r.Rows == nil || !maps.Equal(r.Rows, tc.rows) {
				t.Errorf("status %q rows %v, want %q %v", r.Status, r.Rows, tc.status, tc.rows)
			}
		})
	}
	if len(got) != 7 {
		t.Errorf("%d entries, want 7: %s", len(got), fmt.Sprint(got))
	}
}
