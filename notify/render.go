// Package notify turns queued reminders into emails and delivers them: it renders the templates with
// the reminder's renewal facts, builds the MIME message with an .ics attachment, sends it over SMTP
// (go-mail) or writes it to a folder, classifies failures, and claims and marks outbox rows through
// the Outbox interface the store satisfies.
package notify

import (
	"bytes"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/templates"
)

// Renderer builds the email of a reminder.
type Renderer struct {
	Templates        *templates.Set
	Catalog          *renewal.Catalog
	Rules            renewal.Rules
	From             *mail.Address
	ReplyTo          *mail.Address  // nil: no Reply-To header
	Location         *time.Location // the zone whose date is "today" when a message is written
	PartnerCenterURL string         // linked in every email where the partner checks its status; "" hides it
	Organisation     string         // who runs the reminders: signs every email ("" : "The partner renewals team")
	Contact          string         // an address or https URL where admins tell the team something; "" : none
	ScoresStaleDays  int            // capability scores older than this count as unknown; 0: 45
}

// DefaultSignature signs the emails when no organisation is configured.
const DefaultSignature = "The partner renewals team"

// defaultScoresStaleDays is renewal.scores_stale_days when a Renderer leaves it 0.
const defaultScoresStaleDays = 45

// EmailData is what the templates see. Every date-relative figure counts from SentOn, the day the
// message is written (R12); none is negative.
type EmailData struct {
	Subject               string
	PartnerID             string
	PartnerName           string
	Recipient             string
	RecipientName         string
	Specialization        string
	SolutionArea          string
	Anniversary           renewal.Date
	RenewalYear           int
	YearKind              string // "odd" or "even"
	Offset                int
	DueOn                 renewal.Date
	SentOn                renewal.Date // the day the message is written, in the configured zone
	Stage                 string       // the renewal's stage on SentOn: early, window-open, window, anniversary, grace, last-day, ended
	WindowOpens           renewal.Date
	WindowCloses          renewal.Date
	GraceEnds             renewal.Date
	GracePeriodDays       int
	WindowOpen            bool // the window is open on SentOn
	DaysToAnniversary     int  // days from SentOn to the anniversary (0 once reached)
	DaysToOpen            int  // days from SentOn to the window's opening (0 once open)
	DaysSinceOpen         int  // days since the window opened (0 before)
	DaysToClose           int  // days from SentOn to the window's close (0 once closed)
	DaysToGraceEnd        int  // days from SentOn to the end of the grace period (0 once ended)
	ManualValidation      string
	ManualValidationDue   bool
	ManualValidationLabel string
	SpecValidation        string // the catalog's kind, due in even years
	SpecValidationLabel   string
	Requirement           string // what is due, for subjects: "customer references", "qualification requirements"
	Designations          []string
	ScoresKnown           bool // scores are on file for at least one qualifying designation
	Qualified             bool // an aligned designation is attained
	AtRisk                bool // scores are on file for every qualifying designation and none is attained (R9)
	Assessments           []renewal.Assessment
	UnknownDesignations   []string     // qualifying designations without scores on file
	Deadline              renewal.Date // the next deadline on SentOn: the window's close, else the grace end
	DaysToDeadline        int          // days from SentOn to Deadline (0 once passed)
	PartnerCenterURL      string       // where the partner checks its status; "" hides the link
	Bar                   Bar          // the picture of the renewal from lead-in to grace end, the send day marked

	// Issue 26: what to do now, honest scores, and who writes.
	Greeting        string      // "Hello Ada," or "Hello," without a name
	SpecPhrase      string      // the specialization named as one: "Service (Business Applications) specialization"
	Qual            string      // attained, at-risk, unknown or stale (renewal.QualState)
	Steps           []Step      // one to three, most urgent first
	ScoreLines      []ScoreLine // every qualifying designation as the scores on file show it
	ScoresAsOf      string      // the day the counted scores describe (the oldest of them), "" without any
	ScoresStaleDays int
	Last            bool     // no later reminder of this renewal follows
	Organisation    string   // the signature
	TellWhom        string   // who an admin tells of a renewal when there is no contact: the organisation
	Contact         string   // where to tell the team something; "" : none
	ContactURL      string   // Contact as a link: the https URL or a mailto: URL
	ReplyTo         string   // the Reply-To address, "" when replies are not read
	RecipientRole   string   // the recipient role the recipient holds ("Global admin"), "" when unknown
	CoRecipients    []string // the others at the partner this reminder goes to: names, else addresses
	SubjectLine     string   // the subject the embedded template writes (subject.go)
	NextShort       string   // the first step in a few words ("audit due"), for a digest's summary line
}

// Data assembles the template data of a reminder written at now: its stage and day counts follow
// from the date of now in the renderer's zone, not from the reminder's due date (R12).
func (r *Renderer) Data(rem renewal.Reminder, now time.Time) (EmailData, error) {
	spec, err := r.Catalog.Lookup(rem.Specialization)
	if err != nil {
		return EmailData{}, fmt.Errorf("reminder %d: %w", rem.OutboxID, err)
	}
	m := rem.Milestone
	if m.WindowCloses.IsZero() {
		// Read back from the outbox and never completed: every date in the email would be wrong.
		return EmailData{}, fmt.Errorf("reminder %d: its window dates are not worked out (renewal.Rules.Complete)", rem.OutboxID)
	}
	on := renewal.DateOf(now, r.Location)
	staleDays := r.ScoresStaleDays
	if staleDays <= 0 {
		staleDays = defaultScoresStaleDays
	}
	var current []renewal.CapabilityScore
	staleOnes := map[string]renewal.CapabilityScore{}
	for _, sc := range rem.Scores {
		if sc.StaleOn(on, staleDays) {
			staleOnes[sc.Designation] = sc
			continue
		}
		current = append(current, sc)
	}
	q := r.Catalog.Qualify(spec, current)
	staleQ := r.Catalog.Qualify(spec, rem.Scores) // which designations the old scores cover
	qual := renewal.QualStateOf(q, len(staleQ.Assessments) > len(q.Assessments))
	mv := m.ManualValidation
	stage := m.StageOn(on)
	d := EmailData{
		PartnerID: rem.PartnerID, PartnerName: rem.PartnerName,
		Recipient: rem.Recipient, RecipientName: rem.RecipientName,
		Specialization: spec.Name, SolutionArea: spec.Area,
		Anniversary: m.Anniversary, RenewalYear: m.Year, YearKind: "odd",
		Offset: m.Offset, DueOn: m.DueOn, SentOn: on, Stage: string(stage),
		WindowOpens: m.WindowOpens, WindowCloses: m.WindowCloses, GraceEnds: m.GraceEnds,
		GracePeriodDays:   m.WindowCloses.DaysUntil(m.GraceEnds),
		WindowOpen:        !on.Before(m.WindowOpens) && !on.After(m.WindowCloses),
		DaysToAnniversary: max(on.DaysUntil(m.Anniversary), 0),
		DaysToOpen:        max(on.DaysUntil(m.WindowOpens), 0),
		DaysSinceOpen:     max(m.WindowOpens.DaysUntil(on), 0),
		DaysToClose:       max(m.DaysToClose(on), 0),
		DaysToGraceEnd:    max(m.DaysToGraceEnd(on), 0),
		ManualValidation:  string(mv), ManualValidationDue: mv != renewal.ValidationNone,
		ManualValidationLabel: mv.Label(), Requirement: "qualification requirements",
		SpecValidation: string(spec.Validation), SpecValidationLabel: spec.Validation.Label(),
		Designations: spec.Designations, ScoresKnown: q.Known, Qualified: q.Qualified, AtRisk: q.AtRisk(),
		Assessments: q.Assessments, UnknownDesignations: q.Unknown, PartnerCenterURL: r.PartnerCenterURL,
		Greeting: "Hello,", SpecPhrase: specPhrase(spec.Name, spec.Area), Qual: string(qual),
		ScoresStaleDays: staleDays, Organisation: r.Organisation, Contact: r.Contact,
	}
	if m.Year%2 == 0 {
		d.YearKind = "even"
	}
	if name := strings.TrimSpace(rem.RecipientName); name != "" {
		d.Greeting = "Hello " + name + ","
	}
	d.TellWhom = d.Organisation
	if d.Organisation == "" {
		d.Organisation, d.TellWhom = DefaultSignature, "the partner renewals team"
	}
	switch {
	case strings.HasPrefix(strings.ToLower(d.Contact), "https://"):
		d.ContactURL = d.Contact
	case d.Contact != "":
		if a, err := mail.ParseAddress(d.Contact); err == nil {
			d.Contact, d.ContactURL = a.Address, "mailto:"+a.Address
		}
	}
	if r.ReplyTo != nil {
		d.ReplyTo = r.ReplyTo.Address
	}
	if len(rem.RecipientRoles) > 0 {
		d.RecipientRole = rem.RecipientRoles[0]
	}
	for _, u := range rem.CoRecipients {
		if strings.TrimSpace(u.Name) != "" {
			d.CoRecipients = append(d.CoRecipients, strings.TrimSpace(u.Name))
		} else {
			d.CoRecipients = append(d.CoRecipients, u.Email)
		}
	}
	d.Deadline = m.WindowCloses
	if on.After(m.WindowCloses) {
		d.Deadline = m.GraceEnds
	}
	d.DaysToDeadline = max(on.DaysUntil(d.Deadline), 0)
	earliest, latest := 0, 0
	for i, o := range r.Rules.OffsetsDays {
		if i == 0 || o < earliest {
			earliest = o
		}
		if i == 0 || o > latest {
			latest = o
		}
	}
	d.Last = m.Offset >= latest
	d.Bar = renewalBar(m.Renewal, on, min(earliest, 0))
	if d.ManualValidationDue {
		d.Requirement = strings.TrimPrefix(mv.Label(), "an ")
	}
	d.ScoreLines, d.ScoresAsOf = scoreLines(q, staleQ, current, staleOnes)
	d.Steps = wordSteps(&d, renewal.NextSteps(renewal.Situation{Stage: stage, ManualValidation: mv, Qual: qual, Last: d.Last}))
	d.SubjectLine = subjectLine(&d, m.Offset <= earliest)
	d.NextShort = stepShort[d.Steps[0].Kind]
	return d, nil
}

// Render renders a reminder's subject and bodies.
func (r *Renderer) Render(rem renewal.Reminder, now time.Time) (templates.Rendered, error) {
	d, err := r.Data(rem, now)
	if err != nil {
		return templates.Rendered{}, err
	}
	return r.Templates.Render(&d, func(s string) { d.Subject = s })
}

// Envelope renders and encodes a reminder for sending: the envelope and the message bytes, and the
// subject to record.
func (r *Renderer) Envelope(rem renewal.Reminder, now time.Time) (*Envelope, string, error) {
	m, out, err := r.Message(rem, now)
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	b.Grow(16 << 10)
	if _, err := m.WriteTo(&b); err != nil {
		return nil, "", fmt.Errorf("reminder %d: encode: %w", rem.OutboxID, err)
	}
	return &Envelope{From: r.From.Address, To: rem.Recipient, MessageID: rem.MessageID, Data: b.Bytes()}, out.Subject, nil
}

// Message builds the MIME message of a reminder: text and HTML parts, the .ics attachment,
// Auto-Submitted, the row's stable Message-ID and Date from now.
func (r *Renderer) Message(rem renewal.Reminder, now time.Time) (*gomail.Msg, templates.Rendered, error) {
	out, err := r.Render(rem, now)
	if err != nil {
		return nil, out, err
	}
	m, err := r.mime(rem, rem.MessageID, out, r.ICS(rem, now), "renewal-"+rem.Milestone.Anniversary.String()+".ics", now)
	return m, out, err
}

// mime builds a message to rem's recipient from rendered parts and a calendar.
func (r *Renderer) mime(rem renewal.Reminder, messageID string, out templates.Rendered, ics, icsName string, now time.Time) (*gomail.Msg, error) {
	m := gomail.NewMsg()
	m.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, r.From)
	// net/mail quotes or encodes the name as it needs (quotes, backslashes, commas, non-ASCII), so the
	// header parses back to the imported name; pasting it into "%s" <%s> does not.
	to := &mail.Address{Name: rem.RecipientName, Address: rem.Recipient}
	if _, err := mail.ParseAddress(to.String()); err != nil {
		return nil, fmt.Errorf("reminder %d: recipient %q: %w", rem.OutboxID, rem.Recipient, err)
	}
	m.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	if r.ReplyTo != nil {
		m.SetAddrHeaderFromMailAddress(gomail.HeaderReplyTo, r.ReplyTo)
	}
	m.Subject(out.Subject)
	m.SetMessageIDWithValue(strings.Trim(messageID, "<>"))
	m.SetDateWithValue(now)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetUserAgent("renewald")
	m.SetBodyString(gomail.TypeTextPlain, out.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, out.HTML)
	if err := m.AttachReader(icsName, strings.NewReader(ics),
		gomail.WithFileContentType("text/calendar; charset=utf-8; method=PUBLISH")); err != nil {
		return nil, fmt.Errorf("reminder %d: attach calendar: %w", rem.OutboxID, err)
	}
	return m, nil
}

// messageIDDomain is the domain of the From address, for Message-IDs ("renewald.invalid" without one).
func (r *Renderer) messageIDDomain() string {
	if r.From != nil {
		if d := AddressDomain(r.From.Address); d != "" {
			return d
		}
	}
	return "renewald.invalid"
}

// scoreLines words every qualifying designation as the scores show it (current, old, or none on
// file), and returns the day the counted scores describe (the oldest of them).
func scoreLines(q, all renewal.Qualification, current []renewal.CapabilityScore, stale map[string]renewal.CapabilityScore) ([]ScoreLine, string) {
	asOf := map[string]renewal.Date{}
	for _, sc := range current {
		asOf[sc.Designation] = sc.AsOf
	}
	judged := map[string]renewal.Assessment{}
	oldest := renewal.Date{}
	for _, a := range q.Assessments {
		judged[a.Designation] = a
		if d := asOf[a.Designation]; oldest.IsZero() || d.Before(oldest) {
			oldest = d
		}
	}
	var lines []ScoreLine
	for _, a := range all.Assessments {
		if cur, ok := judged[a.Designation]; ok {
			lines = append(lines, ScoreLine{Designation: a.Designation, Text: assessmentText(cur), AsOf: asOf[a.Designation].String()})
			continue
		}
		l := ScoreLine{Designation: a.Designation, Text: assessmentText(a), Stale: true}
		for name, sc := range stale {
			if !sc.AsOf.IsZero() && (name == a.Designation || renewal.NormalizeName(name) == renewal.NormalizeName(a.Designation)) {
				l.AsOf = sc.AsOf.String()
			}
		}
		lines = append(lines, l)
	}
	for _, u := range all.Unknown {
		lines = append(lines, ScoreLine{Designation: u, Text: "no scores on file"})
	}
	if oldest.IsZero() {
		return lines, ""
	}
	return lines, oldest.String()
}

// assessmentText words one designation's judgement (R9).
func assessmentText(a renewal.Assessment) string {
	if a.Attained {
		return fmt.Sprintf("attained on the %s path (%d points)", a.PathName(), a.Total)
	}
	s := fmt.Sprintf("not attained: best path %s with %d points", a.PathName(), a.Total)
	if a.Short > 0 {
		s += fmt.Sprintf(", %d short of 70", a.Short)
	}
	if len(a.Missing) > 0 {
		s += "; no points yet in " + strings.Join(a.MissingLabels(), ", ")
	}
	return s
}
