package store

import (
	"errors"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/pgtest"
	"github.com/renewald/renewald/renewal"
)

// TestCopySQLiteToPostgres fills a SQLite database with every kind of row (partners, users and roles,
// scores, enrollments, outbox rows sent, failed, pending and sending, a recorded outcome, the scan
// state), copies it into an empty PostgreSQL database, and compares every table; the copy then
// works as a store (new ids continue after the copied ones) and a second copy is refused.
func TestCopySQLiteToPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	src := openEngine(t, SQLite)
	if _, err := src.Import(ctx, samplePartners(), t0); err != nil {
		t.Fatal(err)
	}
	rules := renewal.DefaultRules()
	var items []OutboxItem
	for _, m := range rules.Milestones(d("2023-05-20"), renewal.ValidationAudit, d("2025-01-01"), d("2026-01-20")) {
		items = append(items, OutboxItem{EnrollmentID: 1, Milestone: m, Recipient: "ada@contoso.example", Status: StatusPending,
			MessageID: renewal.MessageID(1, m.Anniversary, m.Offset, "ada@contoso.example", "example.com")})
	}
	if _, err := src.Enqueue(ctx, items, t0); err != nil {
		t.Fatal(err)
	}
	if err := src.MarkScanned(ctx, d("2026-01-20")); err != nil {
		t.Fatal(err)
	}
	if _, err := src.RecordRenewal(ctx, renewal.Outcome{PartnerID: "4761234", Specialization: "Kubernetes on Microsoft Azure",
		Anniversary: d("2025-05-20"), RenewedOn: d("2025-04-01")}, t0); err != nil {
		t.Fatal(err)
	}
	ob := newOutbox(src)
	claimed, _, _, err := ob.Claim(ctx, t0, d("2026-01-20"), 10, rules.ExpiryOn(d("2026-01-20")))
	if err != nil || len(claimed) == 0 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if err := ob.MarkSent(ctx, claimed[0].OutboxID, t0.Add(time.Minute), "Subject"); err != nil {
		t.Fatal(err)
	}
	want, err := src.TableDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	stats, err := src.CopyTo(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.TableDump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, rows := range want {
		if !reflect.DeepEqual(got[table], rows) {
			t.Errorf("table %s differs after the copy:\nSQLite     %q\nPostgreSQL %q", table, rows, got[table])
		}
		if stats[table] != len(rows) {
			t.Errorf("table %s: copied %d rows of %d", table, stats[table], len(rows))
		}
		if table == "outbox" && len(rows) < 2 {
			t.Errorf("outbox too small to test: %q", rows)
		}
	}
	// The counts kept beside the tables are those of the rows copied.
	srcCounts, err1 := newOutbox(src).CountByStatus(ctx)
	dstCounts, err2 := newOutbox(dst).CountByStatus(ctx)
	if err := errors.Join(err1, err2); err != nil || !maps.Equal(srcCounts, dstCounts) {
		t.Errorf("outbox counts %v after the copy, %v before (%v)", dstCounts, srcCounts, err)
	}
	checkAnniversaryCounts(t, dst, activeCount(t, src))
	// The copy is a working store: a new enrollment and its reminder get ids after the copied ones.
	more := samplePartners()
	more[0].Enrollments = append(more[0].Enrollments, renewal.Enrollment{Specialization: "Finance", AttainedOn: d("2024-03-01"), Status: renewal.StatusActive})
	if _, err := dst.Import(ctx, more, t0); err != nil {
		t.Fatal(err)
	}
	active, err := dst.ActiveEnrollments(ctx, 0, 10)
	if err != nil || len(active) != 3 || active[2].Specialization != "Finance" || active[2].ID <= 2 {
		t.Fatalf("enrollments after the copy: %+v %v", active, err)
	}
	m := rules.Milestones(d("2024-03-01"), renewal.ValidationNone, d("2026-01-01"), d("2026-12-31"))[0]
	if st, err := dst.Enqueue(ctx, []OutboxItem{{EnrollmentID: active[2].ID, Milestone: m, Recipient: "ada@contoso.example", Status: StatusPending,
		MessageID: "new"}}, t0); err != nil || st.Queued != 1 {
		t.Fatalf("enqueue after the copy: %+v %v", st, err)
	}
	if _, err := src.CopyTo(ctx, dst); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second copy: %v, want ErrNotEmpty", err)
	}
}

func activeCount(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.db.GetContext(ctx, &n, `SELECT count(*) FROM enrollments WHERE status = 'active'`); err != nil {
		t.Fatal(err)
	}
	return n
}
