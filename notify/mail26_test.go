package notify

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/renewald/renewald/renewal"
)

// Issue 26: the mails a partner admin acts on. The matrix is every validation kind (audit, customer
// references, none) × odd and even renewal year × what the scores say (attained, at risk, unknown,
// stale) × every offset, sent on its due date and 2, 10 and 29 days late (each whose renewal is still
// open); singles and digests. Goldens pin on-time and 10-days-late text parts; TestMailRules checks
// every rule of the issue on every mail, parsed as a mail client would.

type kindCase struct{ name, spec, attained string }

var (
	mailKinds = []kindCase{
		{"audit", "Kubernetes on Microsoft Azure", "2022-03-06"},
		{"references", "Threat Protection", "2022-03-06"},
		{"none", "Service", "2022-03-06"},
	}
	mailYears = map[string]int{"odd": 5, "even": 4} // anniversaries 2027-03-06 (year 5) and 2026-03-06 (year 4)
	mailQuals = []string{"attained", "at-risk", "unknown", "stale"}
	mailLates = []int{0, 2, 10, 29}
	dateRe    = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
	stepWords = []string{"No action needed", "Regain designation", "Check qualification", "Audit due", "Customer references due",
		"Window opens", "Window closes", "Grace period ends", "Opens today", "Anniversary", "Grace ends", "Last day", "References by", "Check by",
		"No action: renews", "Regain by", "Audit by"}
)

// mailRenderer is the renderer of an operator who set the three [mail] keys of issue 26.
func mailRenderer(t testing.TB) *Renderer {
	r := testRenderer(t)
	r.Organisation = "Contoso Partner Programme"
	r.ReplyTo = &mail.Address{Name: "Partner Team", Address: "partners@example.com"}
	r.Contact = "renewed@example.com"
	r.PartnerCenterURL = "https://partner.microsoft.com/dashboard/v2/membership/advancedspecialization"
	return r
}

// scoresFor returns capability scores of spec's designations that make qual true on day on.
func scoresFor(t testing.TB, spec, qual string, on renewal.Date) []renewal.CapabilityScore {
	cat := renewal.DefaultCatalog()
	s, err := cat.Lookup(spec)
	if err != nil {
		t.Fatal(err)
	}
	var out []renewal.CapabilityScore
	for i, dn := range s.Designations {
		d, err := cat.Designation(dn)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		switch {
		case qual == "attained" && i == 0:
			for _, mt := range d.Metrics {
				m[mt] = 70/len(d.Metrics) + 2
			}
		default: // at risk: points in the first metric only
			m[d.Metrics[0]] = 20 + 5*i
		}
		asOf := on.AddDays(-5)
		if qual == "stale" {
			asOf = on.AddDays(-60)
		}
		out = append(out, renewal.CapabilityScore{Designation: d.Name, Enterprise: m, AsOf: asOf})
		if qual == "unknown" {
			return nil
		}
	}
	return out
}

type mailCase struct {
	kind, year, qual string
	offset, late     int
	rem              renewal.Reminder
	sendOn           renewal.Date
}

func (c mailCase) name() string {
	n := fmt.Sprintf("%s-%s-%s_%+d", c.year, c.kind, c.qual, c.offset)
	if c.late > 0 {
		n += fmt.Sprintf("_late%d", c.late)
	}
	return n
}

// mailMatrix returns every case of the matrix whose renewal is still open on its send day.
func mailMatrix(t testing.TB) []mailCase {
	var out []mailCase
	for _, k := range mailKinds {
		for _, year := range []string{"odd", "even"} {
			for _, q := range mailQuals {
				for _, off := range renewal.DefaultRules().OffsetsDays {
					for _, late := range mailLates {
						rem := reminder(t, k.spec, k.attained, mailYears[year], off, nil)
						on := rem.Milestone.DueOn.AddDays(late)
						if rem.Milestone.Ended(on) {
							continue
						}
						rem.Scores = scoresFor(t, k.spec, q, on)
						rem.RecipientRoles = []string{"Global admin"}
						rem.CoRecipients = []renewal.User{{Email: "liam@contoso.example"}, {Email: "zoe@contoso.example", Name: "Zoë Brandt"}}
						out = append(out, mailCase{kind: k.name, year: year, qual: q, offset: off, late: late, rem: rem, sendOn: on})
					}
				}
			}
		}
	}
	return out
}

func sendTime(on renewal.Date) time.Time { return on.Time(time.UTC).Add(6 * time.Hour) }

// TestGoldenMails pins the subject and text part of every on-time and 10-days-late mail of the
// matrix, one file per kind, year and qualification; go test ./notify -run TestGoldenMails -update
// rewrites them.
func TestGoldenMails(t *testing.T) {
	r := mailRenderer(t)
	files := map[string]*strings.Builder{}
	var order []string
	for _, c := range mailMatrix(t) {
		if c.late != 0 && c.late != 10 {
			continue
		}
		out, err := r.Render(c.rem, sendTime(c.sendOn))
		if err != nil {
			t.Fatal(err)
		}
		f := fmt.Sprintf("%s-%s-%s.golden", c.year, c.kind, c.qual)
		if files[f] == nil {
			files[f] = &strings.Builder{}
			order = append(order, f)
		}
		fmt.Fprintf(files[f], "######## %s, sent %s\nSubject: %s\n\n%s\n", c.name(), c.sendOn, out.Subject, out.Text)
	}
	for _, f := range order {
		checkGolden(t, filepath.Join("testdata", f), files[f].String())
	}
}

// TestGoldenQuotedMails pins three whole mails, HTML included: an odd year attained at −60; an even
// year at risk with an audit at −30 sent 10 days late; the +30 of a references renewal.
func TestGoldenQuotedMails(t *testing.T) {
	r := mailRenderer(t)
	for _, c := range mailMatrix(t) {
		switch c.name() {
		case "odd-audit-attained_-60", "even-audit-at-risk_-30_late10", "even-references-unknown_+30":
		default:
			continue
		}
		out, err := r.Render(c.rem, sendTime(c.sendOn))
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, filepath.Join("testdata", "mail-"+c.name()+".golden"),
			"Subject: "+out.Subject+"\n\n"+out.Text+"\n======== HTML ========\n"+out.HTML)
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; run go test ./notify -run %s -update and review the diff", path, t.Name())
	}
}

// parsedMail is a message as a mail client reads it.
type parsedMail struct {
	header     mail.Header
	subject    string
	text, html string
	icsType    string
	ics        string
}

// parseMail parses raw with net/mail and mime/multipart, decoding every part.
func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	var p parsedMail
	p.header = msg.Header
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	var walk func(ct string, body io.Reader, enc string)
	walk = func(ct string, body io.Reader, enc string) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("multipart: %v", err)
				}
				walk(part.Header.Get("Content-Type"), part, part.Header.Get("Content-Transfer-Encoding"))
			}
		}
		var dec io.Reader = body
		switch strings.ToLower(enc) {
		case "quoted-printable":
			dec = quotedprintable.NewReader(body)
		case "base64":
			dec = newBase64Reader(body)
		}
		b, err := io.ReadAll(dec)
		if err != nil {
			t.Fatalf("%s part: %v", mt, err)
		}
		if params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8") {
			t.Errorf("%s part in %s", mt, params["charset"])
		}
		if !utf8.Valid(b) {
			t.Errorf("%s part is not valid UTF-8", mt)
		}
		switch mt {
		case "text/plain":
			p.text = strings.ReplaceAll(string(b), "\r\n", "\n")
		case "text/html":
			p.html = strings.ReplaceAll(string(b), "\r\n", "\n")
		case "text/calendar":
			p.icsType, p.ics = ct, string(b)
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
	return p
}

// icsEvent is one VEVENT's properties (name → value, parameters dropped) and whether it has an alarm
// seven days before.
type icsEvent struct {
	props map[string]string
	alarm string
}

// parseICS unfolds and parses a calendar strictly: CRLF lines of at most 75 octets, balanced
// BEGIN/END, every property NAME[;params]:value.
func parseICS(t *testing.T, s string) []icsEvent {
	t.Helper()
	if !strings.HasSuffix(s, "\r\n") {
		t.Fatalf("calendar does not end with CRLF")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("bare CR or LF in %q", l)
		}
		if strings.HasPrefix(l, " ") {
			if len(lines) == 0 {
				t.Fatal("folded first line")
			}
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var stack []string
	var events []icsEvent
	var cur *icsEvent
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" {
			t.Fatalf("not a content line: %q", l)
		}
		name, _, _ = strings.Cut(name, ";")
		switch name {
		case "BEGIN":
			stack = append(stack, value)
			if value == "VEVENT" {
				events = append(events, icsEvent{props: map[string]string{}})
				cur = &events[len(events)-1]
			}
			continue
		case "END":
			if len(stack) == 0 || stack[len(stack)-1] != value {
				t.Fatalf("END:%s does not close %v", value, stack)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if cur == nil || len(stack) < 2 {
			continue
		}
		if stack[len(stack)-1] == "VALARM" {
			if name == "TRIGGER" {
				cur.alarm = value
			}
			continue
		}
		cur.props[name] = value
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed %v", stack)
	}
	if len(lines) == 0 || lines[0] != "BEGIN:VCALENDAR" {
		t.Fatal("not a VCALENDAR")
	}
	return events
}

// TestMailRules checks every rule of issue 26 on every mail of the matrix, single and digest.
func TestMailRules(t *testing.T) {
	r := mailRenderer(t)
	type renewalKey struct{ kind, year, qual string }
	subjects := map[renewalKey]map[int]string{}
	uids := map[renewalKey]map[int][]string{}
	seqs := map[renewalKey]map[int]int{}
	for _, c := range mailMatrix(t) {
		env, _, err := r.Envelope(c.rem, sendTime(c.sendOn))
		if err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, env.Data)
		name := c.name()
		checkMailRules(t, name, p, c)
		evs := parseICS(t, p.ics)
		checkEvents(t, name, evs, c.rem)
		if c.late == 0 {
			k := renewalKey{c.kind, c.year, c.qual}
			if subjects[k] == nil {
				subjects[k], uids[k], seqs[k] = map[int]string{}, map[int][]string{}, map[int]int{}
			}
			subjects[k][c.offset] = p.subject
			for _, e := range evs {
				uids[k][c.offset] = append(uids[k][c.offset], e.props["UID"])
				seqs[k][c.offset], _ = strconv.Atoi(e.props["SEQUENCE"])
			}
		}
	}
	for k, subs := range subjects {
		if len(subs) != 6 || len(distinct(subs)) != 6 {
			t.Errorf("%v: %d reminders with %d different subjects: %v", k, len(subs), len(distinct(subs)), subs)
		}
		offsets := renewal.DefaultRules().OffsetsDays
		for i, o := range offsets {
			if !slices.Equal(uids[k][o], uids[k][offsets[0]]) || len(uids[k][o]) != 3 {
				t.Errorf("%v %+d: UIDs %q, want the three of %+d", k, o, uids[k][o], offsets[0])
			}
			if i > 0 && seqs[k][o] <= seqs[k][offsets[i-1]] {
				t.Errorf("%v: SEQUENCE %d at %+d does not grow from %d", k, seqs[k][o], o, seqs[k][offsets[i-1]])
			}
		}
	}
}

func distinct(m map[int]string) map[string]bool {
	out := map[string]bool{}
	for _, s := range m {
		out[s] = true
	}
	return out
}

// checkSubject checks the subject rules shared by singles and digests.
func checkSubject(t *testing.T, name, subject string) {
	t.Helper()
	if n := utf8.RuneCountInString(subject); n > MaxSubjectChars {
		t.Errorf("%s: subject of %d characters: %q", name, n, subject)
	}
	head := string([]rune(subject)[:min(45, utf8.RuneCountInString(subject))])
	if !dateRe.MatchString(head) {
		t.Errorf("%s: no date in the first 45 characters of %q", name, subject)
	}
	if strings.Contains(subject, "Action required") || strings.Contains(subject, "Renewal of") {
		t.Errorf("%s: old subject wording %q", name, subject)
	}
}

func checkMailRules(t *testing.T, name string, p parsedMail, c mailCase) {
	t.Helper()
	checkSubject(t, name, p.subject)
	head := string([]rune(p.subject)[:min(45, utf8.RuneCountInString(p.subject))])
	if !slices.ContainsFunc(stepWords, func(w string) bool { return strings.Contains(head, w) }) {
		t.Errorf("%s: no step in the first 45 characters of %q", name, p.subject)
	}
	atRisk := c.qual == "at-risk"
	if strings.HasPrefix(p.subject, "[At risk] ") != atRisk {
		t.Errorf("%s: subject %q (at risk: %v)", name, p.subject, atRisk)
	}
	if c.kind == "none" && !strings.Contains(p.subject, "Service (Business Applications) specialization") {
		t.Errorf("%s: a Business Applications name without its area: %q", name, p.subject)
	}
	if c.qual == "attained" && (c.year == "odd" || c.kind == "none") && c.offset < 0 && !strings.Contains(p.subject, "no action needed") && !strings.Contains(p.subject, "No action") {
		t.Errorf("%s: an automatic renewal's subject does not say no action is needed: %q", name, p.subject)
	}
	if got := p.header.Get("Reply-To"); !strings.Contains(got, "partners@example.com") {
		t.Errorf("%s: Reply-To %q", name, got)
	}
	for part, body := range map[string]string{"text": p.text, "html": p.html} {
		if strings.Contains(strings.ToLower(body), "renewald") {
			t.Errorf("%s: the %s part names the software", name, part)
		}
		todo, facts := strings.Index(body, "What to do now"), strings.Index(body, "Partner:")
		if part == "html" {
			facts = strings.Index(body, "renewal-bar")
		}
		if todo < 0 || facts < 0 || todo > facts {
			t.Errorf("%s: the %s part has no \"What to do now\" before the facts (%d, %d)", name, part, todo, facts)
		}
		for _, s := range []string{"Contoso Partner Programme", "Global admin at Contoso Ltd", "liam@contoso.example", "Zoë Brandt",
			"Already renewed? Tell ", "renewed@example.com", "reminders stop once it is recorded", "Hello Ada,"} {
			if !strings.Contains(body, s) {
				t.Errorf("%s: the %s part lacks %q", name, part, s)
			}
		}
		if (c.offset == 30) != strings.Contains(body, "applying anew") {
			t.Errorf("%s: the %s part says what lapsing means: %v", name, part, !(c.offset == 30))
		}
		if c.qual == "stale" && (strings.Contains(body, "holds an aligned designation") || strings.Contains(body, "At risk")) {
			t.Errorf("%s: stale scores judged in the %s part", name, part)
		}
		if c.qual != "unknown" && !strings.Contains(body, "as of ") {
			t.Errorf("%s: the %s part does not date the scores", name, part)
		}
		if !strings.Contains(body, "Only the designation was checked") {
			t.Errorf("%s: the %s part does not say only the designation was checked", name, part)
		}
	}
	// The steps: one to three, and the Partner Center URL on its own line within the section.
	sec := p.text[strings.Index(p.text, "What to do now"):]
	sec = sec[:strings.Index(sec, "\n\n"+leadStart(c))+1]
	steps := regexp.MustCompile(`(?m)^\d\. `).FindAllString(sec, -1)
	if len(steps) < 1 || len(steps) > 3 {
		t.Errorf("%s: %d steps:\n%s", name, len(steps), sec)
	}
	if !strings.Contains(sec, "\n"+mailRenderer(t).PartnerCenterURL+"\n") {
		t.Errorf("%s: the Partner Center URL is not on its own line in the section:\n%s", name, sec)
	}
	if !strings.Contains(p.html, `<a href="https://partner.microsoft.com/dashboard/v2/membership/advancedspecialization" style=`) {
		t.Errorf("%s: no Partner Center button", name)
	}
	first := strings.SplitN(sec, "\n", 3)[1]
	switch {
	case atRisk && !strings.HasPrefix(first, "1. Regain the Solutions Partner designation"):
		t.Errorf("%s: at risk, first step %q", name, first)
	case (c.qual == "unknown" || c.qual == "stale") && !strings.HasPrefix(first, "1. Check in Partner Center"):
		t.Errorf("%s: unknown, first step %q", name, first)
	case c.qual == "attained" && c.year == "odd" && !strings.HasPrefix(first, "1. No action is needed"):
		t.Errorf("%s: odd year attained, first step %q", name, first)
	}
	if c.year == "even" && c.kind == "audit" && !strings.Contains(sec, "schedule and pass the audit") && !strings.Contains(sec, "Schedule and pass the audit") {
		t.Errorf("%s: no audit step:\n%s", name, sec)
	}
	// The calendar part.
	mt, params, err := mime.ParseMediaType(p.icsType)
	if err != nil || mt != "text/calendar" || params["charset"] != "utf-8" || params["method"] != "PUBLISH" {
		t.Errorf("%s: calendar part %q", name, p.icsType)
	}
	checkWording(t, p.subject+"\n"+p.text, c.sendOn, c.rem.Milestone)
}

// leadStart is how the paragraph after the steps starts, to cut the section out.
func leadStart(c mailCase) string {
	switch c.rem.Milestone.StageOn(c.sendOn) {
	case renewal.StageEarly:
		return "Contoso Ltd's"
	case renewal.StageAnniversary:
		return "Today, "
	}
	return "The renewal window"
}

// checkEvents checks a reminder's calendar: window, anniversary and grace end, each with a
// description, a seven-day alarm and a SEQUENCE.
func checkEvents(t *testing.T, name string, evs []icsEvent, rem renewal.Reminder) {
	t.Helper()
	if len(evs) != 3 {
		t.Fatalf("%s: %d events, want the window, the anniversary and the grace end", name, len(evs))
	}
	m := rem.Milestone
	wantStart := []renewal.Date{m.WindowOpens, m.WindowCloses, m.GraceEnds}
	for i, e := range evs {
		for _, p := range []string{"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "SEQUENCE"} {
			if e.props[p] == "" {
				t.Errorf("%s: event %d has no %s", name, i, p)
			}
		}
		if e.alarm != "-P7D" {
			t.Errorf("%s: event %d alarm %q", name, i, e.alarm)
		}
		if e.props["DTSTART"] != icsDate(wantStart[i]) {
			t.Errorf("%s: event %d starts %s, want %s", name, i, e.props["DTSTART"], wantStart[i])
		}
	}
	if !strings.HasSuffix(evs[1].props["SUMMARY"], "renewal window closes") {
		t.Errorf("%s: anniversary event %q", name, evs[1].props["SUMMARY"])
	}
}

// TestSixSubjectsForEverySpecialization: for every catalog specialization, year and qualification,
// the six on-time reminders have six different subjects of at most 110 characters, the step and a
// date in the first 45.
func TestSixSubjectsForEverySpecialization(t *testing.T) {
	r := mailRenderer(t)
	longest := 0
	for _, sp := range renewal.DefaultCatalog().Specializations() {
		for _, n := range []int{4, 5} {
			for _, q := range mailQuals {
				seen := map[string]int{}
				for _, off := range renewal.DefaultRules().OffsetsDays {
					rem := reminder(t, sp.Name, "2022-03-06", n, off, nil)
					rem.Scores = scoresFor(t, sp.Name, q, rem.Milestone.DueOn)
					out, err := r.Render(rem, sendTime(rem.Milestone.DueOn))
					if err != nil {
						t.Fatal(err)
					}
					checkSubject(t, sp.Name, out.Subject)
					longest = max(longest, utf8.RuneCountInString(out.Subject))
					if o, dup := seen[out.Subject]; dup {
						t.Errorf("%s year %d %s: %+d and %+d share %q", sp.Name, n, q, o, off, out.Subject)
					}
					seen[out.Subject] = off
				}
			}
		}
	}
	t.Logf("longest subject: %d characters", longest)
}

// TestDigestRules: digests of the matrix's three kinds due the same day start with a summary, one line
// per renewal, nearest deadline first; their subject starts with the count and that deadline.
func TestDigestRules(t *testing.T) {
	r := mailRenderer(t)
	for _, q := range mailQuals {
		for _, off := range renewal.DefaultRules().OffsetsDays {
			for _, late := range []int{0, 10} {
				// Due the same day: two renewals of 2027-03-06 at off, one of 2027-04-05 at off-30.
				a := reminder(t, "Kubernetes on Microsoft Azure", "2022-03-06", 5, off, nil)
				b := reminder(t, "Threat Protection", "2022-03-06", 4+1, off, nil)
				c := reminder(t, "Service", "2022-04-05", 5, off-30, nil)
				if off-30 < -120 {
					continue
				}
				on := a.Milestone.DueOn.AddDays(late)
				if a.Milestone.Ended(on) {
					continue
				}
				b.PartnerID, b.PartnerName, b.OutboxID = "5550001", "Müller & Söhne GmbH", 8
				c.PartnerID, c.PartnerName, c.OutboxID = "7770002", "Northwind", 9
				rems := []renewal.Reminder{c, b, a}
				for i := range rems {
					rems[i].Scores = scoresFor(t, rems[i].Specialization, q, on)
					rems[i].RecipientRoles = []string{"Global admin"}
				}
				name := fmt.Sprintf("digest-%s_%+d_late%d", q, off, late)
				env, subject, err := r.DigestEnvelope(rems, "<digest@example.com>", sendTime(on))
				if err != nil {
					t.Fatal(err)
				}
				p := parseMail(t, env.Data)
				if p.subject != subject {
					t.Errorf("%s: parsed subject %q, rendered %q", name, p.subject, subject)
				}
				checkSubject(t, name, p.subject)
				nearest := a.Milestone.WindowCloses
				if on.After(nearest) {
					nearest = a.Milestone.GraceEnds
				}
				prefix := ""
				if q == "at-risk" {
					prefix = "[At risk] "
				}
				if want := prefix + "3 renewals, next due " + nearest.String(); !strings.HasPrefix(p.subject, want) {
					t.Errorf("%s: subject %q, want it to start %q", name, p.subject, want)
				}
				for part, body := range map[string]string{"text": p.text, "html": p.html} {
					todo := strings.Index(body, "What to do now")
					i1, i2, i3 := strings.Index(body, "Contoso Ltd, Kubernetes"), strings.Index(body, "Müller &"), strings.Index(body, "Northwind, Service")
					if part == "html" {
						i2 = strings.Index(body, "Müller &amp;")
					}
					details := strings.Index(body, "== 1.")
					if part == "html" {
						details = strings.Index(body, "renewal-bar")
					}
					if todo < 0 || i1 < todo || i2 < todo || i3 < i1 || i3 < i2 || details < i3 {
						t.Errorf("%s: %s part's summary is not first, nearest deadline first (%d %d %d %d %d)", name, part, todo, i1, i2, i3, details)
					}
					if strings.Contains(strings.ToLower(body), "renewald") {
						t.Errorf("%s: the %s part names the software", name, part)
					}
				}
				if mt, params, _ := mime.ParseMediaType(p.icsType); mt != "text/calendar" || params["charset"] != "utf-8" {
					t.Errorf("%s: calendar part %q", name, p.icsType)
				}
				evs := parseICS(t, p.ics)
				if len(evs) != 9 {
					t.Errorf("%s: %d events, want 3 per renewal", name, len(evs))
				}
				if !strings.Contains(p.ics, "Müller & Söhne GmbH") {
					t.Errorf("%s: the calendar does not decode the partner's name as UTF-8", name)
				}
			}
		}
	}
}

// TestMailWithoutNamesAndKeys: without a user name the greeting is "Hello,", without reply_to there is
// no Reply-To and the footer says replies are not read, and without organisation the mail is signed by
// the team (config check warns); nobody else mailed is said so.
func TestMailWithoutNamesAndKeys(t *testing.T) {
	r := testRenderer(t)
	rem := reminder(t, "Finance", "2022-03-06", 5, -60, nil)
	rem.RecipientName = ""
	env, _, err := r.Envelope(rem, sendTime(rem.Milestone.DueOn))
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, env.Data)
	if p.header.Get("Reply-To") != "" {
		t.Errorf("Reply-To %q without reply_to", p.header.Get("Reply-To"))
	}
	for _, s := range []string{"Hello,\n", "Replies to this email are not read.", "The partner renewals team", "Tell the partner renewals team", "Nobody else at Contoso Ltd got this reminder."} {
		if !strings.Contains(p.text, s) {
			t.Errorf("text lacks %q:\n%s", s, p.text)
		}
	}
	if strings.Contains(p.text, "ada@contoso.example") {
		t.Error("the address stands in for the name")
	}
}

// TestICSDecodesUTF8 (issue 25 item 13): the calendar part declares its charset, so a partner's name
// outside ASCII decodes as written.
func TestICSDecodesUTF8(t *testing.T) {
	r := testRenderer(t)
	rem := reminder(t, "Finance", "2022-03-06", 5, -60, nil)
	rem.PartnerName = "Müller & Söhne GmbH"
	env, _, err := r.Envelope(rem, sendTime(rem.Milestone.DueOn))
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, env.Data)
	mt, params, _ := mime.ParseMediaType(p.icsType)
	if mt != "text/calendar" || params["charset"] != "utf-8" {
		t.Fatalf("calendar part %q: no charset", p.icsType)
	}
	if !strings.Contains(p.ics, "Müller & Söhne GmbH") {
		t.Errorf("calendar lacks the name:\n%s", p.ics)
	}
}

// newBase64Reader decodes base64 with line breaks.
func newBase64Reader(r io.Reader) io.Reader {
	var b strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		b.WriteString(strings.TrimSpace(sc.Text()))
	}
	return base64Decoder(b.String())
}

func base64Decoder(s string) io.Reader {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return iotest.ErrReader(err)
	}
	return bytes.NewReader(b)
}
