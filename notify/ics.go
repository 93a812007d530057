package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/renewald/renewald/renewal"
)

// ICS returns an RFC 5545 calendar with three all-day events of the reminder's renewal (issue 26): the
// renewal window, the anniversary (the window closes) and the last day of grace, each saying what is
// due and with an alarm seven days before. UIDs are stable per renewal and event, and SEQUENCE grows
// with each reminder of the renewal (the offset's place among the offsets), so the reminders update
// the same calendar entries instead of adding copies.
func (r *Renderer) ICS(rem renewal.Reminder, now time.Time) string {
	return r.ICSAll([]renewal.Reminder{rem}, now)
}

// ICSAll returns one calendar holding the events of every reminder's renewal (a digest), each
// renewal once.
func (r *Renderer) ICSAll(rems []renewal.Reminder, now time.Time) string {
	domain := r.messageIDDomain()
	stamp := now.UTC().Format("20060102T150405Z")
	var b strings.Builder
	line := func(s string) { b.WriteString(foldICS(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Partner renewals//specialization renewal reminders//EN")
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
		seq := strconv.Itoa(r.sequence(m.Offset))
		due := "the qualification requirements"
		switch m.ManualValidation {
		case renewal.ValidationAudit:
			due += " and a passed audit"
		case renewal.ValidationCustomerReferences:
			due += " and approved customer references"
		}
		event := func(kind string, start, endIncl renewal.Date, summary, desc string) {
			line("BEGIN:VEVENT")
			line("UID:" + kind + "-" + key + "@" + domain)
			line("SEQUENCE:" + seq)
			line("DTSTAMP:" + stamp)
			line("DTSTART;VALUE=DATE:" + icsDate(start))
			line("DTEND;VALUE=DATE:" + icsDate(endIncl.AddDays(1)))
			line("SUMMARY:" + escapeICS(summary))
			line("DESCRIPTION:" + escapeICS(desc))
			line("TRANSP:TRANSPARENT")
			line("BEGIN:VALARM")
			line("ACTION:DISPLAY")
			line("TRIGGER;RELATED=START:-P7D")
			line("DESCRIPTION:" + escapeICS(summary+" in 7 days"))
			line("END:VALARM")
			line("END:VEVENT")
		}
		what := rem.Specialization + " specialization of " + rem.PartnerName
		event("window", m.WindowOpens, m.WindowCloses, "Renewal window: "+rem.Specialization+" ("+rem.PartnerName+")",
			"The renewal window of the "+what+" runs from "+m.WindowOpens.String()+" to the anniversary on "+m.WindowCloses.String()+
				". Due: "+due+". Check the status in Partner Center.")
		grace := ""
		if m.GraceEnds.After(m.WindowCloses) {
			grace = " A grace period follows to " + m.GraceEnds.String() + "."
		}
		event("anniversary", m.WindowCloses, m.WindowCloses, rem.Specialization+" ("+rem.PartnerName+"): renewal window closes",
			"The anniversary of the "+what+": the renewal window closes today. Due by now: "+due+"."+grace)
		if m.GraceEnds.After(m.WindowCloses) {
			event("grace", m.GraceEnds, m.GraceEnds, rem.Specialization+" ("+rem.PartnerName+"): grace period ends",
				"The last day of the grace period of the "+what+". Due by today: "+due+
					". If it is not renewed, the specialization lapses tomorrow, and earning it again means applying anew.")
		}
	}
	line("END:VCALENDAR")
	return b.String()
}

// sequence is the SEQUENCE of the events a reminder at offset sends: its place among the offsets, so
// each later reminder of a renewal replaces what the earlier ones put in the calendar.
func (r *Renderer) sequence(offset int) int {
	n := 0
	for _, o := range r.Rules.OffsetsDays {
		if o < offset {
			n++
		}
	}
	return n
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
