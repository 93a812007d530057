package renewal

import (
	"errors"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // the zone database, also where the host has none
)

var d = MustParseDate

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want string
	}{
		{"2024-02-29", true, "2024-02-29"},
		{"2023-02-29", false, ""},
		{"2023-02-30", false, ""},
		{"2023-04-31", false, ""},
		{"2023-13-01", false, ""},
		{"2023-00-10", false, ""},
		{"0000-01-01", false, ""},
		{"0999-12-31", false, ""},
		{"2023-1-01", false, ""},
		{"15/04/2023", false, ""},
		{"2023-04-15T00:00:00Z", false, ""},
		{"+023-04-15", false, ""},
		{"", false, ""},
		{"1900-02-29", false, ""},
		{"2000-02-29", true, "2000-02-29"},
		{"9999-12-31", true, "9999-12-31"},
	} {
		got, err := ParseDate(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParseDate(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrBadDate) {
			t.Errorf("ParseDate(%q) err = %v, want ErrBadDate", tc.in, err)
		}
		if tc.ok && got.String() != tc.want {
			t.Errorf("ParseDate(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDateOfTimeZones(t *testing.T) {
	// 2026-03-01 02:30 UTC is still 28 February in New York and already 1 March in Tokyo.
	instant := time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{{time.UTC, "2026-03-01"}, {ny, "2026-02-28"}, {tokyo, "2026-03-01"}} {
		if got := DateOf(instant, tc.loc).String(); got != tc.want {
			t.Errorf("DateOf in %s = %s, want %s", tc.loc, got, tc.want)
		}
	}
	// Days are calendar days even across a DST change.
	if n := d("2026-03-07").DaysUntil(d("2026-03-09")); n != 2 {
		t.Errorf("DaysUntil across DST = %d, want 2", n)
	}
}

func TestAnniversary(t *testing.T) {
	for _, tc := range []struct {
		attained string
		n        int
		want     string
	}{
		{"2024-02-29", 1, "2025-02-28"},
		{"2024-02-29", 2, "2026-02-28"},
		{"2024-02-29", 3, "2027-02-28"},
		{"2024-02-29", 4, "2028-02-29"},
		{"2096-02-29", 4, "2100-02-28"}, // 2100 is not a leap year
		{"1996-02-29", 4, "2000-02-29"}, // 2000 is
		{"2023-02-28", 1, "2024-02-28"},
		{"2023-03-01", 1, "2024-03-01"},
		{"2021-06-10", 5, "2026-06-10"},
		{"2023-12-31", 3, "2026-12-31"},
	} {
		if got := Anniversary(d(tc.attained), tc.n).String(); got != tc.want {
			t.Errorf("Anniversary(%s, %d) = %s, want %s", tc.attained, tc.n, got, tc.want)
		}
	}
}

func TestRenewalYear(t *testing.T) {
	r := DefaultRules()
	for _, tc := range []struct {
		attained string
		n        int
		want     int
	}{
		{"2021-06-10", 1, 0}, // 2022-06-10 before programme start
		{"2021-06-10", 2, 1}, // 2023-06-10
		{"2021-06-10", 3, 2}, // 2024
		{"2021-06-10", 5, 4}, // 2026-06-10
		{"2022-01-15", 1, 0}, // 2023-01-15 is before 2023-02-01
		{"2022-01-15", 2, 1}, // 2024-01-15 is the first renewal year
		{"2022-02-01", 1, 1}, // anniversary on the programme start counts
		{"2022-01-31", 1, 0}, // the day before does not
		{"2024-05-05", 1, 1},
		{"2024-05-05", 2, 2},
		{"2019-02-28", 4, 1}, // 2023-02-28
		{"2020-02-29", 3, 1}, // 2023-02-28
		{"2024-02-29", 4, 4},
		{"2024-02-29", 0, 0},
	} {
		if got := r.RenewalYear(d(tc.attained), tc.n); got != tc.want {
			t.Errorf("RenewalYear(%s, %d) = %d, want %d", tc.attained, tc.n, got, tc.want)
		}
	}
}

func TestRenewalWindowAndValidation(t *testing.T) {
	r := DefaultRules()
	for _, tc := range []struct {
		name                          string
		attained                      string
		kind                          Validation
		n                             int
		year                          int
		mv                            Validation
		ann, opens, closes, graceEnds string
	}{
		{"even year customer references", "2021-06-10", ValidationCustomerReferences, 5, 4, ValidationCustomerReferences,
			"2026-06-10", "2026-04-11", "2026-06-10", "2026-07-10"},
		{"odd year no validation", "2021-06-10", ValidationAudit, 4, 3, ValidationNone,
			"2025-06-10", "2025-04-11", "2025-06-10", "2025-07-10"},
		{"even year audit", "2022-03-01", ValidationAudit, 2, 2, ValidationAudit,
			"2024-03-01", "2024-01-01", "2024-03-01", "2024-03-31"},
		{"business applications never", "2021-06-10", ValidationNone, 5, 4, ValidationNone,
			"2026-06-10", "2026-04-11", "2026-06-10", "2026-07-10"},
		{"leap day in common year", "2024-02-29", ValidationCustomerReferences, 2, 2, ValidationCustomerReferences,
			"2026-02-28", "2025-12-30", "2026-02-28", "2026-03-30"},
		{"leap day in leap year", "2024-02-29", ValidationAudit, 4, 4, ValidationAudit,
			"2028-02-29", "2027-12-31", "2028-02-29", "2028-03-30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rn, ok := r.Renewal(d(tc.attained), tc.kind, tc.n)
			if !ok {
				t.Fatal("not in programme")
			}
			if rn.Year != tc.year || rn.ManualValidation != tc.mv || rn.Even() != (tc.year%2 == 0) {
				t.Errorf("year %d validation %s, want %d %s", rn.Year, rn.ManualValidation, tc.year, tc.mv)
			}
			got := []string{rn.Anniversary.String(), rn.WindowOpens.String(), rn.WindowCloses.String(), rn.GraceEnds.String()}
			want := []string{tc.ann, tc.opens, tc.closes, tc.graceEnds}
			if !slices.Equal(got, want) {
				t.Errorf("dates %v, want %v", got, want)
			}
			if total := rn.WindowOpens.DaysUntil(rn.GraceEnds); total != 90 {
				t.Errorf("window plus grace = %d days, want 90", total)
			}
		})
	}
	if _, ok := r.Renewal(d("2022-01-15"), ValidationAudit, 1); ok {
		t.Error("2023-01-15 anniversary is before the programme start but was in it")
	}
}

func TestDaysLeft(t *testing.T) {
	rn, _ := DefaultRules().Renewal(d("2021-06-10"), ValidationAudit, 5)
	for _, tc := range []struct {
		on           string
		close, grace int
	}{{"2026-06-10", 0, 30}, {"2026-04-11", 60, 90}, {"2026-02-10", 120, 150}, {"2026-07-10", -30, 0}} {
		if c, g := rn.DaysToClose(d(tc.on)), rn.DaysToGraceEnd(d(tc.on)); c != tc.close || g != tc.grace {
			t.Errorf("on %s: %d/%d days, want %d/%d", tc.on, c, g, tc.close, tc.grace)
		}
	}
}

func TestConfigurableWindow(t *testing.T) {
	r := DefaultRules()
	r.WindowOpensDaysBefore, r.GracePeriodDays = 45, 15
	rn, _ := r.Renewal(d("2023-05-20"), ValidationAudit, 1)
	if rn.WindowOpens.String() != "2024-04-05" || rn.GraceEnds.String() != "2024-06-04" {
		t.Errorf("window %s..%s", rn.WindowOpens, rn.GraceEnds)
	}
}

// TestCompleteAndExpiry: a reminder read back with only its stored facts gets the window the rules
// give (R5), and R13 on a day expires exactly the anniversaries whose grace ended before it, naming
// the last day of grace; the zero Expiry expires nothing.
func TestCompleteAndExpiry(t *testing.T) {
	r := DefaultRules()
	r.WindowOpensDaysBefore, r.GracePeriodDays = 45, 15
	full, _ := r.Renewal(d("2023-05-20"), ValidationAudit, 1)
	stored := Reminder{OutboxID: 7, Milestone: Milestone{Renewal: Renewal{Anniversary: full.Anniversary,
		Year: full.Year, ManualValidation: full.ManualValidation}, Offset: -30, DueOn: full.Anniversary.AddDays(-30)}}
	got := r.Complete(stored).Milestone
	if got.WindowOpens != full.WindowOpens || got.WindowCloses != full.WindowCloses || got.GraceEnds != full.GraceEnds ||
		got.Anniversary != full.Anniversary || got.Year != full.Year || got.Offset != -30 {
		t.Errorf("completed %+v, want the window of %+v", got, full)
	}
	last := full.GraceEnds // 2024-06-04: sending on it is allowed
	if e := r.ExpiryOn(last); full.Anniversary.Before(e.OpenFrom) {
		t.Errorf("on the last day of grace %s, anniversary %s counts as expired (open from %s)", last, full.Anniversary, e.OpenFrom)
	}
	e := r.ExpiryOn(last.AddDays(1))
	if !full.Anniversary.Before(e.OpenFrom) {
		t.Errorf("the day after grace, anniversary %s does not count as expired (open from %s)", full.Anniversary, e.OpenFrom)
	}
	if want := "grace period ended on 2024-06-04 before it could be sent"; e.Reason(full.Anniversary) != want {
		t.Errorf("reason %q, want %q", e.Reason(full.Anniversary), want)
	}
	if !(Expiry{}).OpenFrom.IsZero() {
		t.Error("the zero Expiry has a cut-off")
	}
}

func TestMilestoneDueDates(t *testing.T) {
	r := DefaultRules()
	// Anniversary 2026-05-20 (attained 2023-05-20, k=3).
	want := map[int]string{-120: "2026-01-20", -90: "2026-02-19", -60: "2026-03-21", -30: "2026-04-20", 0: "2026-05-20", 30: "2026-06-19"}
	ms := r.Milestones(d("2023-05-20"), ValidationAudit, d("2026-01-01"), d("2026-12-31"))
	if len(ms) != 6 {
		t.Fatalf("got %d milestones, want 6: %+v", len(ms), ms)
	}
	for i, m := range ms {
		if m.DueOn.String() != want[m.Offset] {
			t.Errorf("offset %d due %s, want %s", m.Offset, m.DueOn, want[m.Offset])
		}
		if m.Anniversary.String() != "2026-05-20" || m.Year != 3 || m.ManualValidation != ValidationNone {
			t.Errorf("milestone %+v", m)
		}
		if m.Superseded != (i < 5) {
			t.Errorf("offset %d superseded=%v", m.Offset, m.Superseded)
		}
	}
	// A one-day range holds exactly that day's reminder, not superseded.
	one := r.Milestones(d("2023-05-20"), ValidationAudit, d("2026-01-20"), d("2026-01-20"))
	if len(one) != 1 || one[0].Offset != -120 || one[0].Superseded {
		t.Errorf("single day: %+v", one)
	}
}

func TestMilestonesSupersede(t *testing.T) {
	r := DefaultRules()
	// Catch-up across two anniversaries' reminders: attained 2024-02-29. The 2026-02-28 anniversary's
	// +30 (2026-03-30) and nothing else of the 2027 one; a range 2026-02-20..2026-04-01 holds 0 and +30.
	ms := r.Milestones(d("2024-02-29"), ValidationCustomerReferences, d("2026-02-20"), d("2026-04-01"))
	var got []string
	for _, m := range ms {
		s := m.DueOn.String()
		if m.Superseded {
			s += "(superseded)"
		}
		got = append(got, s)
	}
	want := []string{"2026-02-28(superseded)", "2026-03-30"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Reminders before the programme start are never produced.
	if ms := r.Milestones(d("2021-06-10"), ValidationAudit, d("2022-01-01"), d("2022-12-31")); len(ms) != 0 {
		t.Errorf("pre-programme milestones: %+v", ms)
	}
	// The first programme anniversary 2023-02-01: its -120 fell before the programme start but still
	// belongs to an anniversary inside it, so it is produced.
	ms = r.Milestones(d("2022-02-01"), ValidationAudit, d("2022-10-04"), d("2022-10-04"))
	if len(ms) != 1 || ms[0].Offset != -120 || ms[0].Year != 1 {
		t.Errorf("first anniversary -120: %+v", ms)
	}
}

func TestNextRenewal(t *testing.T) {
	r := DefaultRules()
	for _, tc := range []struct{ attained, on, want string }{
		{"2021-06-10", "2026-06-10", "2026-06-10"},
		{"2021-06-10", "2026-07-10", "2026-06-10"}, // still in grace
		{"2021-06-10", "2026-07-11", "2027-06-10"},
		{"2022-01-15", "2022-06-01", "2024-01-15"}, // first programme anniversary
		{"2024-02-29", "2026-01-01", "2026-02-28"},
	} {
		if got := r.NextRenewal(d(tc.attained), ValidationAudit, d(tc.on)).Anniversary.String(); got != tc.want {
			t.Errorf("NextRenewal(%s on %s) = %s, want %s", tc.attained, tc.on, got, tc.want)
		}
	}
}

func TestRulesValidate(t *testing.T) {
	if err := DefaultRules().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*Rules){
		func(r *Rules) { r.OffsetsDays = nil },
		func(r *Rules) { r.OffsetsDays = []int{-30, -30} },
		func(r *Rules) { r.OffsetsDays = []int{-400} },
		func(r *Rules) { r.GracePeriodDays = -1 },
		func(r *Rules) { r.WindowOpensDaysBefore = 1000 },
		func(r *Rules) { r.ProgramStart = Date{} },
		func(r *Rules) { r.OffsetsDays = []int{-30, 45} },                                                  // after the grace period ends
		func(r *Rules) { r.GracePeriodDays = 0 },                                                           // the +30 reminder too
		func(r *Rules) { r.WindowOpensDaysBefore, r.GracePeriodDays, r.OffsetsDays = 0, 0, []int{-30, 0} }, // no day at all
	} {
		r := DefaultRules()
		mut(&r)
		if r.Validate() == nil {
			t.Errorf("rules %+v validated", r)
		}
	}
}

// TestStageOn pins R12's stages: the stage of a renewal follows from the day asked about.
func TestStageOn(t *testing.T) {
	r := DefaultRules()
	rn, _ := r.Renewal(MustParseDate("2021-06-10"), ValidationAudit, 5) // 2026-06-10: window 04-11..06-10, grace to 07-10
	for _, tc := range []struct {
		on   string
		want Stage
	}{
		{"2026-02-10", StageEarly}, {"2026-04-10", StageEarly},
		{"2026-04-11", StageWindowOpen},
		{"2026-04-12", StageWindow}, {"2026-06-09", StageWindow},
		{"2026-06-10", StageAnniversary},
		{"2026-06-11", StageGrace}, {"2026-07-09", StageGrace},
		{"2026-07-10", StageLastDay},
		{"2026-07-11", StageEnded}, {"2027-01-01", StageEnded},
	} {
		if got := rn.StageOn(MustParseDate(tc.on)); got != tc.want {
			t.Errorf("stage on %s = %s, want %s", tc.on, got, tc.want)
		}
		if ended := rn.Ended(MustParseDate(tc.on)); ended != (tc.want == StageEnded) {
			t.Errorf("ended on %s = %v", tc.on, ended)
		}
	}
	// A leap-day attainment: the 2026 anniversary is 28 February, the grace period ends 30 March.
	leap, _ := r.Renewal(MustParseDate("2024-02-29"), ValidationAudit, 2)
	if leap.StageOn(MustParseDate("2026-02-28")) != StageAnniversary || leap.StageOn(MustParseDate("2026-03-30")) != StageLastDay {
		t.Errorf("leap-day renewal: %+v", leap)
	}
	// Zero-length window: opening day and anniversary coincide, and the anniversary wins.
	r0 := r
	r0.WindowOpensDaysBefore, r0.GracePeriodDays = 0, 0
	z := r0.RenewalOn(MustParseDate("2026-06-10"), 1, ValidationNone)
	if z.StageOn(MustParseDate("2026-06-10")) != StageAnniversary || z.StageOn(MustParseDate("2026-06-11")) != StageEnded {
		t.Errorf("zero window: %+v", z)
	}
	if got := r.GraceOpenFrom(MustParseDate("2026-07-10")); got != MustParseDate("2026-06-10") {
		t.Errorf("GraceOpenFrom = %s", got)
	}
}

func TestAnniversaryNumber(t *testing.T) {
	for _, tc := range []struct {
		attained, d string
		n           int
		ok          bool
	}{
		{"2021-06-10", "2026-06-10", 5, true},
		{"2021-06-10", "2026-06-11", 0, false},
		{"2021-06-10", "2021-06-10", 0, false}, // the attainment itself is not an anniversary
		{"2024-02-29", "2025-02-28", 1, true},
		{"2024-02-29", "2028-02-29", 4, true},
		{"2024-02-29", "2028-02-28", 0, false},
		{"2024-02-29", "2025-03-01", 0, false},
	} {
		n, ok := AnniversaryNumber(MustParseDate(tc.attained), MustParseDate(tc.d))
		if n != tc.n || ok != tc.ok {
			t.Errorf("AnniversaryNumber(%s, %s) = %d %v, want %d %v", tc.attained, tc.d, n, ok, tc.n, tc.ok)
		}
	}
}
