package store

import (
	"testing"

	"github.com/renewald/renewald/renewal"
)

// TestReminderCarriesScoresDayRolesAndOthers (issue 26): a score imported with as_of keeps that day,
// one without records the day of the import; a reminder read back carries them, the recipient roles
// its recipient holds, and the others at the partner the same reminder goes to — on both engines.
func TestReminderCarriesScoresDayRolesAndOthers(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		p := &renewal.Partner{ID: "4761234", Name: "Contoso Ltd", UsersGiven: true, ScoresGiven: true,
			Users: []renewal.User{
				{Email: "ada@contoso.example", Name: "Ada", Roles: []string{"Global admin", "Referrals admin"}},
				{Email: "liam@contoso.example", Roles: []string{"MPN Partner Admin"}},
				{Email: "zoe@contoso.example", Name: "Zoë", Roles: []string{"Global administrator"}},
			},
			Enrollments: []renewal.Enrollment{{Specialization: "Kubernetes on Microsoft Azure", AttainedOn: d("2023-05-20"), Status: renewal.StatusActive}},
			Scores: []renewal.CapabilityScore{
				{Designation: "Solutions Partner for Data & AI (Azure)", Enterprise: map[string]int{"performance": 10}, AsOf: d("2025-12-01")},
				{Designation: "Solutions Partner for Infrastructure (Azure)", SMB: map[string]int{"performance": 10}},
			}}
		if _, err := db.Import(ctx, []*renewal.Partner{p}, t0); err != nil {
			t.Fatal(err)
		}
		ms := renewal.DefaultRules().Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2026-01-20"), d("2026-01-20"))
		var items []OutboxItem
		for _, r := range []string{"ada@contoso.example", "liam@contoso.example", "zoe@contoso.example"} {
			items = append(items, OutboxItem{EnrollmentID: 1, Milestone: ms[0], Recipient: r, Status: StatusPending,
				MessageID: renewal.MessageID(1, ms[0].Anniversary, ms[0].Offset, r, "example.com")})
		}
		if _, err := db.Enqueue(ctx, items, t0); err != nil {
			t.Fatal(err)
		}
		ob := newOutbox(db)
		if err := ob.Cancel(ctx, 3, t0); err != nil { // zoe's is cancelled: she does not get it
			t.Fatal(err)
		}
		rem, err := ob.Reminder(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		days := map[string]string{}
		for _, sc := range rem.Scores {
			days[sc.Designation] = sc.AsOf.String()
		}
		if days["Solutions Partner for Data & AI (Azure)"] != "2025-12-01" || days["Solutions Partner for Infrastructure (Azure)"] != "2026-01-20" {
			t.Errorf("scores' days %v, want the given 2025-12-01 and the import's 2026-01-20", days)
		}
		if len(rem.RecipientRoles) != 1 || rem.RecipientRoles[0] != "Global admin" {
			t.Errorf("recipient roles %q, want [Global admin]", rem.RecipientRoles)
		}
		if len(rem.CoRecipients) != 1 || rem.CoRecipients[0].Email != "liam@contoso.example" || rem.CoRecipients[0].Name != "" {
			t.Errorf("co-recipients %+v, want liam only", rem.CoRecipients)
		}
		claimed, _, _, err := ob.Claim(ctx, t0, d("2026-01-20"), 10, renewal.DefaultRules().ExpiryOn(d("2026-01-20")))
		if err != nil || len(claimed) != 2 {
			t.Fatalf("claimed %d, %v", len(claimed), err)
		}
		if c := claimed[1]; c.Recipient != "liam@contoso.example" || len(c.CoRecipients) != 1 || c.CoRecipients[0].Name != "Ada" ||
			len(c.RecipientRoles) != 1 || c.RecipientRoles[0] != "MPN Partner Admin" {
			t.Errorf("claimed %+v", c)
		}
	})
}
