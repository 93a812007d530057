package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
)

// countedByStatus counts the outbox rows by status the slow way, reading the table.
func countedByStatus(t *testing.T, db *DB) map[string]int {
	t.Helper()
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := db.db.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM outbox GROUP BY status`); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, st := range Statuses {
		out[st] = 0
	}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out
}

// TestCountByStatusFollowsEveryChange: the counts kept by the outbox's triggers (migration 0008)
// equal a count of the table after inserts, claims, marks, operator actions, direct updates, a
// recount, deletes and the cascade from a deleted enrollment; and a recount repairs counts that
// drifted (rows queued by a release that did not count them).
func TestCountByStatusFollowsEveryChange(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		check := func(step string) {
			t.Helper()
			got, err := newOutbox(db).CountByStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := countedByStatus(t, db); !maps.Equal(got, want) {
				t.Errorf("after %s: counts %v, the table holds %v", step, got, want)
			}
		}
		check("nothing")
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		it := enqueueSample(t, db)
		noRcpt := it
		noRcpt.Recipient, noRcpt.Status = "", StatusNoRecipients
		if _, err := db.Enqueue(ctx, []OutboxItem{it, noRcpt}, t0); err != nil {
			t.Fatal(err)
		}
		check("enqueue")
		ob := &Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: time.Minute}
		got, _, _, err := ob.Claim(ctx, t0, d("2026-01-20"), 10, renewal.DefaultRules().ExpiryOn(d("2026-01-20")))
		if err != nil || len(got) != 1 {
			t.Fatalf("claim: %d %v", len(got), err)
		}
		check("claim")
		if err := ob.MarkFailed(ctx, got[0].OutboxID, t0, "550 no"); err != nil {
			t.Fatal(err)
		}
		check("mark failed")
		if err := newOutbox(db).Retry(ctx, got[0].OutboxID, t0); err != nil {
			t.Fatal(err)
		}
		check("retry")
		if err := db.RecountOutbox(ctx); err != nil {
			t.Fatal(err)
		}
		check("recount")
		if err := newOutbox(db).Cancel(ctx, got[0].OutboxID, t0); err != nil {
			t.Fatal(err)
		}
		check("cancel")
		if _, err := db.db.ExecContext(ctx, `UPDATE outbox SET status = 'sent', attempts = attempts + 1`); err != nil {
			t.Fatal(err)
		}
		check("update of every row")
		if _, err := db.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1`); err != nil {
			t.Fatal(err)
		}
		check("update without a status change")
		if _, err := db.db.ExecContext(ctx, `DELETE FROM outbox WHERE recipient = ''`); err != nil {
			t.Fatal(err)
		}
		check("delete")
		if _, err := db.db.ExecContext(ctx, `DELETE FROM enrollments`); err != nil {
			t.Fatal(err)
		}
		check("cascade from enrollments")
		if err := db.RecountOutbox(ctx); err != nil {
			t.Fatal(err)
		}
		check("second recount")
		// Drift, as a daemon of an older release leaves it: the next recount repairs it.
		if _, err := db.db.ExecContext(ctx, `UPDATE outbox_counts SET n = n + 7 WHERE status = 'sent'`); err != nil {
			t.Fatal(err)
		}
		if got, _ := newOutbox(db).CountByStatus(ctx); got[StatusSent] == countedByStatus(t, db)[StatusSent] {
			t.Fatal("the drift did not show")
		}
		if err := db.RecountOutbox(ctx); err != nil {
			t.Fatal(err)
		}
		check("a recount after drift")
	})
}

// TestCountsMigrationCountsExistingRows: migrations 0008 to 0011 start the counts from the rows
// already in the outbox and the enrollments (a database upgraded with years of history).
func TestCountsMigrationCountsExistingRows(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		it := enqueueSample(t, db)
		it.Recipient, it.Status = "", StatusNoRecipients
		if _, err := db.Enqueue(ctx, []OutboxItem{it}, t0); err != nil {
			t.Fatal(err)
		}
		undo := `DROP TRIGGER outbox_counts_delete; DROP TRIGGER outbox_counts_update;
			DROP TABLE outbox_counts; DROP TABLE anniversary_counts;
			DROP TABLE renewal_risks; DROP TABLE renewal_risks_state; DROP TABLE import_state;
			ALTER TABLE scan_state DROP COLUMN zone; ALTER TABLE scan_state DROP COLUMN scanned_at;
			ALTER TABLE capability_scores DROP COLUMN as_of; DELETE FROM schema_migrations WHERE version IN (8, 9, 10, 11, 12, 13)`
		if engine == Postgres {
			undo = `DROP TRIGGER outbox_counts_delete ON outbox;
				DROP TRIGGER outbox_counts_update ON outbox; DROP FUNCTION outbox_counts_delete, outbox_counts_update; DROP TABLE outbox_counts, outbox_count_deltas, anniversary_counts, renewal_risks, renewal_risks_state, import_state;
				ALTER TABLE scan_state DROP COLUMN zone, DROP COLUMN scanned_at;
				ALTER TABLE capability_scores DROP COLUMN as_of; DELETE FROM schema_migrations WHERE version IN (8, 9, 10, 11, 12, 13)`
		}
		if _, err := db.db.ExecContext(ctx, undo); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := newOutbox(db).CountByStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := countedByStatus(t, db); !maps.Equal(got, want) || got[StatusPending] != 1 || got[StatusNoRecipients] != 1 {
			t.Errorf("counts %v after the migration, the table holds %v", got, want)
		}
		checkAnniversaryCounts(t, db, 2)
	})
}

// checkAnniversaryCounts compares anniversary_counts with a count of the active enrollments.
func checkAnniversaryCounts(t *testing.T, db *DB, wantTotal int) {
	t.Helper()
	got, err := db.AnniversaryCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []AnniversaryCount
	if err := db.db.SelectContext(ctx, &want, `SELECT anniversary_md, CAST(substr(attained_on, 1, 4) AS INTEGER) AS attained_year,
		count(*) AS n FROM enrollments WHERE status = 'active' GROUP BY anniversary_md, substr(attained_on, 1, 4)`); err != nil {
		t.Fatal(err)
	}
	key := func(a, b AnniversaryCount) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }
	slices.SortFunc(got, key)
	slices.SortFunc(want, key)
	total := 0
	for _, c := range got {
		total += c.N
	}
	if !slices.Equal(got, want) || total != wantTotal {
		t.Errorf("anniversary counts %v (%d enrollments), the enrollments give %v (want %d)", got, total, want, wantTotal)
	}
}

// TestAnniversaryCountsFollowImports: every import (new, changed, removed enrollments) rebuilds the
// counts the overview's chart reads, in its own transaction; a dry run leaves them as they were.
func TestAnniversaryCountsFollowImports(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		checkAnniversaryCounts(t, db, 0)
		ps := samplePartners()
		if _, err := db.Import(ctx, ps, t0); err != nil {
			t.Fatal(err)
		}
		checkAnniversaryCounts(t, db, 2)
		ps[0].Enrollments[1].Status = renewal.StatusRemoved
		ps = append(ps, &renewal.Partner{ID: "5550001", Name: "Fabrikam", Enrollments: []renewal.Enrollment{
			{Specialization: "Threat Protection", AttainedOn: d("2022-02-28"), Status: renewal.StatusActive},
			{Specialization: "Kubernetes on Microsoft Azure", AttainedOn: d("2021-05-20"), Status: renewal.StatusActive}}})
		if _, err := db.Import(ctx, ps, t0); err != nil {
			t.Fatal(err)
		}
		checkAnniversaryCounts(t, db, 3)
		if _, err := db.ImportStream(ctx, t0, ImportOptions{DryRun: true}, func(w *ImportWriter) error {
			_, _, err := w.Enrollment(renewal.Enrollment{PartnerID: "5550001", Specialization: "Finance", AttainedOn: d("2020-01-01"), Status: renewal.StatusActive})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		checkAnniversaryCounts(t, db, 3)
	})
}

// TestRiskList: every import that writes moves the generation on (a dry run does not), so a list
// built before it is not current; a list built from a generation an import has since passed is
// not written; deleting an enrollment takes it off the list.
func TestRiskList(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		gen, err := db.ImportGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		page, err := db.ScoredPartnersAfter(ctx, "", 10)
		if err != nil || page.Last != "4761234" || len(page.Enrollments) != 2 || len(page.Scores["4761234"]) != 1 {
			t.Fatalf("scored partners: %+v %v", page, err)
		}
		if next, err := db.ScoredPartnersAfter(ctx, page.Last, 10); err != nil || next.Last != "" {
			t.Fatalf("after the last: %+v %v", next, err)
		}
		risks := []Risk{{EnrollmentID: page.Enrollments[0].ID, MonthDay: "05-20"}}
		if err := db.ReplaceRisks(ctx, gen, "fp", risks); err != nil {
			t.Fatal(err)
		}
		current := func() bool {
			t.Helper()
			ok, err := db.RiskListCurrent(ctx, "fp")
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !current() {
			t.Fatal("the list just built is not current")
		}
		if _, err := db.ImportStream(ctx, t0, ImportOptions{DryRun: true}, func(w *ImportWriter) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if !current() {
			t.Error("a dry run made the list stale")
		}
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		if current() {
			t.Error("the list is current after an import")
		}
		if err := db.ReplaceRisks(ctx, gen, "fp", nil); !errors.Is(err, ErrStaleRisks) {
			t.Errorf("a list of an old generation: %v, want ErrStaleRisks", err)
		}
		var n int
		if err := db.db.GetContext(ctx, &n, `SELECT count(*) FROM renewal_risks`); err != nil || n != 1 {
			t.Errorf("the stale write changed the list: %d rows (%v)", n, err)
		}
		if _, err := db.db.ExecContext(ctx, `DELETE FROM enrollments`); err != nil {
			t.Fatal(err)
		}
		if err := db.db.GetContext(ctx, &n, `SELECT count(*) FROM renewal_risks`); err != nil || n != 0 {
			t.Errorf("%d risks of deleted enrollments (%v)", n, err)
		}
	})
}
