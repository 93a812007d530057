package scheduler

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// TestFutureBackfillSendsEachReminderOnItsDay is issue 25 item 1 (R11 decided on the day): the −120
// is sent by a tick on 2026-12-06; a backfill of 2026-12-07..2027-03-15 run that day leaves the −90,
// −60, −30 and 0 pending for their own days; stepping the clock a day at a time through the range and
// the grace period after it sends each reminder on its due date, exactly once.
func TestFutureBackfillSendsEachReminderOnItsDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		importLitware(t, db)
		tk := newTicker(db, 7, io.Discard)
		var now time.Time
		tk.Deliverer = fileDeliverer(t, db, func() time.Time { return now })
		start := renewal.NewDate(2026, 12, 6)
		now = start.Time(time.UTC).Add(6 * time.Hour)
		if _, err := tk.Tick(ctx, now, true); err != nil {
			t.Fatal(err)
		}
		st, err := tk.Scanner.Scan(ctx, renewal.NewDate(2026, 12, 7), renewal.NewDate(2027, 3, 15), Queue, now)
		if err != nil {
			t.Fatal(err)
		}
		if st.Queued != 4 || st.Superseded != 0 {
			t.Errorf("backfill of future dates: %+v, want 4 queued and none superseded", st.EnqueueStats)
		}
		sentOn := map[int][]renewal.Date{} // offset → days it was sent
		steps := 0
		for day := start.AddDays(1); !day.After(renewal.NewDate(2027, 4, 30)); day = day.AddDays(1) {
			steps++
			now = day.Time(time.UTC).Add(6 * time.Hour)
			res, err := tk.Tick(ctx, now, true)
			if err != nil {
				t.Fatal(err)
			}
			if res.Delivery.Sent == 0 {
				continue
			}
			rows, _ := storetest.Outbox(db).List(ctx, store.Filter{Status: store.StatusSent, DueFrom: day, DueTo: day})
			if len(rows) != res.Delivery.Sent {
				t.Errorf("%s: sent %d, but %d rows due that day are sent", day, res.Delivery.Sent, len(rows))
			}
			for _, r := range rows {
				sentOn[r.OffsetDays] = append(sentOn[r.OffsetDays], day)
			}
		}
		ann := renewal.NewDate(2027, 3, 10)
		for _, o := range []int{-90, -60, -30, 0, 30} {
			if got := sentOn[o]; len(got) != 1 || got[0] != ann.AddDays(o) {
				t.Errorf("offset %+d sent on %v, want once on %s", o, got, ann.AddDays(o))
			}
		}
		rows, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		for _, r := range rows {
			if r.Status != store.StatusSent {
				t.Errorf("row %d %+d is %s (%s)", r.ID, r.OffsetDays, r.Status, deref(r.LastError))
			}
		}
		if len(rows) != 6 {
			t.Errorf("%d rows, want the six reminders", len(rows))
		}
		t.Logf("%s: %d daily steps after the backfill; sent on %v", engine, steps, sentOn)
	})
}

// importLitware imports one partner with one admin and Sales attained on 2024-03-10 (anniversary
// 2027-03-10: reminders due 2026-11-10, 2026-12-10, 2027-01-09, 2027-02-08, 2027-03-10, 2027-04-09).
func importLitware(t *testing.T, db *store.DB) {
	t.Helper()
	if _, err := db.Import(ctx, []*renewal.Partner{{ID: "1", Name: "Litware", UsersGiven: true,
		Users:       []renewal.User{{Email: "liam@litware.example", Roles: []string{"Global admin"}}},
		Enrollments: []renewal.Enrollment{{Specialization: "Sales", AttainedOn: renewal.NewDate(2024, 3, 10), Status: renewal.StatusActive}}}},
		time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// TestWaitingReminderSupersededWhenALaterOneFallsDue: after a backfill of future dates, the −90 is
// still waiting (the relay was down) when the −60 falls due: the delivery of that day sends the −60
// only and records the −90 superseded (R11).
func TestWaitingReminderSupersededWhenALaterOneFallsDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		importLitware(t, db)
		tk := newTicker(db, 7, io.Discard)
		now := renewal.NewDate(2026, 12, 6).Time(time.UTC).Add(6 * time.Hour)
		if _, err := tk.Scanner.Scan(ctx, renewal.NewDate(2026, 12, 7), renewal.NewDate(2027, 3, 15), Queue, now); err != nil {
			t.Fatal(err)
		}
		ann := renewal.NewDate(2027, 3, 10)
		now = ann.AddDays(-60).Time(time.UTC).Add(6 * time.Hour) // the −90 never went out
		dl := fileDeliverer(t, db, func() time.Time { return now })
		ds, err := dl.Deliver(ctx)
		if err != nil || ds.Sent != 1 {
			t.Fatalf("delivery on the −60's day: %+v %v", ds, err)
		}
		rows, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		got := map[int]string{}
		for _, r := range rows {
			got[r.OffsetDays] = string(r.Status)
			if r.OffsetDays == -90 && !strings.Contains(deref(r.LastError), "later reminder") {
				t.Errorf("−90 superseded without a reason: %q", deref(r.LastError))
			}
		}
		if want := "map[-90:superseded -60:sent -30:pending 0:pending]"; fmt.Sprint(got) != want {
			t.Errorf("statuses %v, want %s", got, want)
		}
	})
}

// TestDryRunAgreesWithTheRealRun is issue 25 item 2: over a range holding recorded renewals, renewals
// whose grace ended (expired), reminders replaced by later ones (superseded), partners without
// recipients and keys already present, the dry run's rows are the real run's rows, status included.
func TestDryRunAgreesWithTheRealRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ps := everyDayDataset(t, db)
		// Recorded renewals: every eleventh partner's 2026 anniversary.
		for i, p := range ps {
			if i%11 != 0 {
				continue
			}
			e := p.Enrollments[0]
			ann := renewal.NewDate(2026, e.AttainedOn.Month(), e.AttainedOn.Day())
			if e.AttainedOn.Month() == 2 && e.AttainedOn.Day() == 29 {
				ann = renewal.NewDate(2026, 2, 28)
			}
			if _, err := db.RecordRenewal(ctx, renewal.Outcome{PartnerID: p.ID, Specialization: e.Specialization,
				Anniversary: ann, RenewedOn: ann.AddDays(-10)}, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		tk := newTicker(db, 7, io.Discard)
		now := renewal.NewDate(2026, 9, 15).Time(time.UTC).Add(6 * time.Hour)
		// Keys already present: a backfill of the week before.
		if _, err := tk.Scanner.Scan(ctx, renewal.NewDate(2026, 9, 8), renewal.NewDate(2026, 9, 15), Queue, now); err != nil {
			t.Fatal(err)
		}
		from, to := renewal.NewDate(2026, 5, 1), renewal.NewDate(2027, 1, 31)
		var planned []string
		dry := *tk.Scanner
		dry.Planned = func(p PlannedRow) error {
			planned = append(planned, fmt.Sprintf("%d %s %+d %s %s %s", p.EnrollmentID, p.AnniversaryOn, p.OffsetDays,
				deref(p.Recipient), p.Status, deref(p.LastError)))
			return nil
		}
		before, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		if _, err := dry.Scan(ctx, from, to, DryRun, now); err != nil {
			t.Fatal(err)
		}
		if after, _ := storetest.Outbox(db).List(ctx, store.Filter{}); len(after) != len(before) {
			t.Fatalf("the dry run wrote: %d rows before, %d after", len(before), len(after))
		}
		if _, err := tk.Scanner.Scan(ctx, from, to, Queue, now); err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, r := range before {
			seen[r.ID] = true
		}
		all, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		var written []string
		statuses := map[string]int{}
		for _, r := range all {
			if seen[r.ID] {
				continue
			}
			written = append(written, fmt.Sprintf("%d %s %+d %s %s %s", r.EnrollmentID, r.AnniversaryOn, r.OffsetDays,
				deref(r.Recipient), r.Status, deref(r.LastError)))
			statuses[string(r.Status)]++
		}
		for _, s := range []store.Status{store.StatusPending, store.StatusSuperseded, store.StatusCancelled, store.StatusExpired, store.StatusNoRecipients} {
			if statuses[string(s)] == 0 {
				t.Errorf("the range wrote no %s row (%v): the test does not cover it", s, statuses)
			}
		}
		sort.Strings(planned)
		sort.Strings(written)
		if strings.Join(planned, "\n") != strings.Join(written, "\n") {
			t.Errorf("dry run planned %d rows, the real run wrote %d; first difference: %s", len(planned), len(written), firstDiff(planned, written))
		}
	})
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("dry %q vs real %q", a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// TestAdminImportedAfterTodaysTickIsMailedToday is issue 25 item 4: a partner without an admin gets a
// no_recipients record from the morning's tick; an import at noon gives it one; a second tick that
// same day queues the reminder to the new admin, though it scans no date.
func TestAdminImportedAfterTodaysTickIsMailedToday(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		p := &renewal.Partner{ID: "1", Name: "A", UsersGiven: true,
			Users:       []renewal.User{{Email: "billing@a.example", Roles: []string{"Billing admin"}}},
			Enrollments: []renewal.Enrollment{{Specialization: "Finance", AttainedOn: renewal.NewDate(2023, 6, 1), Status: renewal.StatusActive}}}
		if _, err := db.Import(ctx, []*renewal.Partner{p}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		tk := newTicker(db, 7, io.Discard)
		day := renewal.NewDate(2026, 6, 1).AddDays(-60)
		if res, err := tk.Tick(ctx, day.Time(time.UTC).Add(6*time.Hour), false); err != nil || res.Scan.NoRecipients != 1 {
			t.Fatalf("morning tick %+v %v", res.Scan, err)
		}
		p.Users = append(p.Users, renewal.User{Email: "ada@a.example", Roles: []string{"Global admin"}})
		// A second enrollment arrives with the import too.
		p.Enrollments = append(p.Enrollments, renewal.Enrollment{Specialization: "Sales", AttainedOn: renewal.NewDate(2024, 4, 1), Status: renewal.StatusActive})
		if _, err := db.Import(ctx, []*renewal.Partner{p}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		res, err := tk.Tick(ctx, day.Time(time.UTC).Add(12*time.Hour), false)
		if err != nil || res.Scan.Dates != 0 {
			t.Fatalf("noon tick %+v %v", res.Scan, err)
		}
		rows, _ := storetest.Outbox(db).List(ctx, store.Filter{Status: store.StatusPending})
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s %s %+d", r.Specialization, deref(r.Recipient), r.OffsetDays))
		}
		sort.Strings(got)
		if want := "[Finance ada@a.example -60 Sales ada@a.example +0]"; fmt.Sprint(got) != want {
			t.Errorf("pending after the noon tick: %v, want %s", got, want)
		}
	})
}

// TestTimezoneChangedWestwards is issue 25 item 5: ticks under Pacific/Kiritimati (UTC+14), then the
// zone becomes Pacific/Pago_Pago (UTC−11), so the recorded date is a day or two after today. Each
// tick exits cleanly, the change is logged once, no date is scanned twice and nothing is queued twice;
// a clock that was really wrong is still reported.
func TestTimezoneChangedWestwards(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ps := everyDayDataset(t, db)
		var logs syncBuf
		tk := newTicker(db, 7, &logs)
		east, west := mustZone(t, "Pacific/Kiritimati"), mustZone(t, "Pacific/Pago_Pago")
		setZone := func(loc *time.Location) { tk.Location, tk.Scanner.Location = loc, loc }
		setZone(east)
		at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // 2026-12-02 in Kiritimati
		if _, err := tk.Tick(ctx, at, false); err != nil {
			t.Fatal(err)
		}
		setZone(west)
		scanned := map[renewal.Date]int{}
		for h := 1; h <= 24*5; h += 6 {
			now := at.Add(time.Duration(h) * time.Hour)
			res, err := tk.Tick(ctx, now, false)
			if err != nil || res.ScanAhead != 0 {
				t.Fatalf("tick at %s (%s in Pago Pago): %+v %v", now, renewal.DateOf(now, west), res, err)
			}
			for d := res.Scan.From; res.Scan.Dates > 0 && !d.After(res.Scan.To); d = d.AddDays(1) {
				scanned[d]++
			}
		}
		for d, n := range scanned {
			if n != 1 || !d.After(renewal.NewDate(2026, 12, 2)) {
				t.Errorf("%s scanned %d times", d, n)
			}
		}
		if n := strings.Count(logs.String(), "schedule.timezone changed"); n != 1 {
			t.Errorf("zone change logged %d times:\n%s", n, logs.String())
		}
		// Nothing twice: every key once, every reminder of the scanned dates present.
		rows, _ := storetest.Outbox(db).List(ctx, store.Filter{})
		seen := map[string]bool{}
		for _, r := range rows {
			k := fmt.Sprintf("%d %s %d %s", r.EnrollmentID, r.AnniversaryOn, r.OffsetDays, deref(r.Recipient))
			if seen[k] {
				t.Errorf("queued twice: %s", k)
			}
			seen[k] = true
		}
		want := expected(ps, renewal.NewDate(2026, 12, 3), renewal.NewDate(2026, 12, 5))
		have := map[key]bool{}
		for _, r := range rows {
			have[key{r.PartnerID, r.AnniversaryOn, r.OffsetDays}] = true
		}
		for k := range want {
			if !have[k] {
				t.Errorf("reminder %v of a scanned date missing", k)
			}
		}
		// A clock that was ahead is still told apart: a tick recorded in the future, then the clock back.
		if _, err := tk.Tick(ctx, time.Date(2027, 1, 5, 6, 0, 0, 0, time.UTC), false); err != nil {
			t.Fatal(err)
		}
		if res, err := tk.Tick(ctx, time.Date(2026, 12, 10, 6, 0, 0, 0, time.UTC), false); !errors.Is(err, ErrScanStateAhead) || res.ScanAhead == 0 {
			t.Errorf("wrong clock not reported: %+v %v", res, err)
		}
	})
}
