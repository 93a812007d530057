package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

// The fixture's clock: 2026-05-01, noon UTC.
var fixtureNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const hostile = `<script>alert(1)</script> & "Contoso"`

// fixture is a real SQLite file with partners, enrollments and outbox rows in most statuses.
type fixture struct {
	db      *store.DB
	outbox  *store.Outbox
	opts    Options
	failed  int64 // p1's −60 reminder: failed
	sent    int64 // p1's −90 reminder: sent
	retry   int64 // p2's reminder waiting for a retry
	noRecip int64 // p3's record without recipients
}

func d(s string) renewal.Date { return renewal.MustParseDate(s) }

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "renewald.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	partners := []*renewal.Partner{
		{ID: "p1", Name: hostile, UsersGiven: true,
			Users: []renewal.User{{Email: "ada@contoso.example", Name: "<b>Ada</b>", Roles: []string{"Global admin"}},
				{Email: "bob@contoso.example", Name: "Bob", Roles: []string{"Sales"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Kubernetes on Microsoft Azure", AttainedOn: d("2021-06-10"), Status: renewal.StatusActive}}},
		{ID: "p2", Name: "Fabrikam", UsersGiven: true,
			Users:       []renewal.User{{Email: "carol@fabrikam.example", Name: "Carol", Roles: []string{"MPN Partner Admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: d("2020-05-20"), Status: renewal.StatusActive}},
			ScoresGiven: true,
			Scores:      []renewal.CapabilityScore{{Designation: "Solutions Partner for Business Applications", Enterprise: map[string]int{"performance": 10}}}},
		{ID: "p3", Name: "Northwind", UsersGiven: true,
			Enrollments: []renewal.Enrollment{{Specialization: "Adoption and Change Management", AttainedOn: d("2022-07-01"), Status: renewal.StatusActive}}},
	}
	// 130 partners with one admin in common (a partner holds a specialization once, R1).
	for i := 0; i < 130; i++ {
		partners = append(partners, &renewal.Partner{ID: fmt.Sprintf("bulk%03d", i), Name: fmt.Sprintf("Bulk Partner %d", i), UsersGiven: true,
			Users:       []renewal.User{{Email: "dave@bulk.example", Name: "Dave", Roles: []string{"Global admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: d("2019-01-01").AddDays(i), Status: renewal.StatusActive}}})
	}
	if _, err := db.Import(ctx, partners, fixtureNow); err != nil {
		t.Fatal(err)
	}
	rules := renewal.DefaultRules()
	cat := renewal.DefaultCatalog()
	recipients := map[string]string{"p1": "ada@contoso.example", "p2": "carol@fabrikam.example", "bulk": "dave@bulk.example"}
	var items []store.OutboxItem
	var after int64
	for {
		es, err := db.Enrollments(ctx, "", false, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		after = es[len(es)-1].ID
		for _, e := range es {
			spec, _ := cat.Lookup(e.Specialization)
			for _, ms := range rules.Milestones(d(e.AttainedOn), spec.Validation, d("2026-02-01"), d("2026-05-01")) {
				rcpt := recipients[e.PartnerID]
				if strings.HasPrefix(e.PartnerID, "bulk") {
					rcpt = recipients["bulk"]
				}
				status := "pending"
				switch {
				case rcpt == "":
					status = "no_recipients"
				case ms.Superseded:
					status = "superseded"
				}
				items = append(items, store.OutboxItem{EnrollmentID: e.ID, Milestone: ms, Recipient: rcpt, Status: status,
					MessageID: renewal.MessageID(e.ID, ms.Anniversary, ms.Offset, rcpt, "example.com")})
			}
		}
	}
	// p1's −60 reminder is queued after its −90 one went out, as a daily tick would.
	var later []store.OutboxItem
	for i := 0; i < len(items); i++ {
		if items[i].Recipient == recipients["p1"] && items[i].Milestone.Offset == -60 {
			later = append(later, items[i])
			items = append(items[:i], items[i+1:]...)
			i--
		} else if items[i].Recipient == recipients["p1"] && items[i].Milestone.Offset == -90 {
			items[i].Status = "pending" // the latest of the first batch
		}
	}
	roles := renewal.NewRoleMatcher(renewal.DefaultRecipientRoles())
	ob := &store.Outbox{DB: db, RoleKeys: roles.Keys(), Lease: 5 * time.Minute}
	f := &fixture{db: db, outbox: ob}
	for _, batch := range [][]store.OutboxItem{items, later} {
		if _, err := db.Enqueue(ctx, batch, fixtureNow); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkScanned(ctx, d("2026-05-01")); err != nil {
			t.Fatal(err)
		}
		claimed, _, _, err := ob.Claim(ctx, fixtureNow, d("2026-05-01"), 10000, rules.ExpiryOn(d("2026-05-01")))
		if err != nil {
			t.Fatal(err)
		}
		for _, rem := range claimed {
			id := rem.OutboxID
			switch {
			case rem.PartnerID == "p1" && rem.Milestone.Offset == -60:
				f.failed = id
				err = ob.MarkFailed(ctx, id, fixtureNow, `550 5.1.1 <script>alert(2)</script> mailbox unavailable`)
			case rem.PartnerID == "p1" && rem.Milestone.Offset == -90:
				f.sent = id
				err = ob.MarkSent(ctx, id, fixtureNow.Add(-time.Hour), "Reminder")
			case rem.PartnerID == "p2" && f.retry == 0:
				f.retry = id
				err = ob.MarkRetry(ctx, id, fixtureNow, fixtureNow.Add(time.Hour), "451 4.3.0 try again later")
			case rem.PartnerID == "p2":
				err = ob.Release(ctx, id, fixtureNow)
			default:
				err = ob.MarkSent(ctx, id, fixtureNow, "Reminder")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	rows, err := ob.List(ctx, store.Filter{Status: store.StatusNoRecipients})
	if err != nil || len(rows) == 0 {
		t.Fatalf("no no_recipients rows: %v", err)
	}
	f.noRecip = rows[0].ID
	if f.failed == 0 || f.sent == 0 || f.retry == 0 {
		t.Fatalf("fixture rows missing: %+v", f)
	}
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	from, _ := mail.ParseAddress("Partner Renewals <renewals@example.com>")
	f.opts = Options{DB: db, Outbox: ob, Catalog: cat, Rules: rules, Roles: roles, Location: time.UTC,
		Renderer: &notify.Renderer{Templates: tmpl, Catalog: cat, Rules: rules, From: from, Location: time.UTC},
		Now:      func() time.Time { return fixtureNow }, Transport: "file: one .eml per message in mail-out",
		NextTick: func(t time.Time) time.Time { return t.Truncate(24 * time.Hour).Add(30 * time.Hour) },
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil))}
	return f
}

func (f *fixture) server(t testing.TB, mod func(*Options)) *Server {
	t.Helper()
	o := f.opts
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get serves one request in-process and returns the response and body.
func get(t testing.TB, h http.Handler, method, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func containsAll(s string, subs ...string) string {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
