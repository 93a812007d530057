package notify

import (
	"flag"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func testRenderer(t testing.TB) *Renderer {
	t.Helper()
	tmpl, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return &Renderer{Templates: tmpl, Catalog: renewal.DefaultCatalog(), Rules: renewal.DefaultRules(),
		From: &mail.Address{Name: "Partner Renewals", Address: "renewals@example.com"}, Location: time.UTC}
}

// reminder builds the reminder of the offset-th day milestone of an enrollment.
func reminder(t testing.TB, spec, attained string, n, offset int, scores []renewal.CapabilityScore) renewal.Reminder {
	t.Helper()
	cat := renewal.DefaultCatalog()
	s, err := cat.Lookup(spec)
	if err != nil {
		t.Fatal(err)
	}
	rn, ok := renewal.DefaultRules().Renewal(renewal.MustParseDate(attained), s.Validation, n)
	if !ok {
		t.Fatalf("%s n=%d not in programme", attained, n)
	}
	return renewal.Reminder{
		OutboxID: 7, PartnerID: "4761234", PartnerName: "Contoso Ltd", Specialization: s.Name,
		AttainedOn: renewal.MustParseDate(attained),
		Milestone:  renewal.Milestone{Renewal: rn, Offset: offset, DueOn: rn.Anniversary.AddDays(offset)},
		Recipient:  "ada@contoso.example", RecipientName: "Ada", Attempts: 1,
		MessageID: renewal.MessageID(7, rn.Anniversary, offset, "ada@contoso.example", "example.com"),
		Scores:    scores,
	}
}

var (
	negativeCount = regexp.MustCompile(`-\d+ days?\b|\(-\d|in -\d|-\d+ until`)
	todayDate     = regexp.MustCompile(`(?i)today, (\d{4}-\d{2}-\d{2})`)
	todayWord     = regexp.MustCompile(`(?i)\btoday\b`)
)

// checkWording asserts R12 on a rendered email sent on sendOn: no negative day count, every
// "today, D" names the send date, and "today" appears only on a day something happens — apart from the
// picture's marker of the send day, labelled "today" with its date (issue 26).
func checkWording(t *testing.T, text string, sendOn renewal.Date, m renewal.Milestone) {
	t.Helper()
	for _, label := range []string{"today, " + sendOn.String(), "* today " + sendOn.String(), "today " + sendOn.String() + " (black)"} {
		if sendOn != m.WindowOpens && sendOn != m.WindowCloses && sendOn != m.GraceEnds {
			text = strings.ReplaceAll(text, label, "")
		}
	}
	if loc := negativeCount.FindStringIndex(text); loc != nil {
		t.Errorf("sent %s: negative day count %q", sendOn, text[max(loc[0]-40, 0):min(loc[1]+20, len(text))])
	}
	for _, mt := range todayDate.FindAllStringSubmatch(text, -1) {
		if mt[1] != sendOn.String() {
			t.Errorf("sent %s: says %q", sendOn, mt[0])
		}
	}
	event := sendOn == m.WindowOpens || sendOn == m.WindowCloses || sendOn == m.GraceEnds
	if todayWord.MatchString(text) && !event {
		t.Errorf("sent %s (window %s..%s, grace to %s): says today", sendOn, m.WindowOpens, m.WindowCloses, m.GraceEnds)
	}
}

// TestWordingOnEverySendDay renders every reminder of every variant on every day from its due date
// to the end of its grace period and checks R12's wording rules.
func TestWordingOnEverySendDay(t *testing.T) {
	r := testRenderer(t)
	for _, spec := range []struct{ spec, attained string }{{"Kubernetes on Microsoft Azure", "2022-05-20"}, {"Finance", "2023-03-15"}, {"Teamwork Deployment", "2024-02-29"}} {
		for _, off := range renewal.DefaultRules().OffsetsDays {
			rem := reminder(t, spec.spec, spec.attained, 2, off, nil)
			for on := rem.Milestone.DueOn; !rem.Milestone.Ended(on); on = on.AddDays(1) {
				out, err := r.Render(rem, on.Time(time.UTC).Add(23*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				checkWording(t, out.Subject+"\n"+out.Text+"\n"+out.HTML, on, rem.Milestone)
				if t.Failed() {
					t.Fatalf("%s %+d sent %s:\n%s\n%s", spec.spec, off, on, out.Subject, out.Text)
				}
			}
		}
	}
}

func TestEmailFacts(t *testing.T) {
	r := testRenderer(t)
	// Threat Protection attained 2024-02-29: anniversary 2026-02-28 is renewal year 2 with customer
	// references; the window opens 2025-12-30. The −60 reminder is due that day.
	rem := reminder(t, "Threat Protection", "2024-02-29", 2, -60, nil)
	out, err := r.Render(rem, time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := "Window opens today, 2025-12-30 — Threat Protection specialization: check qualification"
	if out.Subject != want {
		t.Errorf("subject %q, want %q", out.Subject, want)
	}
	rem = reminder(t, "Threat Protection", "2024-02-29", 2, -90, nil)
	out, _ = r.Render(rem, time.Date(2025, 11, 30, 6, 0, 0, 0, time.UTC))
	if want := "Check qualification by 2026-02-28 — Threat Protection specialization, window opens in 30 days"; out.Subject != want {
		t.Errorf("subject %q, want %q", out.Subject, want)
	}
	for _, s := range []string{"2026-02-28", "renewal year 2", "even year", "2025-12-30", "2026-03-30", "30 days until the window opens; 90 days until it closes",
		"Solutions Partner for Security", "customer references must be completed", "Once qualified, submit customer references"} {
		if !strings.Contains(out.Text, s) {
			t.Errorf("text lacks %q", s)
		}
	}
}

func TestHTMLEscapesPartnerData(t *testing.T) {
	r := testRenderer(t)
	rem := reminder(t, "Finance", "2023-03-15", 2, -30, nil)
	rem.PartnerName = `<script>alert("x")</script> & Co`
	rem.RecipientName = `<img src=x onerror=alert(1)>`
	out, err := r.Render(rem, time.Date(2025, 2, 13, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.HTML, "<script>") || strings.Contains(out.HTML, "<img") {
		t.Errorf("HTML not escaped:\n%s", out.HTML)
	}
	if !strings.Contains(out.HTML, "&lt;script&gt;") {
		t.Errorf("escaped name missing:\n%s", out.HTML)
	}
	msg, _, err := r.Message(rem, time.Date(2025, 2, 13, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	msg.WriteTo(&b)
	raw := b.String()
	for _, h := range []string{"Auto-Submitted: auto-generated", "Message-ID: " + rem.MessageID, "Date: Thu, 13 Feb 2025 00:00:00", "text/calendar", "multipart/alternative"} {
		if !strings.Contains(raw, h) {
			t.Errorf("message lacks %q", h)
		}
	}
}

func TestICS(t *testing.T) {
	r := testRenderer(t)
	rem := reminder(t, "Threat Protection", "2024-02-29", 2, -60, nil)
	ics := r.ICS(rem, time.Date(2025, 12, 30, 6, 0, 0, 0, time.UTC))
	for _, s := range []string{"BEGIN:VCALENDAR\r\n", "VERSION:2.0\r\n", "DTSTAMP:20251230T060000Z\r\n",
		"DTSTART;VALUE=DATE:20251230\r\n", "DTEND;VALUE=DATE:20260301\r\n", // window 2025-12-30..2026-02-28 inclusive
		"DTSTART;VALUE=DATE:20260228\r\n",                                  // the anniversary
		"DTSTART;VALUE=DATE:20260330\r\n", "DTEND;VALUE=DATE:20260331\r\n", // the last day of grace, 2026-03-30
		"UID:anniversary-", "TRIGGER;RELATED=START:-P7D\r\n", "SEQUENCE:2\r\n",
		"UID:window-", "UID:grace-", "@example.com\r\n", "END:VCALENDAR\r\n"} {
		if !strings.Contains(ics, s) {
			t.Errorf("ics lacks %q:\n%s", s, ics)
		}
	}
	for _, line := range strings.Split(ics, "\r\n") {
		if len(line) > 75 {
			t.Errorf("unfolded line of %d octets: %q", len(line), line)
		}
		if strings.Contains(line, "\n") {
			t.Errorf("bare LF in %q", line)
		}
	}
	// The same renewal gives the same UIDs from any reminder, so calendars update in place.
	other := r.ICS(reminder(t, "Threat Protection", "2024-02-29", 2, 0, nil), time.Now())
	uid := func(s string) string { i := strings.Index(s, "UID:"); return s[i : i+40] }
	if uid(ics) != uid(other) {
		t.Error("UID differs between reminders of one renewal")
	}
	if got := escapeICS("a,b;c\\d\ne"); got != `a\,b\;c\\d\ne` {
		t.Errorf("escape: %q", got)
	}
}

func TestBackoff(t *testing.T) {
	d := &Deliverer{BackoffBase: time.Minute}
	for attempt, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 9: 256 * time.Minute, 10: 6 * time.Hour, 60: 6 * time.Hour} {
		if got := d.Backoff(attempt); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", attempt, got, want)
		}
	}
	for _, j := range []float64{0, 0.999} {
		d.Jitter = func() float64 { return j }
		if got := d.Backoff(3); got < 2*time.Minute || got >= 6*time.Minute {
			t.Errorf("jittered backoff %s outside [2m, 6m)", got)
		}
	}
}

func FuzzTemplateData(f *testing.F) {
	f.Add("Contoso", "Ada", "ada@contoso.example", -60, 2)
	f.Add("<b>&", "\u202e", "x@y.example", 30, 1)
	r := testRenderer(f)
	f.Fuzz(func(t *testing.T, partner, name, rcpt string, offset, year int) {
		rem := reminder(t, "Finance", "2023-03-15", 2, -30, nil)
		rem.PartnerName, rem.RecipientName, rem.Recipient = partner, name, rcpt
		rem.Milestone.Offset, rem.Milestone.Year = offset%400, year%100
		out, err := r.Render(rem, time.Date(2025, 2, 13, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(out.Subject, "\r\n") {
			t.Fatalf("subject has a line break: %q", out.Subject)
		}
		// The name stands before " (partner id)": raw there means unescaped. (Matching the raw name
		// anywhere would be wrong: "<b" is part of "<body>".)
		if strings.ContainsAny(partner, "<>&\"'") && strings.Contains(out.HTML, partner+" ("+rem.PartnerID+")") {
			t.Fatalf("unescaped partner name in HTML: %q", partner)
		}
	})
}

// TestRenderRefusesAReminderWithoutItsWindow: a reminder as the outbox stores it (anniversary, year,
// validation, no window dates) is refused rather than worded with zero dates; completed, it renders.
func TestRenderRefusesAReminderWithoutItsWindow(t *testing.T) {
	r := testRenderer(t)
	full := reminder(t, "Kubernetes on Microsoft Azure", "2021-06-10", 5, -30, nil)
	stored := full
	rn := full.Milestone.Renewal
	stored.Milestone.Renewal = renewal.Renewal{Anniversary: rn.Anniversary, Year: rn.Year, ManualValidation: rn.ManualValidation}
	now := full.Milestone.DueOn.Time(time.UTC)
	if _, err := r.Render(stored, now); err == nil || !strings.Contains(err.Error(), "window dates are not worked out") {
		t.Errorf("rendered a reminder without its window: %v", err)
	}
	got, err := r.Render(r.Rules.Complete(stored), now)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := r.Render(full, now)
	if got.Subject != want.Subject || got.Text != want.Text {
		t.Errorf("completed reminder renders %q, want %q", got.Subject, want.Subject)
	}
}
