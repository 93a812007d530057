package renewal

import (
	"slices"
	"testing"
)

// TestNextSteps pins the steps of every qualification state and manual validation, in the source's
// order: qualification first, the audit or references after it, the lapse on the last reminder.
func TestNextSteps(t *testing.T) {
	a, r, n := ValidationAudit, ValidationCustomerReferences, ValidationNone
	for _, tc := range []struct {
		stage Stage
		mv    Validation
		qual  QualState
		last  bool
		want  []StepKind
	}{
		{StageEarly, n, QualAttained, false, []StepKind{StepNoAction}},
		{StageWindow, n, QualAttained, false, []StepKind{StepNoAction}},
		{StageEarly, a, QualAttained, false, []StepKind{StepAudit, StepKeep}},
		{StageWindow, r, QualAttained, false, []StepKind{StepReferences, StepKeep}},
		{StageEarly, n, QualAtRisk, false, []StepKind{StepRegain}},
		{StageWindow, a, QualAtRisk, false, []StepKind{StepRegain, StepAudit}},
		{StageWindow, r, QualAtRisk, false, []StepKind{StepRegain, StepReferences}},
		{StageEarly, n, QualUnknown, false, []StepKind{StepCheck}},
		{StageEarly, a, QualUnknown, false, []StepKind{StepCheck, StepAudit}},
		{StageGrace, r, QualStale, false, []StepKind{StepCheck, StepReferences}},
		{StageLastDay, n, QualAttained, true, []StepKind{StepNoAction, StepLapse}},
		{StageLastDay, a, QualAtRisk, true, []StepKind{StepRegain, StepAudit, StepLapse}},
		{StageLastDay, a, QualAttained, true, []StepKind{StepAudit, StepKeep, StepLapse}},
		{StageGrace, r, QualUnknown, true, []StepKind{StepCheck, StepReferences, StepLapse}},
		{StageLastDay, n, QualUnknown, false, []StepKind{StepCheck, StepLapse}}, // sent late on the last day
		{StageEnded, a, QualAtRisk, true, []StepKind{StepLapse}},
	} {
		got := NextSteps(Situation{Stage: tc.stage, ManualValidation: tc.mv, Qual: tc.qual, Last: tc.last})
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s %s last=%v: %v, want %v", tc.stage, tc.mv, tc.qual, tc.last, got, tc.want)
		}
		if len(got) < 1 || len(got) > 3 {
			t.Errorf("%d steps", len(got))
		}
	}
}

func TestQualStateOf(t *testing.T) {
	for _, tc := range []struct {
		q     Qualification
		stale bool
		want  QualState
	}{
		{Qualification{Known: true, Qualified: true}, true, QualAttained},
		{Qualification{Known: true, Complete: true}, false, QualAtRisk},
		{Qualification{Known: true, Complete: true}, true, QualAtRisk},
		{Qualification{Known: true}, true, QualStale},
		{Qualification{}, false, QualUnknown},
	} {
		if got := QualStateOf(tc.q, tc.stale); got != tc.want {
			t.Errorf("%+v stale=%v: %s, want %s", tc.q, tc.stale, got, tc.want)
		}
	}
	s := CapabilityScore{AsOf: MustParseDate("2026-01-01")}
	if s.StaleOn(MustParseDate("2026-02-15"), 45) || !s.StaleOn(MustParseDate("2026-02-16"), 45) || !(CapabilityScore{}).StaleOn(MustParseDate("2026-01-01"), 45) {
		t.Error("StaleOn: 45 days old is current, 46 is stale, an unrecorded day is stale")
	}
}
