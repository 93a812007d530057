package scheduler

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

var ctx = context.Background()

var specs = []string{"Kubernetes on Microsoft Azure", "Teamwork Deployment", "Finance", "Threat Protection", "SAP on Microsoft Azure"}

// everyDayDataset holds one enrollment attained on every day of 2021 and of 2024 (29 February
// included), so anniversaries fall on every day of the year, in odd and even renewal years. Every
// fifth partner has two admins, every seventh none.
func everyDayDataset(t testing.TB, db *store.DB) []*renewal.Partner {
	var ps []*renewal.Partner
	i := 0
	for _, year := range []int{2021, 2024} {
		for d := renewal.NewDate(year, 1, 1); d.Year() == year; d = d.AddDays(1) {
			i++
			p := &renewal.Partner{ID: fmt.Sprintf("p%04d", i), Name: fmt.Sprintf("Partner %d", i), UsersGiven: true}
			switch {
			case i%7 == 0:
				p.Users = []renewal.User{{Email: fmt.Sprintf("billing%d@p.example", i), Roles: []string{"Billing admin"}}}
			case i%5 == 0:
				p.Users = []renewal.User{
					{Email: fmt.Sprintf("a%d@p.example", i), Roles: []string{"Global admin"}},
					{Email: fmt.Sprintf("b%d@p.example", i), Roles: []string{"MPN Partner Admin", "Global admin"}},
				}
			default:
				p.Users = []renewal.User{{Email: fmt.Sprintf("a%d@p.example", i), Roles: []string{"Global admin"}}}
			}
			p.Enrollments = []renewal.Enrollment{{Specialization: specs[i%len(specs)], AttainedOn: d, Status: renewal.StatusActive}}
			ps = append(ps, p)
		}
	}
	if _, err := db.Import(ctx, ps, time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return ps
}

func newTicker(db *store.DB, catchUp int, logs io.Writer) *Ticker {
	logger := slog.New(slog.NewTextHandler(logs, nil))
	return &Ticker{
		Scanner: &Scanner{DB: db, Rules: renewal.DefaultRules(), Catalog: renewal.DefaultCatalog(),
			Roles: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()), MessageIDDomain: "example.com", Logger: logger, PageSize: 50},
		Location: time.UTC, CatchUpDays: catchUp, Logger: logger, Now: func() time.Time { return time.Time{} },
	}
}

type key struct {
	partner, anniversary string
	offset               int
}

// expected lists, per (partner, anniversary, offset), the reminders due in [from, to].
func expected(ps []*renewal.Partner, from, to renewal.Date) map[key]renewal.Milestone {
	cat := renewal.DefaultCatalog()
	out := map[key]renewal.Milestone{}
	for _, p := range ps {
		e := p.Enrollments[0]
		spec, _ := cat.Lookup(e.Specialization)
		for _, m := range renewal.DefaultRules().Milestones(e.AttainedOn, spec.Validation, from, to) {
			out[key{p.ID, m.Anniversary.String(), m.Offset}] = m
		}
	}
	return out
}

func recipientsOf(p *renewal.Partner) int {
	n := 0
	for _, u := range p.Users {
		if renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Matches(u.Roles...) {
			n++
		}
	}
	return n
}

// TestLifetimeOfEveryDay steps a fake clock through 2025 and 2026, one tick a day (twice on some
// days) delivering to .eml files, and checks that every reminder was queued exactly once, on its due
// date, and sent; the enrollments arriving mid-window on the first day get their latest due reminder
// then (R14).
func TestLifetimeOfEveryDay(t *testing.T) {
	if testing.Short() {
		t.Skip("730 ticks")
	}
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		lifetime(t, engine, 7, renewal.Date{}, 0)
	})
}

// TestLifetimeWithOutage is the lifetime with the daemon down for 9 days in the middle: what goes out
// on the catch-up day is worded from that day (R12), and a reminder whose renewal's grace period
// ended during the outage is not mailed but expired (R13).
func TestLifetimeWithOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("730 ticks")
	}
	db, rend, rows := lifetime(t, store.SQLite, 10, renewal.NewDate(2025, 7, 10), 9)
	back := renewal.NewDate(2025, 7, 19)
	late, reworded, expired := 0, 0, 0
	for _, r := range rows {
		switch {
		case r.Status == store.StatusExpired:
			expired++
			ann, _ := renewal.ParseDate(r.AnniversaryOn)
			_, _, graceEnds := renewal.DefaultRules().Window(ann)
			if !graceEnds.Before(back) || *r.LastError != renewal.ExpiredReason(graceEnds) {
				t.Errorf("row %d expired (%s) but its grace ends %s", r.ID, *r.LastError, graceEnds)
			}
		case r.Status == store.StatusSent && r.DueOn >= "2025-07-10" && r.DueOn < back.String():
			late++
			if !strings.HasPrefix(*r.SentAt, back.String()) {
				t.Errorf("row %d due %s in the outage sent at %s", r.ID, r.DueOn, *r.SentAt)
			}
			rem, err := (&store.Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys()}).Reminder(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			rem = renewal.DefaultRules().Complete(rem)
			sent, err := rend.Render(rem, back.Time(time.UTC).Add(6*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			onDue, _ := rend.Render(rem, rem.Milestone.DueOn.Time(time.UTC).Add(6*time.Hour))
			if sent.Subject != *r.Subject {
				t.Errorf("row %d recorded subject %q, rendered for the send day %q", r.ID, *r.Subject, sent.Subject)
			}
			if sent.Text != onDue.Text {
				reworded++
			}
			text := sent.Subject + "\n" + sent.Text
			if regexp.MustCompile(`-\d+ days?|\(-\d|in -\d`).MatchString(text) {
				t.Errorf("row %d sent %s: negative day count:\n%s", r.ID, back, text)
			}
			for _, m := range regexp.MustCompile(`(?i)today, (\d{4}-\d{2}-\d{2})`).FindAllStringSubmatch(text, -1) {
				if m[1] != back.String() {
					t.Errorf("row %d sent %s says %q", r.ID, back, m[0])
				}
			}
		}
	}
	if late == 0 || expired == 0 || reworded != late {
		t.Errorf("late %d, reworded %d, expired %d: every late email must be reworded and some must expire", late, reworded, expired)
	}
	t.Logf("after a 9-day outage: %d emails sent late on %s, %d of them worded differently than on their due date; %d expired", late, back, reworded, expired)
}

// lifetime runs the two-year lifetime, without ticks for outage days from down when outage > 0,
// and checks every row; it returns the database, the renderer and the rows.
func lifetime(t *testing.T, engine store.Engine, catchUp int, down renewal.Date, outage int) (*store.DB, *notify.Renderer, []store.OutboxRow) {
	db := storetest.Open(t, engine)
	ps := everyDayDataset(t, db)
	tk := newTicker(db, catchUp, io.Discard)
	var now time.Time
	dl := fileDeliverer(t, db, func() time.Time { return now })
	tk.Deliverer = dl
	from, to := renewal.NewDate(2025, 1, 1), renewal.NewDate(2026, 12, 31)
	back := down.AddDays(outage)
	for day := from; !day.After(to); day = day.AddDays(1) {
		if outage > 0 && !day.Before(down) && day.Before(back) {
			continue
		}
		at := time.Date(day.Year(), day.Month(), day.Day(), 6, 0, 0, 0, time.UTC)
		now = at
		if _, err := tk.Tick(ctx, at, true); err != nil {
			t.Fatalf("tick %s: %v", day, err)
		}
		if day.Day() == 15 { // a restart re-runs the day's tick: nothing twice (R10)
			res, err := tk.Tick(ctx, at.Add(time.Hour), false)
			if err != nil || res.Scan.Queued != 0 || res.Scan.Dates != 0 {
				t.Fatalf("re-tick %s: %+v %v", day, res.Scan, err)
			}
		}
	}
	want := expected(ps, from, to)
	// R14: on the first day every enrollment arrives; those whose current renewal has reminders
	// already due get the latest of them then, the earlier ones recorded superseded.
	cat := renewal.DefaultCatalog()
	arrival := map[key]renewal.Milestone{}
	for _, p := range ps {
		e := p.Enrollments[0]
		spec, _ := cat.Lookup(e.Specialization)
		for _, m := range tk.Scanner.Arrival(e.AttainedOn, spec.Validation, from, -120) {
			if m.DueOn.Before(from) {
				arrival[key{p.ID, m.Anniversary.String(), m.Offset}] = m
			}
		}
	}
	// The catch-up tick scans the outage's dates as one range: all but the latest reminder of each
	// anniversary in it are superseded (R11).
	caughtUp := map[key]renewal.Milestone{}
	if outage > 0 {
		caughtUp = expected(ps, down, back)
	}
	byID := map[string]*renewal.Partner{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	rows, err := storetest.Outbox(db).List(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[key]int{}
	sawLeap := false
	for _, r := range rows {
		k := key{r.PartnerID, r.AnniversaryOn, r.OffsetDays}
		m, ok := want[k]
		arrived := false
		if !ok {
			if m, ok = arrival[k]; !ok {
				t.Fatalf("unexpected row %+v", r)
			}
			arrived = true
		}
		if r.DueOn != m.DueOn.String() || r.RenewalYear != m.Year || r.ManualValidation != string(m.ManualValidation) {
			t.Errorf("row %d: due %s year %d %s, want %s %d %s", r.ID, r.DueOn, r.RenewalYear, r.ManualValidation, m.DueOn, m.Year, m.ManualValidation)
		}
		queuedOn := m.DueOn
		switch {
		case arrived:
			queuedOn = from
		case outage > 0 && !m.DueOn.Before(down) && m.DueOn.Before(back):
			queuedOn = back
		}
		if !strings.HasPrefix(r.CreatedAt, queuedOn.String()) {
			t.Errorf("row %d due %s was queued at %s, want on %s", r.ID, r.DueOn, r.CreatedAt, queuedOn)
		}
		if r.SentAt != nil && !strings.HasPrefix(*r.SentAt, queuedOn.String()) {
			t.Errorf("row %d due %s was sent at %s, want on %s", r.ID, r.DueOn, *r.SentAt, queuedOn)
		}
		wantStatus := store.StatusSent
		switch {
		case arrived && m.Superseded:
			wantStatus = store.StatusSuperseded
		case recipientsOf(byID[r.PartnerID]) == 0:
			wantStatus = store.StatusNoRecipients
		case queuedOn == back && m.Ended(back):
			wantStatus = store.StatusExpired
		case queuedOn == back && caughtUp[k].Superseded:
			wantStatus = store.StatusSuperseded
		}
		if r.Status != wantStatus {
			t.Errorf("row %d (due %s, %+d) status %s, want %s", r.ID, r.DueOn, r.OffsetDays, r.Status, wantStatus)
		}
		if r.AnniversaryOn == "2028-02-29" || r.AnniversaryOn == "2026-02-28" && strings.HasSuffix(byIDAttained(byID[r.PartnerID]), "02-29") {
			sawLeap = true
		}
		got[k]++
	}
	for k := range want {
		n := max(recipientsOf(byID[k.partner]), 1)
		if got[k] != n {
			t.Errorf("%v queued %d times, want %d", k, got[k], n)
		}
	}
	if len(arrival) == 0 {
		t.Error("no enrollment arrived mid-window")
	}
	if !sawLeap {
		t.Error("the 29 February attainment got no reminder on 28 February")
	}
	t.Logf("%d reminders over %d keys, %d of them queued on arrival", len(rows), len(want), len(arrival))
	return db, dl.Renderer, rows
}

// fileDeliverer delivers to .eml files in a temporary folder with the given clock.
func fileDeliverer(t testing.TB, db *store.DB, now func() time.Time) *notify.Deliverer {
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return &notify.Deliverer{
		Outbox:    &store.Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: time.Minute},
		Transport: &notify.File{Dir: t.TempDir()},
		Renderer: &notify.Renderer{Templates: tmpl, Catalog: renewal.DefaultCatalog(), Rules: renewal.DefaultRules(),
			From: &mail.Address{Name: "Renewals", Address: "renewals@example.com"}, Location: time.UTC},
		Now: now, BatchSize: 100, MaxAttempts: 3, BackoffBase: time.Minute, Logger: slog.New(slog.DiscardHandler),
	}
}

func byIDAttained(p *renewal.Partner) string { return p.Enrollments[0].AttainedOn.String() }

// TestCatchUpAfterOutage stops the daemon for 5 and for 40 days.
func TestCatchUpAfterOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		run := func(t *testing.T, catchUp, outage int) (*store.DB, []*renewal.Partner, string, TickResult) {
			db := storetest.Open(t, engine)
			ps := everyDayDataset(t, db)
			var logs bytes.Buffer
			tk := newTicker(db, catchUp, &logs)
			day := renewal.NewDate(2025, 3, 1)
			for ; day.Before(renewal.NewDate(2025, 3, 10)); day = day.AddDays(1) {
				if _, err := tk.Tick(ctx, day.Time(time.UTC), false); err != nil {
					t.Fatal(err)
				}
			}
			back := day.AddDays(outage) // last tick was on day-1; the days in between were missed
			res, err := tk.Tick(ctx, back.Time(time.UTC).Add(6*time.Hour), false)
			if err != nil {
				t.Fatal(err)
			}
			return db, ps, logs.String(), res
		}

		t.Run("5 days", func(t *testing.T) {
			_, _, logs, res := run(t, 7, 5)
			if res.Scan.From != renewal.NewDate(2025, 3, 10) || res.Scan.Dates != 6 || res.GapMissed != 0 {
				t.Errorf("scanned %s..%s (%d dates), missed %d", res.Scan.From, res.Scan.To, res.Scan.Dates, res.GapMissed)
			}
			if strings.Contains(logs, "gap") {
				t.Errorf("warned about a gap within catch_up_days: %s", logs)
			}
			if res.Scan.Queued == 0 {
				t.Error("nothing caught up")
			}
		})

		t.Run("40 days beyond catch_up_days", func(t *testing.T) {
			db, ps, logs, res := run(t, 7, 40)
			// Back on 2025-04-19: only 2025-04-12..2025-04-19 are scanned; 2025-03-10..2025-04-11 (33 days) are reported missed.
			if res.Scan.From != renewal.NewDate(2025, 4, 12) || res.Scan.Dates != 8 || res.GapMissed != 33 {
				t.Errorf("scanned %s..%s (%d dates), missed %d", res.Scan.From, res.Scan.To, res.Scan.Dates, res.GapMissed)
			}
			if !strings.Contains(logs, "run a backfill") || !strings.Contains(logs, "missed_from=2025-03-10") ||
				!strings.Contains(logs, `command="renewald backfill --from 2025-03-10 --to 2025-04-11"`) {
				t.Errorf("no backfill hint (a command to paste) in logs: %s", logs)
			}
			rows, _ := storetest.Outbox(db).List(ctx, store.Filter{DueFrom: renewal.NewDate(2025, 3, 10), DueTo: renewal.NewDate(2025, 4, 11)})
			if len(rows) != 0 {
				t.Errorf("%d reminders queued for dates outside catch_up_days", len(rows))
			}
			// A backfill of the gap then queues them, superseding per R11.
			tk := newTicker(db, 7, io.Discard)
			st, err := tk.Scanner.Scan(ctx, renewal.NewDate(2025, 3, 10), renewal.NewDate(2025, 4, 11), Queue,
				renewal.NewDate(2025, 4, 19).Time(time.UTC).Add(7*time.Hour)) // run the day the daemon is back
			if err != nil || st.Queued == 0 || st.Superseded == 0 {
				t.Fatalf("backfill %+v %v", st, err)
			}
			checkSupersede(t, db, ps)
		})

		t.Run("40 days within catch_up_days", func(t *testing.T) {
			db, ps, _, res := run(t, 60, 40)
			if res.Scan.Dates != 41 || res.GapMissed != 0 || res.Scan.Superseded == 0 {
				t.Errorf("catch-up %+v", res.Scan)
			}
			checkSupersede(t, db, ps)
		})
	})
}

// checkSupersede asserts R11 over the whole outbox: for each (partner, anniversary, recipient) a
// pending row is the latest offset recorded (expired ones aside); superseded rows are earlier. (no_recipients rows are
// records, never mailed, so they are not waiting to be superseded.)
func checkSupersede(t *testing.T, db *store.DB, ps []*renewal.Partner) {
	t.Helper()
	rows, _ := storetest.Outbox(db).List(ctx, store.Filter{})
	type group struct{ partner, ann, rcpt string }
	latest := map[group]int{}
	for _, r := range rows {
		g := group{r.PartnerID, r.AnniversaryOn, deref(r.Recipient)}
		if r.Status == store.StatusExpired {
			continue // its grace period is over: the rows still waiting expire at the next claim (R13)
		}
		if o, ok := latest[g]; !ok || r.OffsetDays > o {
			latest[g] = r.OffsetDays
		}
	}
	var superseded int
	for _, r := range rows {
		g := group{r.PartnerID, r.AnniversaryOn, deref(r.Recipient)}
		switch r.Status {
		case store.StatusPending:
			if r.OffsetDays != latest[g] {
				t.Errorf("row %d (%+d) is %s but %+d of the same anniversary is queued", r.ID, r.OffsetDays, r.Status, latest[g])
			}
		case store.StatusSuperseded:
			superseded++
			if r.OffsetDays == latest[g] {
				t.Errorf("row %d is superseded but is the latest", r.ID)
			}
		}
	}
	if superseded == 0 {
		t.Error("no superseded rows")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestPendingSupersededByLaterReminder: a -90 reminder still pending (mail server down) becomes
// superseded when the -60 reminder of the same anniversary is queued.
func TestPendingSupersededByLaterReminder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		_, err := db.Import(ctx, []*renewal.Partner{{ID: "1", Name: "A", UsersGiven: true,
			Users:       []renewal.User{{Email: "a@a.example", Roles: []string{"Global admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: renewal.NewDate(2023, 6, 1), Status: renewal.StatusActive}}}},
			time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		tk := newTicker(db, 7, io.Discard)
		ann := renewal.NewDate(2025, 6, 1)
		for _, o := range []int{-90, -60} {
			if _, err := tk.Tick(ctx, ann.AddDays(o).Time(time.UTC), false); err != nil {
				t.Fatal(err)
			}
		}
		// The first tick (on the −90 day) finds the enrollment arriving: its −120 reminder is recorded
		// superseded by the −90 (R14); the −60 tick then supersedes the −90 still pending (R11).
		rows, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		if len(rows) != 3 || rows[0].OffsetDays != -120 || rows[0].Status != store.StatusSuperseded ||
			rows[1].Status != store.StatusSuperseded || rows[2].OffsetDays != -60 || rows[2].Status != store.StatusPending {
			t.Errorf("rows: %+v", rows)
		}
	})
}

// TestArrivingMidWindow pins R14: a partner imported while its renewal window is open is told on the
// next tick with the latest reminder already due, once per recipient; the earlier ones are recorded
// superseded; a key already recorded (backfill --record-only) is not queued again; an enrollment
// whose grace period has ended gets nothing; a later tick does not treat it as new again.
func TestArrivingMidWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		partner := func(id, attained string) *renewal.Partner {
			return &renewal.Partner{ID: id, Name: "Partner " + id, UsersGiven: true,
				Users: []renewal.User{{Email: "a@" + id + ".example", Roles: []string{"Global admin"}}, {Email: "b@" + id + ".example", Roles: []string{"MPN Partner Admin"}},
					{Email: "c@" + id + ".example", Roles: []string{"Billing admin"}}},
				Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: renewal.MustParseDate(attained), Status: renewal.StatusActive}}}
		}
		db := storetest.Open(t, engine)
		tk := newTicker(db, 7, io.Discard)
		// The daemon has been running: the scan state stands at 2026-11-22.
		if _, err := tk.Tick(ctx, time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC), false); err != nil {
			t.Fatal(err)
		}
		// Imported on 2026-11-22 after the tick. Anniversary 2026-12-20: −120 (08-22), −90 (09-21), −60
		// (10-21), −30 (11-20) have fallen due; the window is open. "late" had its anniversary on
		// 2026-11-01: its grace runs to 2026-12-01, and its 0 reminder fell due. "gone" ended 2026-11-10.
		ps := []*renewal.Partner{partner("mid", "2023-12-20"), partner("late", "2022-11-01"), partner("gone", "2023-10-11"), partner("early", "2024-06-01")}
		if _, err := db.Import(ctx, ps, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		res, err := tk.Tick(ctx, time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC), false)
		if err != nil || res.Scan.Arrived != 4 {
			t.Fatalf("tick %+v %v", res.Scan, err)
		}
		rows, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		pending := map[string][]string{}
		superseded := map[string]int{}
		for _, r := range rows {
			switch r.Status {
			case store.StatusPending:
				pending[r.PartnerID] = append(pending[r.PartnerID], fmt.Sprintf("%s %+d %s", r.AnniversaryOn, r.OffsetDays, *r.Recipient))
			case store.StatusSuperseded:
				superseded[r.PartnerID]++
			default:
				t.Errorf("row %+v", r)
			}
		}
		want := map[string][]string{
			"mid":  {"2026-12-20 -30 a@mid.example", "2026-12-20 -30 b@mid.example"},
			"late": {"2026-11-01 +0 a@late.example", "2026-11-01 +0 b@late.example"},
		}
		if fmt.Sprint(pending) != fmt.Sprint(want) {
			t.Errorf("pending %v, want %v", pending, want)
		}
		if superseded["mid"] != 6 || superseded["late"] != 8 || superseded["gone"] != 0 || superseded["early"] != 0 {
			t.Errorf("superseded %v, want mid 6 and late 8 (three and four earlier reminders for two recipients)", superseded)
		}
		// Nothing is new on the next tick.
		res, err = tk.Tick(ctx, time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), false)
		if err != nil || res.Scan.Arrived != 0 || res.Scan.Queued != 0 {
			t.Errorf("second tick %+v %v", res.Scan, err)
		}

		t.Run("recorded keys are not queued again", func(t *testing.T) {
			db := storetest.Open(t, engine)
			tk := newTicker(db, 7, io.Discard)
			if _, err := db.Import(ctx, []*renewal.Partner{partner("mid", "2023-12-20")}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			st, err := tk.Scanner.Scan(ctx, renewal.NewDate(2026, 8, 1), renewal.NewDate(2026, 11, 22), RecordOnly, time.Time{})
			if err != nil || st.Skipped == 0 {
				t.Fatalf("record-only %+v %v", st, err)
			}
			res, err := tk.Tick(ctx, time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC), false)
			if err != nil || res.Scan.Queued != 0 || res.Scan.Arrived != 1 {
				t.Errorf("tick after record-only %+v %v", res.Scan, err)
			}
		})
	})
}

// TestFutureBackfillWaitsForDueDates pins R13: a backfill of future dates queues rows that go out on
// their due dates, not when delivery first runs.
func TestFutureBackfillWaitsForDueDates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		everyDayDataset(t, db)
		tk := newTicker(db, 7, io.Discard)
		var now time.Time
		dl := fileDeliverer(t, db, func() time.Time { return now })
		today := renewal.NewDate(2026, 11, 23)
		now = today.Time(time.UTC).Add(6 * time.Hour)
		from, to := renewal.NewDate(2027, 5, 10), renewal.NewDate(2027, 5, 14)
		st, err := tk.Scanner.Scan(ctx, from, to, Queue, now)
		if err != nil || st.Queued == 0 {
			t.Fatalf("backfill %+v %v", st, err)
		}
		ds, err := dl.Deliver(ctx)
		if err != nil || ds.Claimed != 0 || ds.Sent != 0 {
			t.Fatalf("delivered %+v %v on %s, before any row was due", ds, err, today)
		}
		sent := 0
		for day := from; !day.After(to); day = day.AddDays(1) {
			now = day.Time(time.UTC).Add(-time.Second) // the evening before: nothing
			if ds, _ := dl.Deliver(ctx); ds.Claimed != 0 {
				t.Fatalf("the evening before %s: %+v", day, ds)
			}
			now = day.Time(time.UTC).Add(6 * time.Hour)
			ds, err := dl.Deliver(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rows, _ := storetest.Outbox(db).List(ctx, store.Filter{DueFrom: day, DueTo: day, Status: store.StatusSent})
			if ds.Sent == 0 || ds.Sent != len(rows) {
				t.Errorf("%s: sent %d, %d rows of that day sent", day, ds.Sent, len(rows))
			}
			sent += ds.Sent
		}
		n, _ := storetest.Outbox(db).CountByStatus(ctx)
		if n[store.StatusPending] != 0 || sent != st.Queued {
			t.Errorf("sent %d of %d queued; counts %v", sent, st.Queued, n)
		}
	})
}

func TestBackfillIdempotentAndDryRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		everyDayDataset(t, db)
		var out bytes.Buffer
		tk := newTicker(db, 7, io.Discard)
		tk.Scanner.DryRunOut = &out
		from, to := renewal.NewDate(2025, 1, 1), renewal.NewDate(2025, 12, 31)
		dry, err := tk.Scanner.Scan(ctx, from, to, DryRun, time.Time{})
		if err != nil || dry.Reminders == 0 {
			t.Fatalf("dry run %+v %v", dry, err)
		}
		if n, _ := storetest.Outbox(db).CountByStatus(ctx); n[store.StatusPending]+n[store.StatusSuperseded]+n[store.StatusNoRecipients] != 0 {
			t.Errorf("dry run wrote: %v", n)
		}
		if lines := strings.Count(out.String(), "\n"); lines != dry.Reminders {
			t.Errorf("dry run printed %d lines for %d reminders", lines, dry.Reminders)
		}
		first, err := tk.Scanner.Scan(ctx, from, to, Queue, time.Time{})
		if err != nil || first.Queued == 0 || first.Reminders != dry.Reminders {
			t.Fatalf("first backfill %+v (dry %d) %v", first, dry.Reminders, err)
		}
		second, err := tk.Scanner.Scan(ctx, from, to, Queue, time.Time{})
		if err != nil || second.Queued != 0 || second.Superseded != 0 || second.Existing != first.Reminders {
			t.Fatalf("second backfill %+v %v", second, err)
		}
		if _, ok, _ := db.LastScanned(ctx); ok {
			t.Error("a backfill moved the daily scan state")
		}
	})
}

func TestRecordOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		everyDayDataset(t, db)
		tk := newTicker(db, 7, io.Discard)
		st, err := tk.Scanner.Scan(ctx, renewal.NewDate(2024, 1, 1), renewal.NewDate(2024, 12, 31), RecordOnly, time.Time{})
		if err != nil || st.Skipped == 0 || st.Queued != 0 {
			t.Fatalf("%+v %v", st, err)
		}
		n, _ := storetest.Outbox(db).CountByStatus(ctx)
		if n[store.StatusSkipped] != st.Skipped || n[store.StatusPending] != 0 {
			t.Errorf("counts %v", n)
		}
	})
}

// TestRecordedRenewalStopsItsReminders steps a fake clock through two anniversaries of one
// enrollment; the renewal of the first is recorded right after its −60 reminder went out. The partner
// gets exactly the −120, −90 and −60 emails of that anniversary and all six of the next.
func TestRecordedRenewalStopsItsReminders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		if _, err := db.Import(ctx, []*renewal.Partner{{ID: "1", Name: "A", UsersGiven: true,
			Users:       []renewal.User{{Email: "a@a.example", Roles: []string{"Global admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: renewal.NewDate(2023, 6, 1), Status: renewal.StatusActive}}}},
			time.Time{}); err != nil {
			t.Fatal(err)
		}
		tk := newTicker(db, 7, io.Discard)
		var now time.Time
		tk.Deliverer = fileDeliverer(t, db, func() time.Time { return now })
		first := renewal.NewDate(2025, 6, 1)
		for day := renewal.NewDate(2025, 1, 1); !day.After(renewal.NewDate(2026, 12, 31)); day = day.AddDays(1) {
			now = day.Time(time.UTC).Add(6 * time.Hour)
			if _, err := tk.Tick(ctx, now, true); err != nil {
				t.Fatal(err)
			}
			if day == first.AddDays(-60) {
				if _, err := db.RecordRenewal(ctx, renewal.Outcome{PartnerID: "1", Specialization: "Finance", Anniversary: first, RenewedOn: day}, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		rows, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		sent := map[string][]int{}
		cancelled := 0
		for _, r := range rows {
			switch r.Status {
			case store.StatusSent:
				sent[r.AnniversaryOn] = append(sent[r.AnniversaryOn], r.OffsetDays)
			case store.StatusCancelled:
				cancelled++
				if r.AnniversaryOn != first.String() || !strings.HasPrefix(*r.LastError, "renewal recorded: renewed on 2025-04-02") {
					t.Errorf("cancelled row %+v", r)
				}
			default:
				t.Errorf("row %d status %s", r.ID, r.Status)
			}
		}
		if fmt.Sprint(sent) != "map[2025-06-01:[-120 -90 -60] 2026-06-01:[-120 -90 -60 -30 0 30]]" || cancelled != 3 {
			t.Errorf("sent %v, %d cancelled", sent, cancelled)
		}
	})
}

// TestNoRecipientsRecheckedWhenAnAdminArrives: a partner without an admin gets a no_recipients record
// at −60; an import then gives it one; the next tick queues that reminder to the new admin and records
// the no_recipients row superseded, so the open no_recipients count (the alert) drops to zero.
func TestNoRecipientsRecheckedWhenAnAdminArrives(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	p := &renewal.Partner{ID: "1", Name: "A", UsersGiven: true,
		Users:       []renewal.User{{Email: "billing@a.example", Roles: []string{"Billing admin"}}},
		Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: renewal.NewDate(2023, 6, 1), Status: renewal.StatusActive}}}
	if _, err := db.Import(ctx, []*renewal.Partner{p}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	tk := newTicker(db, 7, io.Discard)
	ann := renewal.NewDate(2026, 6, 1)
	if _, err := tk.Tick(ctx, ann.AddDays(-60).Time(time.UTC), false); err != nil {
		t.Fatal(err)
	}
	open := func() int {
		n, err := storetest.Outbox(db).CountNoRecipientsOpen(ctx, renewal.DefaultRules().GraceOpenFrom(ann.AddDays(-50)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := open(); n == 0 {
		t.Fatal("no no_recipients record")
	}
	p.Users = append(p.Users, renewal.User{Email: "ada@a.example", Roles: []string{"Global admin"}})
	if _, err := db.Import(ctx, []*renewal.Partner{p}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	res, err := tk.Tick(ctx, ann.AddDays(-59).Time(time.UTC), false)
	if err != nil || res.Scan.Queued != 1 {
		t.Fatalf("tick after the import %+v %v", res.Scan, err)
	}
	rows, _ := storetest.Outbox(db).List(ctx, store.Filter{Status: store.StatusPending})
	if len(rows) != 1 || *rows[0].Recipient != "ada@a.example" || rows[0].OffsetDays != -60 {
		t.Errorf("pending %+v", rows)
	}
	if n := open(); n != 0 {
		t.Errorf("%d open no_recipients records left", n)
	}
	// A no_recipients record of a renewal long over does not count, and is not queued.
	old := renewal.DefaultRules().Milestones(renewal.NewDate(2023, 6, 1), renewal.ValidationNone, renewal.NewDate(2024, 4, 2), renewal.NewDate(2024, 4, 2))
	if _, err := db.Enqueue(ctx, []store.OutboxItem{{EnrollmentID: 1, Milestone: old[0], Status: store.StatusNoRecipients, MessageID: "<x@y>"}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := open(); n != 0 {
		t.Errorf("a record of 2024 counts as open")
	}
	if res, _ := tk.Tick(ctx, ann.AddDays(-58).Time(time.UTC), false); res.Scan.Queued != 0 {
		t.Errorf("the 2024 record was queued: %+v", res.Scan)
	}
}
