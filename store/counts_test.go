package store

import (
	"maps"
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
// fold (PostgreSQL), deletes and the cascade from a deleted enrollment.
func TestCountByStatusFollowsEveryChange(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		check := func(step string) {
			t.Helper()
			got, err := db.CountByStatus(ctx)
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
		got, _, _, err := ob.Claim(ctx, t0, d("2026-01-20"), 10, renewal.DefaultRules())
		if err != nil || len(got) != 1 {
			t.Fatalf("claim: %d %v", len(got), err)
		}
		check("claim")
		if err := ob.MarkFailed(ctx, got[0].OutboxID, t0, "550 no"); err != nil {
			t.Fatal(err)
		}
		check("mark failed")
		if err := db.Retry(ctx, got[0].OutboxID, t0); err != nil {
			t.Fatal(err)
		}
		check("retry")
		if err := db.MarkScanned(ctx, d("2026-01-20")); err != nil {
			t.Fatal(err)
		}
		check("fold")
		if err := db.Cancel(ctx, got[0].OutboxID, t0); err != nil {
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
		if err := db.MarkScanned(ctx, d("2026-01-21")); err != nil {
			t.Fatal(err)
		}
		check("second fold")
	})
}

// TestCountsMigrationCountsExistingRows: migration 0008 starts the counts from the rows already in
// the outbox (a database upgraded with years of history).
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
		undo := `DROP TRIGGER outbox_counts_insert; DROP TRIGGER outbox_counts_delete; DROP TRIGGER outbox_counts_update;
			DROP TABLE outbox_counts; DELETE FROM schema_migrations WHERE version = 8`
		if engine == Postgres {
			undo = `DROP TRIGGER outbox_counts_insert ON outbox; DROP TRIGGER outbox_counts_delete ON outbox;
				DROP TRIGGER outbox_counts_update ON outbox; DROP FUNCTION outbox_counts_insert, outbox_counts_delete,
				outbox_counts_update; DROP TABLE outbox_counts, outbox_count_deltas; DELETE FROM schema_migrations WHERE version = 8`
		}
		if _, err := db.db.ExecContext(ctx, undo); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := db.CountByStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := countedByStatus(t, db); !maps.Equal(got, want) || got[StatusPending] != 1 || got[StatusNoRecipients] != 1 {
			t.Errorf("counts %v after the migration, the table holds %v", got, want)
		}
	})
}
