package store

import (
	"testing"

	"github.com/renewald/renewald/renewal"
)

// TestReminderStatuses reads the outbox rows of a page of renewals counted per reminder and status,
// on both engines: rows of anniversaries outside the range and of other enrollments are left out.
func TestReminderStatuses(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		partners := append(samplePartners(), &renewal.Partner{ID: "9000001", Name: "Nobody Home", UsersGiven: true,
			Users:       []renewal.User{{Email: "sam@nobody.example", Name: "Sam", Roles: []string{"Referrals admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: d("2022-03-01"), Status: renewal.StatusActive}}})
		if _, err := db.Import(ctx, partners, t0); err != nil {
			t.Fatal(err)
		}
		rules := renewal.DefaultRules()
		// Enrollment 1 (attained 2023-05-20): its −120 and −90 of 2026-05-20 for two recipients, one
		// −90 cancelled; its −120 of 2025-05-20 (outside the range asked below).
		var items []OutboxItem
		for _, m := range rules.Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2025-01-20"), d("2026-02-19")) {
			for _, r := range []string{"ada@contoso.example", "bob@contoso.example"} {
				items = append(items, OutboxItem{EnrollmentID: 1, Milestone: m, Recipient: r, Status: StatusPending,
					MessageID: renewal.MessageID(1, m.Anniversary, m.Offset, r, "example.com")})
			}
		}
		if _, err := db.Enqueue(ctx, items, t0); err != nil {
			t.Fatal(err)
		}
		ob := newOutbox(db)
		rows, err := ob.List(ctx, Filter{Status: StatusPending})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.OffsetDays == -90 && r.Recipient != nil && *r.Recipient == "bob@contoso.example" {
				if err := ob.Cancel(ctx, r.ID, t0); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := db.ReminderStatuses(ctx, []int64{1, 2, 3}, d("2026-01-01"), d("2026-12-31"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[RenewalKey][]ReminderStatus{
			{1, "2026-05-20"}: {
				{EnrollmentID: 1, Anniversary: "2026-05-20", OffsetDays: -120, Status: "superseded", N: 2},
				{EnrollmentID: 1, Anniversary: "2026-05-20", OffsetDays: -90, Status: "cancelled", N: 1},
				{EnrollmentID: 1, Anniversary: "2026-05-20", OffsetDays: -90, Status: "pending", N: 1},
			},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d renewals, want %d: %+v", len(got), len(want), got)
		}
		for k, ws := range want {
			if len(got[k]) != len(ws) {
				t.Fatalf("%v: got %+v, want %+v", k, got[k], ws)
			}
			for i := range ws {
				if got[k][i] != ws[i] {
					t.Errorf("%v[%d]: got %+v, want %+v", k, i, got[k][i], ws[i])
				}
			}
		}
		if none, err := db.ReminderStatuses(ctx, nil, d("2026-01-01"), d("2026-12-31")); err != nil || len(none) != 0 {
			t.Errorf("no enrollments: %v %v", none, err)
		}

		roles := renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys()
		has, err := db.PartnersWithRecipients(ctx, []string{"4761234", "9000001", "unknown"}, roles)
		if err != nil {
			t.Fatal(err)
		}
		if !has["4761234"] || has["9000001"] || has["unknown"] || len(has) != 1 {
			t.Errorf("partners with recipients: %v, want only 4761234", has)
		}
	})
}
