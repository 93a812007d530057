package store

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 1, 20, 6, 0, 0, 0, time.UTC)
	d   = renewal.MustParseDate
)

// MustOpenDB opens a fresh database file in a temporary directory and closes it after the test.
func MustOpenDB(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "renewald.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func samplePartners() []*renewal.Partner {
	return []*renewal.Partner{{
		ID: "4761234", Name: "Contoso Ltd", UsersGiven: true,
		Users: []renewal.User{
			{Email: "ada@contoso.example", Name: "Ada", Roles: []string{"Global admin", "MPN Partner Admin"}},
			{Email: "bob@contoso.example", Name: "Bob", Roles: []string{"Referrals admin"}},
		},
		Enrollments: []renewal.Enrollment{
			{Specialization: "Kubernetes on Microsoft Azure", AttainedOn: d("2023-05-20"), Status: renewal.StatusActive},
			{Specialization: "Threat Protection", AttainedOn: d("2024-02-29"), Status: renewal.StatusActive},
		},
		ScoresGiven: true,
		Scores: []renewal.CapabilityScore{{Designation: "Solutions Partner for Security",
			Enterprise: map[string]int{"performance": 40, "skilling_intermediate": 10, "skilling_advanced": 10, "customer_success": 10}}},
	}}
}

func TestOpenCreatesPrivateFileAndMigrates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, err %v", fi.Mode(), err)
	}
	v, err := db.SchemaVersion(ctx)
	files, _ := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || v != len(files) || v < 3 {
		t.Fatalf("schema version %d of %d migrations, %v", v, len(files), err)
	}
	var mode string
	if err := db.db.Get(&mode, "PRAGMA journal_mode"); err != nil || mode != "wal" {
		t.Errorf("journal mode %q %v", mode, err)
	}
	var fk int
	if err := db.db.Get(&fk, "PRAGMA foreign_keys"); err != nil || fk != 1 {
		t.Errorf("foreign keys %d %v", fk, err)
	}
	db.Close()
	// Reopening applies nothing twice.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.db.Get(&n, "SELECT count(*) FROM schema_migrations")
	if files, _ := fs.Glob(migrationFiles, "migrations/*.sql"); n != len(files) {
		t.Errorf("%d migrations recorded of %d", n, len(files))
	}
}

// dump returns every table's content in a stable order, for comparing databases.
func dump(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT id || '|' || name FROM partners ORDER BY id",
		"SELECT partner_id || '|' || email || '|' || name FROM users ORDER BY 1",
		"SELECT partner_id || '|' || email || '|' || role_key FROM user_roles ORDER BY 1",
		"SELECT partner_id || '|' || specialization || '|' || attained_on || '|' || anniversary_md || '|' || status FROM enrollments ORDER BY 1",
		"SELECT partner_id || '|' || designation || '|' || coalesce(enterprise, '-') || '|' || coalesce(smb, '-') FROM capability_scores ORDER BY 1",
		"SELECT enrollment_id || '|' || offset_days || '|' || recipient || '|' || status FROM outbox ORDER BY 1",
	} {
		var rows []string
		if err := db.db.Select(&rows, q); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(rows, "\n") + "\n--\n")
	}
	return b.String()
}

func TestImportTwiceChangesNothing(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		before := dump(t, db)
		if _, err := db.Import(ctx, samplePartners(), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if after := dump(t, db); after != before {
			t.Errorf("second import changed the database:\n%s\nvs\n%s", before, after)
		}
		if !strings.Contains(before, "4761234|ada@contoso.example|mpn partner admin") {
			t.Errorf("roles not keyed: %s", before)
		}
	})
}

func TestImportReplacesUsersAndRemovesEnrollment(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		enqueueSample(t, db)
		p := samplePartners()
		p[0].Users = p[0].Users[:1]
		p[0].Enrollments[0].Status = renewal.StatusRemoved
		res, err := db.Import(ctx, p, t0)
		if err != nil {
			t.Fatal(err)
		}
		if res.RemovedEnrollments != 1 || res.CancelledReminders != 1 {
			t.Errorf("result %+v", res)
		}
		out := dump(t, db)
		if strings.Contains(out, "bob@") {
			t.Errorf("user list not replaced: %s", out)
		}
		rows, _ := newOutbox(db).List(ctx, Filter{})
		if len(rows) != 1 || rows[0].Status != StatusCancelled || *rows[0].LastError != "enrollment removed" {
			t.Errorf("rows %+v", rows)
		}
	})
}

func TestImportRollsBackOnError(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		p := samplePartners()
		// A second partner whose enrollment violates the status check: the whole import must roll back.
		p = append(p, &renewal.Partner{ID: "2", Name: "Bad", Enrollments: []renewal.Enrollment{
			{Specialization: "Finance", AttainedOn: d("2023-01-01"), Status: "paused"}}})
		if _, err := db.Import(ctx, p, t0); err == nil {
			t.Fatal("import succeeded")
		}
		if out := dump(t, db); strings.Trim(out, "-\n") != "" {
			t.Errorf("partial write: %q", out)
		}
	})
}

// enqueueSample queues one pending reminder for the first enrollment and returns it.
func enqueueSample(t *testing.T, db *DB) OutboxItem {
	t.Helper()
	ms := renewal.DefaultRules().Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2026-01-20"), d("2026-01-20"))
	it := OutboxItem{EnrollmentID: 1, Milestone: ms[0], Recipient: "ada@contoso.example", Status: StatusPending,
		MessageID: renewal.MessageID(1, ms[0].Anniversary, ms[0].Offset, "ada@contoso.example", "example.com")}
	st, err := db.Enqueue(ctx, []OutboxItem{it}, t0)
	if err != nil || st.Queued != 1 {
		t.Fatalf("enqueue: %+v %v", st, err)
	}
	return it
}

func TestEnqueueIsIdempotent(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		it := enqueueSample(t, db)
		noRcpt := it
		noRcpt.Recipient, noRcpt.Status = "", StatusNoRecipients
		for i := 0; i < 2; i++ {
			st, err := db.Enqueue(ctx, []OutboxItem{it, noRcpt}, t0)
			if err != nil {
				t.Fatal(err)
			}
			want := EnqueueStats{Existing: 1, NoRecipients: 1}
			if i == 1 {
				want = EnqueueStats{Existing: 2}
			}
			if st != want {
				t.Errorf("round %d: %+v, want %+v", i, st, want)
			}
		}
		rows, _ := newOutbox(db).List(ctx, Filter{})
		if len(rows) != 2 {
			t.Fatalf("%d rows, want 2", len(rows))
		}
		var nulls int
		for _, r := range rows {
			if r.Recipient == nil {
				nulls++
			}
		}
		if nulls != 1 {
			t.Errorf("no_recipients row should list a null recipient: %+v", rows)
		}
	})
}

func TestEnqueueSupersedesPending(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		first := enqueueSample(t, db) // -120
		ms := renewal.DefaultRules().Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2026-02-19"), d("2026-02-19"))
		later := OutboxItem{EnrollmentID: 1, Milestone: ms[0], Recipient: first.Recipient, Status: StatusPending, MessageID: "<m2@x>"}
		st, err := db.Enqueue(ctx, []OutboxItem{later}, t0)
		if err == nil {
			err = db.MarkScanned(ctx, d("2026-02-19"))
		}
		if err != nil || st.Queued != 1 || st.Superseded != 1 {
			t.Fatalf("%+v %v", st, err)
		}
		rows, _ := newOutbox(db).List(ctx, Filter{})
		if rows[0].Status != StatusSuperseded || rows[1].Status != StatusPending || rows[1].OffsetDays != -90 {
			t.Errorf("rows %+v", rows)
		}
		last, ok, err := db.LastScanned(ctx)
		if err != nil || !ok || last != d("2026-02-19") {
			t.Errorf("last scanned %s %v %v", last, ok, err)
		}
		// The scan state never moves back.
		if err := db.MarkScanned(ctx, d("2026-01-01")); err != nil {
			t.Fatal(err)
		}
		if last, _, _ := db.LastScanned(ctx); last != d("2026-02-19") {
			t.Errorf("scan state moved back to %s", last)
		}
	})
}

// explainDueQuery returns SQLite's query plan for the scan query.
func explainDueQuery(ctx context.Context, s *DB) (string, error) {
	rows, err := s.db.QueryxContext(ctx, "EXPLAIN QUERY PLAN "+dueQuery, "02-28", 0, 100)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		plan += detail + "\n"
	}
	return plan, rows.Err()
}

func TestDueQueryUsesMonthDayIndex(t *testing.T) {
	db := MustOpenDB(t)
	plan, err := explainDueQuery(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "USING COVERING INDEX enrollments_due (anniversary_md=? AND id>?)") {
		t.Errorf("due query does not search the month-day index:\n%s", plan)
	}
	if strings.Contains(plan, "SCAN") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("due query scans or sorts:\n%s", plan)
	}
}

func TestDueEnrollmentsPaging(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		var ps []*renewal.Partner
		for i := 0; i < 5; i++ {
			p := &renewal.Partner{ID: string(rune('a' + i)), Name: "P"}
			p.Enrollments = []renewal.Enrollment{
				{Specialization: "Finance", AttainedOn: d("2024-02-29"), Status: renewal.StatusActive},
				{Specialization: "Sales", AttainedOn: d("2023-03-01"), Status: renewal.StatusActive},
			}
			ps = append(ps, p)
		}
		ps[4].Enrollments[0].Status = renewal.StatusRemoved
		if _, err := db.Import(ctx, ps, t0); err != nil {
			t.Fatal(err)
		}
		var got []int64
		var after int64
		for {
			page, err := db.DueEnrollments(ctx, "02-29", after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				got = append(got, e.ID)
			}
			after = page[len(page)-1].ID
		}
		if len(got) != 4 {
			t.Errorf("got %v, want the 4 active leap-day enrollments", got)
		}
	})
}

func TestClaimMarkAndRecheck(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		enqueueSample(t, db)
		ob := &Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: 5 * time.Minute}
		rules := renewal.DefaultRules()
		got, _, _, err := ob.Claim(ctx, t0, d("2026-01-20"), 10, rules.ExpiryOn(d("2026-01-20")))
		if err != nil || len(got) != 1 {
			t.Fatalf("claim: %v %v", got, err)
		}
		r := got[0]
		if r.PartnerName != "Contoso Ltd" || r.RecipientName != "Ada" || r.Attempts != 1 || r.Milestone.Anniversary != d("2026-05-20") {
			t.Errorf("reminder %+v", r)
		}
		// The store returns what the row stores; the window follows from the rules.
		if !r.Milestone.WindowOpens.IsZero() || rules.Complete(r).Milestone.WindowOpens != d("2026-03-21") {
			t.Errorf("window opens %s as claimed, %s completed", r.Milestone.WindowOpens, rules.Complete(r).Milestone.WindowOpens)
		}
		// Claimed rows are not claimed again before the lease expires; after it, they are.
		if again, _, _, _ := ob.Claim(ctx, t0.Add(time.Minute), d("2026-01-20"), 10, rules.ExpiryOn(d("2026-01-20"))); len(again) != 0 {
			t.Errorf("claimed twice within the lease: %v", again)
		}
		again, _, _, err := ob.Claim(ctx, t0.Add(6*time.Minute), d("2026-01-20"), 10, rules.ExpiryOn(d("2026-01-20")))
		if err != nil || len(again) != 1 || again[0].Attempts != 2 || again[0].MessageID != r.MessageID {
			t.Fatalf("re-claim after lease: %+v %v", again, err)
		}
		if err := ob.MarkRetry(ctx, r.OutboxID, t0, t0.Add(time.Hour), "451 try later"); err != nil {
			t.Fatal(err)
		}
		if err := ob.MarkSent(ctx, r.OutboxID, t0, "s"); err == nil {
			t.Error("marked a row that is not sending")
		}
		if got, _, _, _ := ob.Claim(ctx, t0.Add(30*time.Minute), d("2026-01-20"), 10, rules.ExpiryOn(d("2026-01-20"))); len(got) != 0 {
			t.Errorf("claimed before next_attempt_at")
		}
		got, _, _, _ = ob.Claim(ctx, t0.Add(61*time.Minute), d("2026-01-20"), 10, rules.ExpiryOn(d("2026-01-20")))
		if len(got) != 1 {
			t.Fatal("not claimed after next_attempt_at")
		}
		if err := ob.MarkSent(ctx, r.OutboxID, t0.Add(61*time.Minute), "Subject"); err != nil {
			t.Fatal(err)
		}
		row, _ := newOutbox(db).Get(ctx, r.OutboxID)
		if row.Status != StatusSent || row.SentAt == nil || *row.Subject != "Subject" || row.Attempts != 3 {
			t.Errorf("row %+v", row)
		}

		// A recipient who lost the role is cancelled at claim time.
		p := samplePartners()
		p[0].Users[0].Roles = []string{"Referrals admin"}
		if _, err := db.Import(ctx, p, t0); err != nil {
			t.Fatal(err)
		}
		ms := rules.Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2026-02-19"), d("2026-02-19"))
		if _, err := db.Enqueue(ctx, []OutboxItem{{EnrollmentID: 1, Milestone: ms[0], Recipient: "ada@contoso.example", Status: StatusPending, MessageID: "<x@y>"}}, t0); err != nil {
			t.Fatal(err)
		}
		if got, _, _, _ := ob.Claim(ctx, t0.AddDate(0, 0, 30), d("2026-02-19"), 10, rules.ExpiryOn(d("2026-02-19"))); len(got) != 0 {
			t.Errorf("claimed for a recipient without the role: %+v", got)
		}
		rows, _ := newOutbox(db).List(ctx, Filter{Status: StatusCancelled})
		if len(rows) != 1 || *rows[0].LastError != "recipient no longer holds a recipient role" {
			t.Errorf("cancelled rows %+v", rows)
		}
	})
}

func TestOperatorActions(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		enqueueSample(t, db)
		if err := newOutbox(db).Retry(ctx, 1, t0); err == nil || !strings.Contains(err.Error(), "is pending") {
			t.Errorf("retry of pending: %v", err)
		}
		if err := newOutbox(db).Cancel(ctx, 1, t0); err != nil {
			t.Fatal(err)
		}
		if err := newOutbox(db).Retry(ctx, 1, t0); err != nil {
			t.Fatal(err)
		}
		if err := newOutbox(db).Cancel(ctx, 99, t0); err == nil {
			t.Error("cancel of a missing row succeeded")
		}
		counts, _ := newOutbox(db).CountByStatus(ctx)
		if counts[StatusPending] != 1 || counts[StatusSent] != 0 {
			t.Errorf("counts %v", counts)
		}
	})
}

// TestClaimNothingEarlyNothingStale pins R13 in the store: a row is not claimed before its due date
// in the configured zone, and a row whose renewal's grace period ended before today is expired, not
// claimed, with the end date in last_error; on the last day of grace it is still claimed.
func TestClaimNothingEarlyNothingStale(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		rules := renewal.DefaultRules()
		// Enrollment 1 was attained 2023-05-20: the 2026 anniversary's grace period ends 2026-06-19.
		ms := rules.Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2026-01-20"), d("2026-06-19"))
		if len(ms) != 6 {
			t.Fatalf("%d milestones", len(ms))
		}
		setup := func(t *testing.T) (*DB, *Outbox) {
			db := openEngine(t, engine)
			if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
				t.Fatal(err)
			}
			return db, &Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: time.Minute}
		}
		enqueue := func(t *testing.T, db *DB, m renewal.Milestone) {
			it := OutboxItem{EnrollmentID: 1, Milestone: m, Recipient: "ada@contoso.example", Status: StatusPending,
				MessageID: renewal.MessageID(1, m.Anniversary, m.Offset, "ada@contoso.example", "example.com")}
			if st, err := db.Enqueue(ctx, []OutboxItem{it}, t0); err != nil || st.Queued != 1 {
				t.Fatalf("enqueue %+v %v", st, err)
			}
		}
		t.Run("not before the due date", func(t *testing.T) {
			db, ob := setup(t)
			for _, m := range ms {
				enqueue(t, db, m)
				// The evening before, even at a UTC instant already on the due date.
				at := m.DueOn.Time(time.UTC).Add(-2 * time.Hour)
				if got, _, _, _ := ob.Claim(ctx, at, m.DueOn.AddDays(-1), 10, rules.ExpiryOn(m.DueOn.AddDays(-1))); len(got) != 0 {
					t.Fatalf("claimed %s on %s, the day before it is due", got[0].Milestone.DueOn, m.DueOn.AddDays(-1))
				}
				got, _, _, err := ob.Claim(ctx, m.DueOn.Time(time.UTC), m.DueOn, 10, rules.ExpiryOn(m.DueOn))
				if err != nil || len(got) != 1 || got[0].Milestone.DueOn != m.DueOn {
					t.Fatalf("claim on %s: %+v %v", m.DueOn, got, err)
				}
				if err := ob.MarkSent(ctx, got[0].OutboxID, m.DueOn.Time(time.UTC), "s"); err != nil {
					t.Fatal(err)
				}
			}
		})
		last := ms[len(ms)-1] // +30, due on the last day of grace
		t.Run("last day of grace still sends", func(t *testing.T) {
			db, ob := setup(t)
			enqueue(t, db, last)
			got, _, expired, err := ob.Claim(ctx, t0, d("2026-06-19"), 10, rules.ExpiryOn(d("2026-06-19")))
			if err != nil || len(got) != 1 || expired != 0 {
				t.Fatalf("claim on the last day: %d rows, %d expired, %v", len(got), expired, err)
			}
		})
		t.Run("expired after grace", func(t *testing.T) {
			db, ob := setup(t)
			enqueue(t, db, last)
			got, _, expired, err := ob.Claim(ctx, t0, d("2026-06-20"), 10, rules.ExpiryOn(d("2026-06-20")))
			if err != nil || len(got) != 0 || expired != 1 {
				t.Fatalf("claim after grace: %d rows, %d expired, %v", len(got), expired, err)
			}
			rows, _ := newOutbox(db).List(ctx, Filter{Status: StatusExpired})
			if len(rows) != 1 || *rows[0].LastError != "grace period ended on 2026-06-19 before it could be sent" {
				t.Fatalf("expired rows %+v", rows)
			}
			n, _ := newOutbox(db).CountByStatus(ctx)
			if n[StatusExpired] != 1 || n[StatusPending] != 0 {
				t.Errorf("counts %v", n)
			}
		})
	})
}

// TestCorrectedAttainmentReplacesTheEnrollment pins R1's one active enrollment per partner and
// specialization: importing it again with another attained_on removes the old one, cancels its
// waiting reminders and says so; the partner gets one series.
func TestCorrectedAttainmentReplacesTheEnrollment(t *testing.T) {
	db := MustOpenDB(t)
	if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
		t.Fatal(err)
	}
	enqueueSample(t, db) // a pending reminder of the Kubernetes enrollment attained 2023-05-20
	p := samplePartners()
	p[0].Enrollments = []renewal.Enrollment{{Specialization: "Kubernetes on Microsoft Azure", AttainedOn: d("2023-05-30"), Status: renewal.StatusActive}}
	res, err := db.Import(ctx, p, t0)
	if err != nil || res.ReplacedEnrollments != 1 || res.CancelledReminders != 1 {
		t.Fatalf("re-import: %+v %v", res, err)
	}
	var active []string
	db.db.Select(&active, `SELECT attained_on FROM enrollments WHERE partner_id = '4761234' AND specialization = 'Kubernetes on Microsoft Azure' AND status = 'active'`)
	if len(active) != 1 || active[0] != "2023-05-30" {
		t.Errorf("active enrollments %v", active)
	}
	rows, _ := newOutbox(db).List(ctx, Filter{Status: StatusCancelled})
	if len(rows) != 1 || !strings.Contains(*rows[0].LastError, "enrollment replaced: Kubernetes on Microsoft Azure is now attained on 2023-05-30, not 2023-05-20") {
		t.Errorf("cancelled %+v", rows)
	}
	// Importing the same again changes nothing.
	if res, err := db.Import(ctx, p, t0); err != nil || res.ReplacedEnrollments != 0 {
		t.Errorf("idempotent re-import: %+v %v", res, err)
	}
}

// TestOldestWaiting: the oldest-waiting age counts from when a row became claimable — the tick that
// queued it on its due date, its due date when it was queued ahead, its first claim once claimed —
// not from midnight of the due date (which made the 6 h alert fire 15 minutes after a 06:00 tick).
func TestOldestWaiting(t *testing.T) {
	db := MustOpenDB(t)
	if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := newOutbox(db).OldestWaiting(ctx); ok {
		t.Error("something waits in an empty outbox")
	}
	enqueueSample(t, db) // due 2026-01-20, queued at t0 = 2026-01-20T06:00:00Z by the tick
	since, ok, err := newOutbox(db).OldestWaiting(ctx)
	if err != nil || !ok || !since.Equal(t0) {
		t.Errorf("since %s %v %v, want the tick at %s", since, ok, err, t0)
	}
	ob := &Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: time.Minute}
	claimAt := t0.Add(2 * time.Hour)
	if got, _, _, err := ob.Claim(ctx, claimAt, d("2026-01-20"), 10, renewal.DefaultRules().ExpiryOn(d("2026-01-20"))); err != nil || len(got) != 1 {
		t.Fatal(err)
	}
	if since, _, _ := newOutbox(db).OldestWaiting(ctx); !since.Equal(claimAt) {
		t.Errorf("since %s, want the first claim at %s", since, claimAt)
	}
}

// TestCopyTablesCoverTheSchema: the SQLite → PostgreSQL copy names every table and every column of
// the schema, so a later migration cannot be left out of it (a missed table is data lost on moving).
func TestCopyTablesCoverTheSchema(t *testing.T) {
	db := MustOpenDB(t)
	var tables []string
	if err := db.db.Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, ct := range copyTables {
		listed[ct.name] = ct.columns
	}
	for _, tb := range tables {
		if slices.Contains(derivedTables, tb) {
			continue
		}
		cols, ok := listed[tb]
		if !ok {
			t.Errorf("table %s is not copied", tb)
			continue
		}
		var names []string
		if err := db.db.Select(&names, `SELECT name FROM pragma_table_info(?)`, tb); err != nil {
			t.Fatal(err)
		}
		for _, c := range names {
			if !slices.Contains(strings.Split(strings.ReplaceAll(cols, " ", ""), ","), c) {
				t.Errorf("column %s.%s is not copied", tb, c)
			}
		}
	}
}
