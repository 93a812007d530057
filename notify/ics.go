package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/renewald/renewald/renewal"
)

// ICS returns an RFC 5545 calendar with two all-day events: the renewal window and the grace period.
// UIDs are stable per partner, specialization and anniversary, so a later reminder updates the same
// events instead of adding copies.
func (r *Renderer) ICS(rem renewal.Reminder, now time.Time) string {
	return r.ICSAll([]renewal.Reminder{rem}, now)
}

// ICSAll returns one calendar holding the window and grace events of every reminder's renewal (a
// digest), each renewal once.
func (r *Renderer) ICSAll(rems []renewal.Reminder, now time.Time) string {
	domain := r.messageIDDomain()
	stamp := now.UTC().Format("20060102T150405Z")
	var b strings.Builder
	line := func(s string) { b.WriteString(foldICS(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//renewald//specialization renewal reminders//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	seen := map[string]bool{}
	for _, rem := range rems {
		m := rem.Milestone
		h := sha256.Sum256([]byte(rem.PartnerID + "|" + rem.Specialization + "|" + m.Anniversary.String()))
		key := hex.EncodeToString(h[:8])
		if seen[key] {
			continue
		}
		seen[key] = true
		event := func(kind string, start, endIncl renewal.Date, summary, desc string) {
			line("BEGIN:VEVENT")
			line("UID:" + kind + "-" + key + "@" + domain)
			line("DTSTAMP:" + stamp)
			line("DTSTART;VALUE=DATE:" + icsDate(start))
			line("DTEND;VALUE=DATE:" + icsDate(endIncl.AddDays(1)))
			line("SUMMARY:" + escapeICS(summary))
			line("DESCRIPTION:" + escapeICS(desc))
			line("TRANSP:TRANSPARENT")
			line("END:VEVENT")
		}
		what := rem.Specialization + " (" + rem.PartnerName + ")"
		event("window", m.WindowOpens, m.WindowCloses, "Renewal window: "+what,
			"The renewal window of "+what+" runs from "+m.WindowOpens.String()+" to the anniversary on "+m.WindowCloses.String()+".")
		if m.GraceEnds.After(m.WindowCloses) {
			event("grace", m.WindowCloses.AddDays(1), m.GraceEnds, "Grace period: "+what,
				"Last days to meet the renewal requirements of "+what+"; the grace period ends on "+m.GraceEnds.String()+".")
		}
	}
	line("END:VCALENDAR")
	return b.String()
}

func icsDate(d renewal.Date) string { return strings.ReplaceAll(d.String(), "-", "") }

// escapeICS escapes TEXT values (RFC 5545 §3.3.11).
func escapeICS(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// foldICS ends a content line with CRLF, folding it at 75 octets without splitting a UTF-8 sequence.
func foldICS(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		l := len(string(r))
		if n+l > 75 {
			b.WriteString("\r\n ")
			n = 1
		}
		b.WriteRune(r)
		n += l
	}
	b.WriteString("\r\n")
	return b.String()
}
