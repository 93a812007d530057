package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScheduleReminderStatus: `schedule --json` gives every reminder the status of its outbox rows and
// their counts, or with none yet what a tick would record; the table shows the same words.
func TestScheduleReminderStatus(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, "c.toml", fmt.Sprintf("[database]\npath = %q\n[mail]\ntransport = \"file\"\nfile_dir = %q\n",
		filepath.Join(dir, "r.db"), filepath.Join(dir, "mail")))
	// Attained 2023-06-10: the −120 reminder of 2026-06-10 is due 2026-02-10, the −90 on 2026-03-12.
	partners := writeFile(t, "partners.json", `{"partners": [
  {"id": "1000001", "name": "Alpha", "users": [{"email": "a@alpha.example", "name": "A", "roles": ["Global admin"]}],
   "specializations": [{"name": "Finance", "attained_on": "2023-06-10", "status": "active"}]},
  {"id": "1000002", "name": "Bravo", "users": [{"email": "b@bravo.example", "name": "B", "roles": ["Referrals admin"]}],
   "specializations": [{"name": "Finance", "attained_on": "2023-06-10", "status": "active"}]},
  {"id": "1000003", "name": "Charlie", "users": [{"email": "c@charlie.example", "name": "C", "roles": ["Global admin"]}],
   "specializations": [{"name": "Finance", "attained_on": "2023-06-10", "status": "active"}]}]}`)
	now := time.Date(2026, 2, 10, 6, 0, 0, 0, time.UTC)
	run := func(args ...string) string {
		t.Helper()
		code, out, errs := runMain(t, nil, now, append([]string{"--config", cfg}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	run("import", partners)
	run("tick", "--no-deliver")
	run("renewal", "record", "--partner", "1000003", "--specialization", "Finance", "--anniversary", "2026-06-10", "--on", "2026-02-09")

	var sched []struct {
		PartnerID string `json:"partner_id"`
		Reminders []struct {
			OffsetDays int             `json:"offset_days"`
			Status     *string         `json:"status"`
			Rows       json.RawMessage `json:"rows"`
		} `json:"reminders"`
	}
	out := run("schedule", "--json", "--from", "2026-02-10", "--to", "2026-03-12")
	if err := json.Unmarshal([]byte(out), &sched); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	type want struct {
		status string
		rows   map[string]int
	}
	wants := map[string][2]want{
		"1000001": {{"pending", map[string]int{"pending": 1}}, {"scheduled", map[string]int{}}},
		"1000002": {{"no_recipients", map[string]int{"no_recipients": 1}}, {"no_recipients", map[string]int{}}},
		"1000003": {{"cancelled", map[string]int{"cancelled": 1}}, {"cancelled", map[string]int{}}},
	}
	if len(sched) != len(wants) {
		t.Fatalf("%d entries, want %d:\n%s", len(sched), len(wants), out)
	}
	for _, e := range sched {
		w := wants[e.PartnerID]
		if len(e.Reminders) != 2 {
			t.Fatalf("%s: reminders %+v", e.PartnerID, e.Reminders)
		}
		for i, r := range e.Reminders {
			var rows map[string]int
			if err := json.Unmarshal(r.Rows, &rows); err != nil || rows == nil {
				t.Errorf("%s %+d: rows %s is not an object (%v)", e.PartnerID, r.OffsetDays, r.Rows, err)
			}
			if r.Status == nil || *r.Status != w[i].status || !maps.Equal(rows, w[i].rows) {
				t.Errorf("%s %+d: status %v rows %s, want %s %v", e.PartnerID, r.OffsetDays, r.Status, r.Rows, w[i].status, w[i].rows)
			}
		}
	}
	table := run("schedule", "--from", "2026-02-10", "--to", "2026-03-12")
	for _, line := range []string{"02-10(-120) pending, 03-12(-90) scheduled", "02-10(-120) no_recipients, 03-12(-90) no_recipients",
		"02-10(-120) cancelled, 03-12(-90) cancelled"} {
		if !strings.Contains(table, line) {
			t.Errorf("table lacks %q:\n%s", line, table)
		}
	}
}
