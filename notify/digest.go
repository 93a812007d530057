package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/templates"
)

// DigestData is what the digest templates see: several reminders due to one recipient on one day,
// each with the facts of its single email, ordered by deadline (the nearest first).
type DigestData struct {
	Subject          string
	Recipient        string
	RecipientName    string
	SentOn           renewal.Date
	Count            int
	Items            []EmailData
	Nearest          EmailData // Items[0]
	AtRisk           bool      // at least one renewal is at risk (R9)
	PartnerCenterURL string

	// Issue 26.
	SubjectLine  string   // the count and the nearest deadline first (subject.go)
	Greeting     string   // "Hello Ada," or "Hello,"
	Organisation string   // the signature
	TellWhom     string   // who an admin tells of a renewal when there is no contact
	Contact      string   // where to tell the team something
	ContactURL   string   // Contact as a link
	ReplyTo      string   // "" when replies are not read
	Why          string   // "you hold Global admin at Contoso Ltd in Partner Center"
	CoRecipients []string // the others the same reminders went to (names, else addresses), each once
}

// DigestMessageID is the Message-ID of the digest of the given outbox rows to recipient due on
// dueOn: derived from them, so a re-send after a crash carries the same one.
func DigestMessageID(recipient string, dueOn renewal.Date, ids []int64, domain string) string {
	if domain == "" {
		domain = "renewald.invalid"
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	h := sha256.New()
	h.Write([]byte(strings.ToLower(recipient) + "|" + dueOn.String()))
	for _, id := range sorted {
		h.Write([]byte("|" + strconv.FormatInt(id, 10)))
	}
	return "<digest." + strings.ReplaceAll(dueOn.String(), "-", "") + "." + hex.EncodeToString(h.Sum(nil)[:8]) + "@" + domain + ">"
}

// DigestData assembles the digest of rems (one recipient, one due date) written at now.
func (r *Renderer) DigestData(rems []renewal.Reminder, now time.Time) (DigestData, error) {
	if len(rems) == 0 {
		return DigestData{}, fmt.Errorf("digest of no reminders")
	}
	dd := DigestData{Recipient: rems[0].Recipient, RecipientName: rems[0].RecipientName,
		SentOn: renewal.DateOf(now, r.Location), Count: len(rems), PartnerCenterURL: r.PartnerCenterURL}
	for _, rem := range rems {
		d, err := r.Data(rem, now)
		if err != nil {
			return DigestData{}, err
		}
		dd.AtRisk = dd.AtRisk || d.AtRisk
		dd.Items = append(dd.Items, d)
	}
	slices.SortStableFunc(dd.Items, func(a, b EmailData) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		if c := strings.Compare(a.PartnerName, b.PartnerName); c != 0 {
			return c
		}
		return strings.Compare(a.Specialization, b.Specialization)
	})
	dd.Nearest = dd.Items[0]
	first := dd.Items[0]
	dd.Greeting, dd.Organisation, dd.TellWhom, dd.Contact, dd.ContactURL, dd.ReplyTo = first.Greeting, first.Organisation, first.TellWhom, first.Contact, first.ContactURL, first.ReplyTo
	var why []string
	seen := map[string]bool{}
	for _, it := range dd.Items {
		w := "you are listed as an admin of " + it.PartnerName
		if it.RecipientRole != "" {
			w = "you hold " + it.RecipientRole + " at " + it.PartnerName + " in Partner Center"
		}
		if !seen[w] {
			seen[w] = true
			why = append(why, w)
		}
		for _, c := range it.CoRecipients {
			if !seen["\x00"+c] {
				seen["\x00"+c] = true
				dd.CoRecipients = append(dd.CoRecipients, c)
			}
		}
	}
	dd.Why = strings.Join(why, "; ")
	dd.SubjectLine = digestSubjectLine(&dd)
	return dd, nil
}

// RenderDigest renders the digest of rems.
func (r *Renderer) RenderDigest(rems []renewal.Reminder, now time.Time) (templates.Rendered, error) {
	dd, err := r.DigestData(rems, now)
	if err != nil {
		return templates.Rendered{}, err
	}
	return r.Templates.RenderDigest(&dd, func(s string) { dd.Subject = s })
}

// DigestEnvelope renders and encodes the digest of rems: one message to their recipient listing
// every renewal, with one calendar holding every window and grace period, under messageID.
func (r *Renderer) DigestEnvelope(rems []renewal.Reminder, messageID string, now time.Time) (*Envelope, string, error) {
	out, err := r.RenderDigest(rems, now)
	if err != nil {
		return nil, "", err
	}
	m, err := r.mime(rems[0], messageID, out, r.ICSAll(rems, now), "renewals-"+rems[0].Milestone.DueOn.String()+".ics", now)
	if err != nil {
		return nil, "", err
	}
	var b bytes.Buffer
	b.Grow(16 << 10 * len(rems))
	if _, err := m.WriteTo(&b); err != nil {
		return nil, "", fmt.Errorf("digest %s: encode: %w", messageID, err)
	}
	return &Envelope{From: r.From.Address, To: rems[0].Recipient, MessageID: messageID, Data: b.Bytes()}, out.Subject, nil
}
