package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
)

// TestRecordRenewal pins the effect of a recorded renewal: waiting reminders of that anniversary are
// cancelled with the reason, later scans record its reminders cancelled (one row per key, R10),
// other anniversaries are untouched, and clear lets the next reminder queue again.
func TestRecordRenewal(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		rules := renewal.DefaultRules()
		item := func(from, to string) []OutboxItem {
			var out []OutboxItem
			for _, m := range rules.Milestones(d("2023-05-20"), renewal.ValidationAudit, d(from), d(to)) {
				for _, r := range []string{"ada@contoso.example", ""} {
					st := StatusPending
					if r == "" {
						st = StatusNoRecipients
					}
					out = append(out, OutboxItem{EnrollmentID: 1, Milestone: m, Recipient: r, Status: st,
						MessageID: renewal.MessageID(1, m.Anniversary, m.Offset, r, "example.com")})
				}
			}
			return out
		}
		// The −60 reminder of 2026-05-20 is waiting (and a no_recipients record of it).
		if _, err := db.Enqueue(ctx, item("2026-03-21", "2026-03-21"), t0); err != nil {
			t.Fatal(err)
		}
		o := renewal.Outcome{PartnerID: "4761234", Specialization: "Kubernetes on Microsoft Azure", Anniversary: d("2026-05-20"), RenewedOn: d("2026-03-25")}
		n, err := db.RecordRenewal(ctx, o, t0)
		if err != nil || n != 2 {
			t.Fatalf("record: %d cancelled, %v", n, err)
		}
		rows, _ := newOutbox(db).List(ctx, Filter{})
		for _, r := range rows {
			if r.Status != StatusCancelled || *r.LastError != "renewal recorded: renewed on 2026-03-25" {
				t.Errorf("row %d %s %v", r.ID, r.Status, r.LastError)
			}
		}
		// Later scans (the −30, 0 and +30 of 2026) record them cancelled, nothing to mail; the next
		// anniversary (2027-05-20) queues as usual.
		st, err := db.Enqueue(ctx, item("2026-04-20", "2027-01-20"), t0)
		if err != nil || st.Renewed != 6 || st.Queued != 1 || st.NoRecipients != 1 {
			t.Fatalf("later scan %+v %v", st, err)
		}
		if again, _ := db.Enqueue(ctx, item("2026-04-20", "2027-01-20"), t0); again.Existing != 8 || again.Renewed != 0 {
			t.Errorf("re-scan %+v: one row per key (R10)", again)
		}
		pending, _ := newOutbox(db).List(ctx, Filter{Status: StatusPending})
		if len(pending) != 1 || pending[0].AnniversaryOn != "2027-05-20" {
			t.Errorf("pending %+v", pending)
		}
		// A row still pending when the outcome arrives by another path is cancelled at claim time.
		ob := &Outbox{DB: db, RoleKeys: renewal.NewRoleMatcher(renewal.DefaultRecipientRoles()).Keys(), Lease: time.Minute}
		o2 := renewal.Outcome{PartnerID: "4761234", Specialization: "Kubernetes on Microsoft Azure", Anniversary: d("2027-05-20"), RenewedOn: d("2027-01-01")}
		if _, err := db.db.Exec(`INSERT INTO renewal_outcomes VALUES (1, '2027-05-20', 'renewed', '2027-01-01', 'x')`); err != nil {
			t.Fatal(err)
		}
		got, cancelled, _, err := ob.Claim(ctx, t0, d("2027-01-20"), 10, rules.ExpiryOn(d("2027-01-20")))
		if err != nil || len(got) != 0 || cancelled != 1 {
			t.Errorf("claim of a renewed row: %d claimed, %d cancelled, %v", len(got), cancelled, err)
		}
		// Clear: the next reminder of that anniversary queues again; the cancelled ones stay cancelled.
		removed, err := db.ClearRenewal(ctx, o2)
		if err != nil || !removed {
			t.Fatalf("clear: %v %v", removed, err)
		}
		st, err = db.Enqueue(ctx, item("2027-01-21", "2027-02-20"), t0)
		if err != nil || st.Queued != 1 || st.Renewed != 0 {
			t.Errorf("after clear %+v %v", st, err)
		}
		if removed, _ := db.ClearRenewal(ctx, o2); removed {
			t.Error("cleared twice")
		}
	})
}

func TestRecordRenewalInputErrors(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		db := openEngine(t, engine)
		if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			o    renewal.Outcome
			want string
		}{
			{renewal.Outcome{PartnerID: "nobody", Specialization: "Threat Protection", Anniversary: d("2026-02-28")}, "partner nobody is not in the database"},
			{renewal.Outcome{PartnerID: "4761234", Specialization: "Finance", Anniversary: d("2026-02-28")}, "holds no Finance enrollment"},
			{renewal.Outcome{PartnerID: "4761234", Specialization: "Threat Protection", Anniversary: d("2026-03-01"), Where: "x.csv: line 3"},
				"x.csv: line 3: anniversary_on: 2026-03-01 is not an anniversary"},
		} {
			_, err := db.RecordRenewal(ctx, tc.o, t0)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
			}
			// Through an import: all or nothing.
			p := samplePartners()
			p[0].Name = "Renamed"
			if _, err := db.Import(ctx, p, t0, tc.o); !errors.Is(err, ErrInput) {
				t.Errorf("import: %v", err)
			}
			if ps, _ := newOutbox(db).List(ctx, Filter{}); len(ps) != 0 {
				t.Errorf("rows written")
			}
		}
		var name string
		db.db.Get(&name, `SELECT name FROM partners WHERE id = '4761234'`)
		if name != "Contoso Ltd" {
			t.Errorf("a failed import wrote the partner name %q", name)
		}
		// The 29 February attainment renews on 28 February in common years (R2).
		if _, err := db.RecordRenewal(ctx, renewal.Outcome{PartnerID: "4761234", Specialization: "Threat Protection",
			Anniversary: d("2026-02-28"), RenewedOn: d("2026-01-10")}, t0); err != nil {
			t.Errorf("leap-day anniversary: %v", err)
		}
	})
}
