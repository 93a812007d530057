package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/renewald/renewald/renewal"
)

// TestPartnerUsersPaged: a partner's users are read a page at a time in address order, with their
// roles, and counted up to a limit without being read.
func TestPartnerUsersPaged(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		p := &renewal.Partner{ID: "p1", Name: "Contoso", UsersGiven: true}
		var want []string
		for i := range 250 {
			u := renewal.User{Email: fmt.Sprintf("u%03d@contoso.example", i), Name: fmt.Sprintf("User %d", i)}
			switch i % 5 {
			case 0:
				u.Roles = []string{"Global admin", "MPN Partner Admin"} // two recipient roles: one recipient
			case 1:
				u.Roles = []string{"Sales"}
			case 2:
				u.Roles = []string{"Account admin"}
			}
			p.Users = append(p.Users, u)
			want = append(want, u.Email)
		}
		other := &renewal.Partner{ID: "p2", Name: "Fabrikam", UsersGiven: true,
			Users: []renewal.User{{Email: "a@fabrikam.example", Roles: []string{"Global admin"}}}}
		if _, err := db.Import(ctx, []*renewal.Partner{p, other}, t0); err != nil {
			t.Fatal(err)
		}
		keys := renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys()
		info, err := db.Partner(ctx, "p1", keys, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if info.Name != "Contoso" || info.UserCount != 250 || info.MoreUsers || !info.HasRecipients {
			t.Errorf("partner p1: %+v, want 250 users, recipients among them", info)
		}
		// Counting stops at the limit.
		if info, err := db.Partner(ctx, "p1", keys, 100); err != nil || info.UserCount != 100 || !info.MoreUsers {
			t.Errorf("partner p1 counted up to 100: %+v %v", info, err)
		}
		if info, err := db.Partner(ctx, "p1", []string{"no such role"}, 1000); err != nil || info.HasRecipients {
			t.Errorf("partner p1 without recipient roles: %+v %v", info, err)
		}
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			page, err := db.PartnerUsers(ctx, "p1", after, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 100 || pages > 3 {
				t.Fatalf("page %d: %d users", pages, len(page))
			}
			for _, u := range page {
				got = append(got, u.Email)
				i := slices.Index(want, u.Email)
				if i < 0 || !slices.Equal(u.Roles, sorted(p.Users[i].Roles)) || u.Name != p.Users[i].Name {
					t.Fatalf("user %+v, want %+v", u, p.Users[max(i, 0)])
				}
			}
			if len(page) < 100 {
				break
			}
			after = page[len(page)-1].Email
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged through %d users, want %d in address order", len(got), len(want))
		}
		if _, err := db.Partner(ctx, "nobody", keys, 1000); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown partner: %v", err)
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
