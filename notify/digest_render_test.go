package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
)

// TestDigestGolden pins a three-renewal digest (text and HTML) to one admin, due 2026-01-29, ordered by
// deadline, one of them at risk; go test ./notify -run TestDigestGolden -update rewrites it.
func TestDigestGolden(t *testing.T) {
	r := mailRenderer(t)
	atRisk := []renewal.CapabilityScore{{Designation: "Solutions Partner for Security", Enterprise: map[string]int{"performance": 10}, AsOf: renewal.NewDate(2026, 1, 20)}}
	rems := []renewal.Reminder{
		reminder(t, "Threat Protection", "2024-02-29", 2, -30, atRisk),          // anniversary 2026-02-28
		reminder(t, "Finance", "2023-03-30", 3, -60, nil),                       // anniversary 2026-03-30: the window opens today
		reminder(t, "Kubernetes on Microsoft Azure", "2023-02-13", 3, -15, nil), // anniversary 2026-02-13
	}
	rems[1].OutboxID, rems[1].PartnerID, rems[1].PartnerName = 8, "5550001", "Fabrikam"
	rems[2].OutboxID, rems[2].PartnerID, rems[2].PartnerName = 9, "7770002", "Northwind"
	for _, rem := range rems {
		if rem.Milestone.DueOn != renewal.NewDate(2026, 1, 29) {
			t.Fatalf("%s due %s", rem.Specialization, rem.Milestone.DueOn)
		}
	}
	out, err := r.RenderDigest(rems, time.Date(2026, 1, 29, 6, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	got := "Subject: " + out.Subject + "\n\n" + out.Text + "\n======== HTML ========\n" + out.HTML
	golden := filepath.Join("testdata", "digest-3.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -run TestDigestGolden -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; run go test ./notify -run TestDigestGolden -update and review the diff\n%s", golden, got)
	}
	// Ordered by deadline: Kubernetes closes 2026-02-13, Threat Protection 2026-02-28, Finance 2026-03-30.
	k, tp, fi := strings.Index(out.Text, "== 1. Northwind: Kubernetes"), strings.Index(out.Text, "== 2. Contoso Ltd: Threat Protection"), strings.Index(out.Text, "== 3. Fabrikam: Finance")
	if k < 0 || tp < k || fi < tp || !strings.HasPrefix(out.Subject, "[At risk] 3 renewals, next due 2026-02-13") {
		t.Errorf("order or subject wrong: %q\n%s", out.Subject, out.Text)
	}
	if strings.Contains(got, "in -") || strings.Contains(got, "(-") {
		t.Errorf("a negative day count:\n%s", got)
	}
}
