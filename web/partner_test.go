package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/renewald/renewald/renewal"
)

var (
	userRowRe = regexp.MustCompile(`<td>(u\d{4}@big\.example)</td>`)
	usersNext = regexp.MustCompile(`<a href="([^"]+)" rel="next">Next 100 users</a>`)
)

// TestPartnerUsersPaged: a partner's users are shown 100 a page, with the total, through links
// that keep the base path.
func TestPartnerUsersPaged(t *testing.T) {
	f := newFixture(t)
	p := &renewal.Partner{ID: "big", Name: "Big Partner", UsersGiven: true}
	for i := range 250 {
		u := renewal.User{Email: fmt.Sprintf("u%04d@big.example", i), Name: fmt.Sprintf("User %d", i), Roles: []string{"Sales"}}
		if i%50 == 0 {
			u.Roles = []string{"Global admin"}
		}
		p.Users = append(p.Users, u)
	}
	if _, err := f.db.Import(context.Background(), []*renewal.Partner{p}, fixtureNow); err != nil {
		t.Fatal(err)
	}
	s := f.server(t, func(o *Options) { o.BasePath = "/renewald" })
	var seen []string
	next := "/renewald/partners/big"
	for pages := 0; next != ""; pages++ {
		res, body := get(t, s, "GET", next)
		if res.StatusCode != 200 || pages > 3 {
			t.Fatalf("%s: %d (page %d)", next, res.StatusCode, pages)
		}
		if !strings.Contains(body, "250 users, shown 100 at a time by address") || strings.Contains(body, "No user holds a recipient role") {
			t.Errorf("%s: no total", next)
		}
		users := userRowRe.FindAllStringSubmatch(body, -1)
		if len(users) > PageSize {
			t.Fatalf("%s: %d users on a page", next, len(users))
		}
		for _, m := range users {
			seen = append(seen, m[1])
		}
		if pages > 0 && !strings.Contains(body, `<a href="/renewald/partners/big">First page</a>`) {
			t.Errorf("%s: no link to the first page", next)
		}
		next = ""
		if m := usersNext.FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
			if !strings.HasPrefix(next, "/renewald/partners/big?users_after=") {
				t.Errorf("next page link %q", next)
			}
		}
	}
	if len(seen) != 250 || seen[0] != "u0000@big.example" || seen[249] != "u0249@big.example" {
		t.Errorf("paged through %d users (%v … %v), want 250 in address order", len(seen), seen[:min(1, len(seen))], seen[max(0, len(seen)-1):])
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("users out of order or twice: %s after %s", seen[i], seen[i-1])
		}
	}
	if res, _ := get(t, s, "GET", "/renewald/partners/big?users_after="+strings.Repeat("x", 2000)); res.StatusCode != 400 {
		t.Errorf("an address longer than any: %d", res.StatusCode)
	}
}
