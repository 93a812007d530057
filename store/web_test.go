package store

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/renewald/renewald/renewal"
)

func explain(t *testing.T, s *DB, q string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryxContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += detail + "\n"
	}
	return plan
}

// fullScan matches a plan line that reads a whole table (SCAN without an index).
var fullScan = regexp.MustCompile(`(?m)^SCAN \w+( AS \w+)?$`)

// TestWebQueriesUseIndexes pins the plans of the status pages' queries: every one searches an index
// (or walks one in order under a LIMIT); none scans a table.
func TestWebQueriesUseIndexes(t *testing.T) {
	db := MustOpenDB(t)
	d := renewal.MustParseDate
	type tc struct {
		name, q string
		args    []any
		want    string
	}
	var cases []tc
	for _, f := range []struct {
		name string
		f    Filter
		c    Cursor
		want string
	}{
		{"list", Filter{}, Cursor{}, "outbox_due"},
		{"list after", Filter{}, Cursor{DueOn: "2026-01-01", ID: 5}, "outbox_due"},
		{"list status", Filter{Status: "failed"}, Cursor{DueOn: "2026-01-01", ID: 5}, "outbox_status_due (status=?"},
		{"list dates", Filter{DueFrom: d("2026-01-01"), DueTo: d("2026-02-01")}, Cursor{}, "outbox_due (due_on>? AND due_on<?)"},
		{"list partner", Filter{PartnerID: "p1"}, Cursor{}, "(partner_id=?)"},
	} {
		q, args := listQuery(f.f, f.c, 101)
		cases = append(cases, tc{f.name, q, args, f.want})
	}
	pq, pargs := enrollmentsQuery("p1", true, 0, 1000)
	// (The outbox counts are read from outbox_counts, one row per status: scanning it is bounded.)
	cases = append(cases, tc{"partner enrollments", pq, pargs, "sqlite_autoindex_enrollments_1 (partner_id=?)"})
	rq, rargs := enrollmentsOnQuery("05-01", AnniversaryQuery{On: d("2026-05-01"), Limit: 200, RiskListOnly: true})
	cases = append(cases, tc{"risk list on", rq, rargs, "renewal_risks_md (anniversary_md=? AND enrollment_id>?)"})
	eq, eargs := enrollmentsOnQuery("05-01", AnniversaryQuery{On: d("2026-05-01"), Limit: 200, Specializations: []string{"Finance"}})
	cases = append(cases,
		tc{"enrollments on", eq, eargs, "enrollments_due (anniversary_md=? AND id>?)"},
		tc{"latest retry", `SELECT id, coalesce(last_error, '') AS last_error, next_attempt_at, attempts
		FROM outbox INDEXED BY outbox_ready WHERE status IN ('pending', 'sending') AND status = 'pending'
		AND next_attempt_at IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1`, nil, "outbox_ready (status=? AND next_attempt_at>?)"},
	)
	rcq, rcargs, _ := sqlx.In(partnerHasRecipientQuery, "p1", []string{"global admin", "mpn partner admin"})
	cases = append(cases,
		tc{"partner user count", partnerUserCountQuery, []any{"p1", 10001}, "sqlite_autoindex_users_1 (partner_id=?)"},
		tc{"partner has recipients", rcq, rcargs, "(partner_id=?"},
	)
	// A page of users: the subquery's 100 rows are walked whole (SCAN u), found by the users' key.
	if plan := explain(t, db, partnerUsersQuery, "p1", "", 101, "p1"); !strings.Contains(plan, "SEARCH users USING INDEX sqlite_autoindex_users_1 (partner_id=? AND email>?)") ||
		!strings.Contains(plan, "sqlite_autoindex_user_roles_1 (partner_id=? AND email=?)") || strings.Count(plan, "SCAN") != 1 || !strings.Contains(plan, "SCAN u\n") {
		t.Errorf("partner users page:\n%s", plan)
	}
	sq, sargs, err := reminderStatusesQuery([]int64{1, 2, 3}, d("2026-01-01"), d("2026-12-31"))
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{"reminder statuses", sq, sargs, "sqlite_autoindex_outbox_1 (enrollment_id=? AND anniversary_on>? AND anniversary_on<?)"})
	wq, wargs, err := partnersWithRecipientsQuery([]string{"p1", "p2"}, []string{"global admin", "mpn partner admin"})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{"partners with recipients", wq, wargs, "user_roles_by_key (partner_id=? AND role_key=?)"})
	for _, c := range cases {
		plan := explain(t, db, c.q, c.args...)
		// "c" is a subquery under a LIMIT (the bounded counts): walking it whole is bounded.
		if !strings.Contains(plan, c.want) || fullScan.MatchString(strings.ReplaceAll(plan, "SCAN c\n", "")) {
			t.Errorf("%s: plan does not use %q, or scans a table:\n%s", c.name, c.want, plan)
		}
	}
	// The derived tables are read whole: one row per status, per attainment month-day and year (at most
	// 366 × the years attained), one state row. Nothing else may be scanned.
	for _, c := range []struct{ name, q, scans string }{
		{"outbox counts", outboxCountsQuery, "SCAN outbox_counts"},
		{"anniversary counts", anniversaryCountsQuery, "SCAN anniversary_counts"},
		{"risk list state", riskListCurrentQuery, ""},
		{"partner names", `SELECT id, name FROM partners WHERE id IN (?, ?)`, ""},
	} {
		plan := explain(t, db, c.q, argsFor(c.q)...)
		for _, m := range fullScan.FindAllString(plan, -1) {
			if m != c.scans {
				t.Errorf("%s: %q; only %q may be scanned:\n%s", c.name, m, c.scans, plan)
			}
		}
	}
}

// argsFor gives a query as many "x" arguments as it has placeholders.
func argsFor(q string) []any {
	var args []any
	for range strings.Count(q, "?") {
		args = append(args, "x")
	}
	return args
}

func TestOpenReadOnlyWritesNothing(t *testing.T) {
	ctx := context.Background()
	rw := MustOpenDB(t)
	if _, err := rw.Import(ctx, samplePartners(), t0); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, rw.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := newOutbox(ro).CountByStatus(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.db.ExecContext(ctx, `DELETE FROM partners`); err == nil {
		t.Error("a read-only store deleted rows")
	}
	if _, err := OpenReadOnly(ctx, rw.Path()+".missing"); err == nil {
		t.Error("opened a database that does not exist")
	}
}
