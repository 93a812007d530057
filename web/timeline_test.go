package web

import (
	"context"
	"strings"
	"testing"

	"github.com/renewald/renewald/renewal"
)

// TestTimelineSaysWhatWillHappen: the timeline's words per reminder are those of `schedule`: a
// reminder of a renewal recorded done is cancelled, one of a partner without recipients is
// no_recipients, even before any outbox row; one still to be queued is scheduled. Each word is
// written in the drawing and in the table, not shown by colour alone.
func TestTimelineSaysWhatWillHappen(t *testing.T) {
	f := newFixture(t)
	// Fabrikam (p2) renewed its Finance of 2026-05-20: its waiting −30 is cancelled, and its 0 and
	// +30, no outbox row yet, never will be.
	if _, err := f.db.RecordRenewal(context.Background(), renewal.Outcome{PartnerID: "p2", Specialization: "Finance",
		Anniversary: d("2026-05-20"), RenewedOn: d("2026-04-25")}, fixtureNow); err != nil {
		t.Fatal(err)
	}
	s := f.server(t, nil)
	for _, tc := range []struct {
		partner string
		want    []string
	}{
		{"p1", []string{"−60 failed", "−30 scheduled", `<span class="st st-scheduled" title="no outbox row yet">scheduled</span>`}},
		{"p2", []string{">−30 cancelled<", ">0 cancelled<", ">&#43;30 cancelled<", `<span class="st st-cancelled" title="no outbox row yet">cancelled</span>`}},
		// Northwind (p3) has no user with a recipient role: its −90 was recorded no_recipients, its
		// −60 (due 2026-05-02) has no row yet and will be recorded so too.
		{"p3", []string{"−90 no_recipients", "−60 no_recipients", "−30 no_recipients", `<span class="st st-no_recipients" title="no outbox row yet">no_recipients</span>`}},
	} {
		_, body := get(t, s, "GET", "/renewals?from=2026-04-01&to=2026-07-31&partner="+tc.partner)
		if miss := containsAll(body, tc.want...); miss != "" {
			t.Errorf("%s: timeline lacks %q", tc.partner, miss)
		}
		if tc.partner != "p1" && strings.Contains(body, "scheduled") {
			t.Errorf("%s: timeline says scheduled for a reminder that will never go out", tc.partner)
		}
	}
}
