package renewal

// Steps (issue 26): what a partner must do now for one renewal, most urgent first, in the programme's
// order — the qualification requirements first; an audit can be scheduled, and customer references
// submitted, only once they are met. Every reminder leads with them.

// QualState is what the capability scores on file say about the aligned designation (R9), as a
// reminder uses it.
type QualState string

// The qualification states.
const (
	QualAttained QualState = "attained" // a qualifying designation is attained on current scores
	QualAtRisk   QualState = "at-risk"  // every qualifying designation is scored, currently, and none is attained
	QualUnknown  QualState = "unknown"  // no current scores decide it (none on file, or only some designations)
	QualStale    QualState = "stale"    // the scores on file are too old to decide it: counted as unknown
)

// QualStateOf returns the state of a qualification judged on the current scores; stale says that
// scores older than the limit were left out.
func QualStateOf(q Qualification, stale bool) QualState {
	switch {
	case q.Qualified:
		return QualAttained
	case q.AtRisk():
		return QualAtRisk
	case stale:
		return QualStale
	}
	return QualUnknown
}

// StepKind is one thing a partner may have to do.
type StepKind string

// The steps.
const (
	StepNoAction   StepKind = "no-action"  // renewal is automatic while the requirements stay met
	StepRegain     StepKind = "regain"     // regain the Solutions Partner designation (at risk)
	StepCheck      StepKind = "check"      // check in Partner Center that the requirements are met (unknown, stale)
	StepAudit      StepKind = "audit"      // schedule and pass the audit (even year, after qualification)
	StepReferences StepKind = "references" // submit customer references and get them approved (even year, after qualification)
	StepKeep       StepKind = "keep"       // keep the requirements met until the deadline (qualified, manual validation due)
	StepLapse      StepKind = "lapse"      // what happens after the last day: the specialization lapses
)

// Situation is what decides the steps of one reminder on its send day.
type Situation struct {
	Stage            Stage
	ManualValidation Validation // due this renewal (none in odd years)
	Qual             QualState
	Last             bool // no later reminder of this renewal follows (the last offset)
}

// NextSteps returns the one to three steps of a situation, most urgent first.
func NextSteps(s Situation) []StepKind {
	if s.Stage == StageEnded {
		return []StepKind{StepLapse}
	}
	var steps []StepKind
	manual := StepKind("")
	switch s.ManualValidation {
	case ValidationAudit:
		manual = StepAudit
	case ValidationCustomerReferences:
		manual = StepReferences
	}
	switch s.Qual {
	case QualAttained:
		if manual == "" {
			steps = append(steps, StepNoAction)
		} else {
			steps = append(steps, manual, StepKeep)
		}
	case QualAtRisk:
		steps = append(steps, StepRegain)
	default:
		steps = append(steps, StepCheck)
	}
	if s.Qual != QualAttained && manual != "" {
		steps = append(steps, manual) // once qualified
	}
	if s.Last || s.Stage == StageLastDay {
		steps = append(steps, StepLapse)
	}
	return steps
}
