package renewal

import (
	"fmt"
	"slices"
)

// Designation thresholds (R9).
const (
	QualifyingTotal = 70 // points out of 100 a path must reach
	MinMetricPoints = 1  // points every metric of the designation must have
)

// CapabilityScore is a partner's imported score for one designation on both attainment paths;
// a nil path has no scores.
type CapabilityScore struct {
	Designation string         // canonical designation name
	Enterprise  map[string]int // metric → points
	SMB         map[string]int
}

// Assessment is the judgement of one designation's capability score.
type Assessment struct {
	Designation string
	Path        string   // "enterprise" or "smb": the path judged
	Total       int      // its total points
	Missing     []string // metrics of the designation with fewer than MinMetricPoints on that path
	Attained    bool
}

// Judge applies R9 to a score: the path with the higher total is judged; it attains the designation
// when its total is at least 70 and every metric of the designation has at least one point.
func Judge(d *Designation, s CapabilityScore) Assessment {
	judge := func(path string, m map[string]int) Assessment {
		a := Assessment{Designation: d.Name, Path: path}
		for _, p := range m {
			a.Total += p
		}
		for _, metric := range d.Metrics {
			if m[metric] < MinMetricPoints {
				a.Missing = append(a.Missing, metric)
			}
		}
		a.Attained = a.Total >= QualifyingTotal && len(a.Missing) == 0
		return a
	}
	ent, smb := judge("enterprise", s.Enterprise), judge("smb", s.SMB)
	if smb.Total > ent.Total {
		return smb
	}
	return ent
}

// CheckMetrics reports the first metric name in m that designation d does not define, or a
// negative or over-100 value, so imports can reject bad score data.
func CheckMetrics(d *Designation, m map[string]int) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(d.Metrics, k) {
			return fmt.Errorf("metric %q is not one of %s's metrics %v", k, d.Name, d.Metrics)
		}
		if m[k] < 0 || m[k] > 100 {
			return fmt.Errorf("metric %q: %d points is out of range 0..100", k, m[k])
		}
	}
	return nil
}

// Qualification says whether a partner holds a designation aligned with a specialization.
type Qualification struct {
	Known       bool         // scores were imported for at least one eligible designation
	Qualified   bool         // at least one eligible designation is attained
	Assessments []Assessment // one per eligible designation with scores, in catalog order
}

// AtRisk reports whether the scores show no eligible designation attained.
func (q Qualification) AtRisk() bool { return q.Known && !q.Qualified }

// Qualify judges the partner's scores against the designations eligible for spec.
func (c *Catalog) Qualify(spec *Specialization, scores []CapabilityScore) Qualification {
	var q Qualification
	for _, dn := range spec.Designations {
		d, err := c.Designation(dn)
		if err != nil {
			continue
		}
		for _, s := range scores {
			if NormalizeName(s.Designation) != NormalizeName(d.Name) {
				continue
			}
			a := Judge(d, s)
			q.Known = true
			q.Qualified = q.Qualified || a.Attained
			q.Assessments = append(q.Assessments, a)
		}
	}
	return q
}
