package notify

import (
	"strconv"
	"strings"

	"github.com/renewald/renewald/renewal"
)

// The "What to do now" section of every email (issue 26): the steps renewal.NextSteps decides, in
// words, with the dates they are due by. The words are the mail's; the facts behind them (the source's
// order of qualification and manual validation, what lapsing means) are the programme's.

// Step is one thing to do, worded for the email.
type Step struct {
	Kind renewal.StepKind
	Text string // one or two sentences, plain text (the HTML template escapes it)
}

// ScoreLine is one qualifying designation as the capability scores on file show it.
type ScoreLine struct {
	Designation string
	Text        string // "attained on the Enterprise path (70 points)", "no scores on file"
	AsOf        string // the day the scores describe, "" when none are on file or the day was not recorded
	Stale       bool   // older than renewal.scores_stale_days (or of an unrecorded day): not counted
}

// stepShort is a step as a subject names it, after the date or the spec.
var stepShort = map[renewal.StepKind]string{
	renewal.StepNoAction:   "no action needed",
	renewal.StepRegain:     "regain the designation",
	renewal.StepCheck:      "check qualification",
	renewal.StepAudit:      "audit due",
	renewal.StepReferences: "customer references due",
	renewal.StepKeep:       "keep qualified",
	renewal.StepLapse:      "lapses after the grace period",
}

// wordSteps words the steps of d (its Steps' kinds) from its facts.
func wordSteps(d *EmailData, kinds []renewal.StepKind) []Step {
	out := make([]Step, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, Step{Kind: k, Text: stepText(d, k)})
	}
	return out
}

func stepText(d *EmailData, k renewal.StepKind) string {
	by := deadlineWords(d)
	afterQual := d.Qual != string(renewal.QualAttained)
	switch k {
	case renewal.StepNoAction:
		if d.Stage == string(renewal.StageEarly) {
			return "No action is needed if your organisation still meets the qualification requirements when the window opens on " +
				d.WindowOpens.String() + ": renewal is automatic."
		}
		return "No action is needed if your organisation still meets the qualification requirements until " + by + ": renewal is automatic."
	case renewal.StepRegain:
		return regainText(d)
	case renewal.StepCheck:
		return checkText(d)
	case renewal.StepAudit:
		s := "Schedule and pass the audit by " + by + "."
		if afterQual {
			s = "Once qualified, schedule and pass the audit by " + by + ": an audit can be scheduled only after the qualification requirements are met."
		}
		return s
	case renewal.StepReferences:
		s := "Submit customer references and get them approved by " + by + "."
		if afterQual {
			s = "Once qualified, submit customer references and get them approved by " + by + ": references can be submitted only after the qualification requirements are met."
		}
		return s
	case renewal.StepKeep:
		return "Keep meeting the qualification requirements until the renewal is complete; the deadline is " + by + "."
	case renewal.StepLapse:
		if d.Stage == string(renewal.StageEnded) {
			return "The grace period ended on " + d.GraceEnds.String() + ". Unless it was renewed, the specialization has lapsed: " +
				"earning it again means applying anew, with every requirement of a first application."
		}
		return "If the renewal is not complete by " + d.GraceEnds.String() + ", the specialization lapses the day after: " + d.PartnerName +
			" no longer holds it, and earning it again means applying anew, with every requirement of a first application."
	}
	return ""
}

// regainText names the designation closest to attained: its path, the points short and each metric
// without points.
func regainText(d *EmailData) string {
	var best *renewal.Assessment
	for i := range d.Assessments {
		a := &d.Assessments[i]
		if best == nil || a.Short < best.Short || (a.Short == best.Short && len(a.Missing) < len(best.Missing)) {
			best = a
		}
	}
	s := "Regain the Solutions Partner designation by " + deadlineWords(d) + "."
	if best == nil {
		return s
	}
	var lacks []string
	if best.Short > 0 {
		lacks = append(lacks, strconv.Itoa(best.Short)+" points short of 70")
	}
	if len(best.Missing) > 0 {
		lacks = append(lacks, "no points yet in "+strings.Join(best.MissingLabels(), ", "))
	}
	return s + " Closest on the scores as of " + d.ScoresAsOf + ": " + shortDesignation(best.Designation) + ", " + best.PathName() +
		" path, " + strconv.Itoa(best.Total) + " points — " + strings.Join(lacks, "; ") + "."
}

// checkText asks the partner to check the qualification requirements in Partner Center, saying why
// the scores on file do not decide it.
func checkText(d *EmailData) string {
	s := "Check in Partner Center that your organisation meets the qualification requirements by " + deadlineWords(d) +
		": the aligned Solutions Partner designation (" + orList(shortDesignations(d.Designations)) + "), performance and skilling."
	switch {
	case d.Qual == string(renewal.QualStale):
		s += " The capability scores on file are older than " + strconv.Itoa(d.ScoresStaleDays) + " days, so they were not counted."
	case len(d.Assessments) == 0:
		s += " No capability scores of your organisation are on file."
	default:
		s += " The scores on file show none attained, and none are on file for " + orList(shortDesignations(d.UnknownDesignations)) + "."
	}
	return s
}

// deadlineWords is the deadline as a step names it: "today, D" on the day itself (R12), else D.
func deadlineWords(d *EmailData) string {
	if d.Deadline == d.SentOn {
		return "today, " + d.Deadline.String()
	}
	return d.Deadline.String()
}

// shortDesignation drops the "Solutions Partner for " every designation's name starts with, where a
// sentence already says "Solutions Partner designation".
func shortDesignation(name string) string { return strings.TrimPrefix(name, "Solutions Partner for ") }

func shortDesignations(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = shortDesignation(n)
	}
	return out
}

// orList joins names as "A", "A or B", "A, B or C".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// specPhrase names a specialization as one, with its area where the name alone could be read as
// something else: "Service (Business Applications) specialization".
func specPhrase(name, area string) string {
	if area == "Business Applications" {
		return name + " (Business Applications) specialization"
	}
	return name + " specialization"
}
