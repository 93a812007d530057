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
	Templates *templates.Set
	Catalog   *renewal.Catalog
	Rules     renewal.Rules
	From      *mail.Address
	ReplyTo   *mail.Address  // nil: no Reply-To header
	Location  *time.Location // "today" for days left
	// PartnerCenterURL is where the partner checks its specialization status; "" hides the link.
	PartnerCenterURL string
}

// EmailData is what the templates see.
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
	Stage                 string // early, window-open, window, anniversary, grace
	DueOn                 renewal.Date
	WindowOpens           renewal.Date
	WindowCloses          renewal.Date
	GraceEnds             renewal.Date
	GracePeriodDays       int
	WindowOpen            bool // the window is open on the send date
	DaysToClose           int
	DaysToGraceEnd        int
	ManualValidation      string // audit, customer_references or none: what is due this year
	ManualValidationDue   bool
	ManualValidationLabel string
	SpecValidation        string // the catalog's kind, due in even years
	SpecValidationLabel   string
	Requirement           string // what is due, for subjects: "customer references", "qualification requirements"
	Designations          []string
	ScoresKnown           bool
	AtRisk                bool
	Assessments           []renewal.Assessment
	PartnerCenterURL      string // where the partner checks its status; "" hides the link
}

// Stage names the point of the renewal a reminder offset stands at.
func Stage(offset, windowOpensDaysBefore int) string {
	switch {
	case offset < -windowOpensDaysBefore:
		return "early"
	case offset == -windowOpensDaysBefore:
		return "window-open"
	case offset < 0:
		return "window"
	case offset == 0:
		return "anniversary"
	}
	return "grace"
}

// Data assembles the template data of a reminder sent on the date of now.
func (r *Renderer) Data(rem renewal.Reminder, now time.Time) (EmailData, error) {
	spec, err := r.Catalog.Lookup(rem.Specialization)
	if err != nil {
		return EmailData{}, fmt.Errorf("reminder %d: %w", rem.OutboxID, err)
	}
	m := rem.Milestone
	// Days left count from the send date, or from the due date when previewing ahead of it.
	today := renewal.MaxDate(renewal.DateOf(now, r.Location), m.DueOn)
	q := r.Catalog.Qualify(spec, rem.Scores)
	mv := m.ManualValidation
	d := EmailData{
		PartnerID: rem.PartnerID, PartnerName: rem.PartnerName,
		Recipient: rem.Recipient, RecipientName: rem.RecipientName,
		Specialization: spec.Name, SolutionArea: spec.Area,
		Anniversary: m.Anniversary, RenewalYear: m.Year, YearKind: "odd",
		Offset: m.Offset, Stage: Stage(m.Offset, r.Rules.WindowOpensDaysBefore), DueOn: m.DueOn,
		WindowOpens: m.WindowOpens, WindowCloses: m.WindowCloses, GraceEnds: m.GraceEnds,
		GracePeriodDays: r.Rules.GracePeriodDays,
		WindowOpen:      !today.Before(m.WindowOpens) && !today.After(m.WindowCloses),
		DaysToClose:     m.DaysToClose(today), DaysToGraceEnd: m.DaysToGraceEnd(today),
		ManualValidation: string(mv), ManualValidationDue: mv != renewal.ValidationNone,
		ManualValidationLabel: mv.Label(), Requirement: "qualification requirements",
		SpecValidation: string(spec.Validation), SpecValidationLabel: spec.Validation.Label(),
		Designations: spec.Designations, ScoresKnown: q.Known, AtRisk: q.AtRisk(), Assessments: q.Assessments,
	}
	if m.Year%2 == 0 {
		d.YearKind = "even"
	}
	if d.ManualValidationDue {
		d.Requirement = strings.TrimPrefix(mv.Label(), "an ")
	}
	return d, nil
}

// Render renders a reminder's subject and bodies.
func (r *Renderer) Render(rem renewal.Reminder, now time.Time) (templates.Rendered, error) {
	d, err := r.Data(rem, now)
	if err != nil {
		return templates.Rendered{}, err
	}
	d.PartnerCenterURL = r.PartnerCenterURL
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
	m := gomail.NewMsg()
	m.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, r.From)
	// net/mail quotes or encodes the name as it needs (quotes, backslashes, commas, non-ASCII), so the
	// header parses back to the imported name; pasting it into "%s" <%s> does not.
	to := &mail.Address{Name: rem.RecipientName, Address: rem.Recipient}
	if _, err := mail.ParseAddress(to.String()); err != nil {
		return nil, out, fmt.Errorf("reminder %d: recipient %q: %w", rem.OutboxID, rem.Recipient, err)
	}
	m.SetAddrHeaderFromMailAddress(gomail.HeaderTo, to)
	if r.ReplyTo != nil {
		m.SetAddrHeaderFromMailAddress(gomail.HeaderReplyTo, r.ReplyTo)
	}
	m.Subject(out.Subject)
	m.SetMessageIDWithValue(strings.Trim(rem.MessageID, "<>"))
	m.SetDateWithValue(now)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetUserAgent("renewald")
	m.SetBodyString(gomail.TypeTextPlain, out.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, out.HTML)
	ics := r.ICS(rem, now)
	if err := m.AttachReader("renewal-"+rem.Milestone.Anniversary.String()+".ics", strings.NewReader(ics),
		gomail.WithFileContentType("text/calendar; method=PUBLISH")); err != nil {
		return nil, out, fmt.Errorf("reminder %d: attach calendar: %w", rem.OutboxID, err)
	}
	return m, out, nil
}
