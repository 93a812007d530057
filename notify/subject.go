package notify

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/renewald/renewald/renewal"
)

// MaxSubjectChars is the longest subject the embedded templates write (issue 26): a phone's inbox
// shows about 45 characters, so the step and its date come first, and the whole stays short.
const MaxSubjectChars = 110

// Subjects (issue 26): after an optional "[At risk] ", the step and its date ("Audit due by
// 2027-03-06", "Window opens today, 2027-01-05"), then the specialization named as one, then what a day
// count counts to. When the whole does not fit in MaxSubjectChars (the longest catalog names), a short
// head that still differs from the other stages' is used without the tail, so the six reminders of
// one anniversary keep six different subjects.

// subjectLine words the subject of one reminder.
func subjectLine(d *EmailData, firstOffset bool) string {
	prefix := ""
	if d.AtRisk {
		prefix = "[At risk] "
	}
	first := d.Steps[0].Kind
	spec := d.SpecPhrase
	long, tail, event := "", "", false
	switch renewal.Stage(d.Stage) {
	case renewal.StageWindowOpen:
		long, tail, event = "Window opens today, "+d.WindowOpens.String(), ": "+stepShort[first], true
	case renewal.StageAnniversary:
		long, tail, event = "Window closes today, "+d.WindowCloses.String(), ": "+stepShort[first], true
		if d.GracePeriodDays > 0 {
			tail += ", grace ends in " + days(d.DaysToGraceEnd)
		}
	case renewal.StageLastDay:
		long, tail, event = "Grace period ends today, "+d.GraceEnds.String(), ": "+stepShort[first], true
	case renewal.StageEnded:
		long = "Grace period ended " + d.GraceEnds.String()
	default:
		long = stepHead(d, first)
		switch renewal.Stage(d.Stage) {
		case renewal.StageEarly:
			tail = ", window opens in " + days(d.DaysToOpen)
		case renewal.StageWindow:
			tail = ", window closes in " + days(d.DaysToClose)
		case renewal.StageGrace:
			tail = ", grace ends in " + days(d.DaysToGraceEnd)
		}
	}
	candidates := []string{prefix + long + " — " + spec + tail}
	if event || renewal.Stage(d.Stage) != renewal.StageEarly {
		// Without the day count, the step still leads: only the two early reminders (−120, −90)
		// share a head and need their tail (or the short heads) to differ.
		candidates = append(candidates, prefix+long+" — "+spec)
	}
	candidates = append(candidates, prefix+shortHead(d, first, firstOffset)+" — "+spec)
	for _, c := range candidates {
		if utf8.RuneCountInString(c) <= MaxSubjectChars {
			return c
		}
	}
	return cutRunes(candidates[len(candidates)-1], MaxSubjectChars)
}

// stepHead is the first step with the date it is due by.
func stepHead(d *EmailData, k renewal.StepKind) string {
	by := d.Deadline.String()
	switch k {
	case renewal.StepNoAction:
		if d.Stage == string(renewal.StageEarly) {
			return "No action needed: renews " + d.WindowOpens.String()
		}
		return "No action needed until " + by
	case renewal.StepRegain:
		return "Regain designation by " + by
	case renewal.StepCheck:
		return "Check qualification by " + by
	case renewal.StepAudit:
		return "Audit due by " + by
	case renewal.StepReferences:
		return "Customer references due by " + by
	}
	return "Renewal due by " + by
}

// shortHead is a head of at most 24 characters (so "[At risk] ", it and " — " leave room for the
// longest catalog name), different for every stage.
func shortHead(d *EmailData, k renewal.StepKind, firstOffset bool) string {
	switch renewal.Stage(d.Stage) {
	case renewal.StageEarly:
		if !firstOffset {
			return "Window opens " + d.WindowOpens.String()
		}
		switch k {
		case renewal.StepNoAction:
			return "No action: renews " + d.WindowOpens.String()
		case renewal.StepCheck:
			return "Check by " + d.Deadline.String()
		case renewal.StepReferences:
			return "References by " + d.Deadline.String()
		case renewal.StepRegain:
			return "Regain by " + d.Deadline.String()
		case renewal.StepAudit:
			return "Audit by " + d.Deadline.String()
		}
		return stepHead(d, k)
	case renewal.StageWindowOpen:
		return "Opens today, " + d.WindowOpens.String()
	case renewal.StageWindow:
		return "Window closes " + d.WindowCloses.String()
	case renewal.StageAnniversary:
		return "Anniversary " + d.Anniversary.String()
	case renewal.StageGrace:
		return "Grace ends " + d.GraceEnds.String()
	case renewal.StageLastDay:
		return "Last day: " + d.GraceEnds.String()
	}
	return "Ended " + d.GraceEnds.String()
}

// digestSubjectLine words a digest's subject: the count and the nearest deadline first.
func digestSubjectLine(dd *DigestData) string {
	prefix := ""
	if dd.AtRisk {
		prefix = "[At risk] "
	}
	n := dd.Nearest
	head := prefix + strconv.Itoa(dd.Count) + " renewals, next due " + n.Deadline.String()
	for _, c := range []string{
		head + " — " + n.SpecPhrase + ": " + stepShort[n.Steps[0].Kind] + " (" + n.PartnerName + ")",
		head + " — " + n.SpecPhrase + ": " + stepShort[n.Steps[0].Kind],
		head + " — " + n.SpecPhrase,
	} {
		if utf8.RuneCountInString(c) <= MaxSubjectChars {
			return c
		}
	}
	return head
}

// days words a count of days ("1 day", "5 days").
func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// cutRunes cuts s to at most n characters, marking the cut with an ellipsis.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
