package renewal

import (
	"fmt"
	"slices"
	"strings"
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
	AsOf        Date // the day the scores describe; zero when not recorded (imported before issue 26)
}

// StaleOn reports whether the score is too old to judge on day on: older than staleDays, or of an
// unrecorded day. A stale score counts as unknown (issue 26): it makes no designation attained and
// no renewal at risk.
func (s CapabilityScore) StaleOn(on Date, staleDays int) bool {
	return s.AsOf.IsZero() || s.AsOf.DaysUntil(on) > staleDays
}

// Freshness is the scores' age rule on one day (issue 26): scores older than StaleDays (0: 45) on On,
// or of an unrecorded day, count as unknown.
type Freshness struct {
	On        Date
	StaleDays int
}

// Current returns the scores that are not stale under f, in their order.
func (f Freshness) Current(scores []CapabilityScore) []CapabilityScore {
	days := f.StaleDays
	if days <= 0 {
		days = DefaultScoresStaleDays
	}
	out := make([]CapabilityScore, 0, len(scores))
	for _, s := range scores {
		if !s.StaleOn(f.On, days) {
			out = append(out, s)
		}
	}
	return out
}

// RiskFingerprint names how c judges risks under f: a risk list built under another fingerprint (another
// catalog, another day or another age rule) is not current.
func (c *Catalog) RiskFingerprint(f Freshness) string {
	days := f.StaleDays
	if days <= 0 {
		days = DefaultScoresStaleDays
	}
	return fmt.Sprintf("%s|scores fresh on %s within %d days", c.Fingerprint(), f.On, days)
}

// DefaultScoresStaleDays is the age past which capability scores count as unknown when nothing else
// is configured (renewal.scores_stale_days).
const DefaultScoresStaleDays = 45

// Assessment is the judgement of one designation's capability score.
type Assessment struct {
	Designation string
	Path        string   // "enterprise" or "smb": the qualifying path, else the path with the higher total
	Total       int      // its total points
	Missing     []string // metrics of the designation with fewer than MinMetricPoints on that path
	Short       int      // points the path lacks to reach QualifyingTotal (0 when it reaches it)
	Attained    bool
}

// MissingLabels returns the missing metrics in words ("Skilling – advanced certifications").
func (a Assessment) MissingLabels() []string {
	out := make([]string, len(a.Missing))
	for i, m := range a.Missing {
		out[i] = MetricLabel(m)
	}
	return out
}

// metricLabels words the capability-score metric keys as the programme names them.
var metricLabels = map[string]string{
	"performance":                   "Performance",
	"skilling":                      "Skilling",
	"skilling_intermediate":         "Skilling – intermediate certifications",
	"skilling_advanced":             "Skilling – advanced certifications",
	"customer_success":              "Customer success",
	"customer_success_usage_growth": "Customer success – usage growth",
	"customer_success_deployments":  "Customer success – deployments",
}

// MetricLabel returns a metric key in words; an unknown key (from a catalog file) is returned with
// its underscores as spaces.
func MetricLabel(key string) string {
	if l, ok := metricLabels[key]; ok {
		return l
	}
	return strings.ReplaceAll(key, "_", " ")
}

// Judge applies R9 to a score: each path (Enterprise, SMB) attains the designation when its total is
// at least 70 and every metric of the designation has at least one point on it. The assessment
// reports the attaining path (the higher total when both attain, Enterprise on a tie), else the path
// with the higher total and what it lacks.
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
		a.Short = max(QualifyingTotal-a.Total, 0)
		a.Attained = a.Short == 0 && len(a.Missing) == 0
		return a
	}
	ent, smb := judge("enterprise", s.Enterprise), judge("smb", s.SMB)
	switch {
	case ent.Attained != smb.Attained:
		if smb.Attained {
			return smb
		}
		return ent
	case smb.Total > ent.Total:
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
	Known       bool         // scores are on file for at least one eligible designation
	Complete    bool         // scores are on file for every eligible designation
	Qualified   bool         // at least one eligible designation is attained
	Assessments []Assessment // one per eligible designation with scores, in catalog order
	Unknown     []string     // eligible designations without scores, in catalog order
}

// AtRisk reports whether the renewal is at risk: scores are on file for every eligible designation
// and none is attained (R9). Missing scores mean nothing is known, which is not a risk finding.
func (q Qualification) AtRisk() bool { return q.Complete && !q.Qualified }

// Qualify judges the partner's scores against the designations eligible for spec.
func (c *Catalog) Qualify(spec *Specialization, scores []CapabilityScore) Qualification {
	var q Qualification
	for _, dn := range spec.Designations {
		d := c.canonical[dn] // the catalog's own spelling, as ParseCatalog stores it
		if d == nil {
			var err error
			if d, err = c.Designation(dn); err != nil {
				continue
			}
		}
		scored := false
		for _, s := range scores {
			if !c.names(s.Designation, d) || (s.Enterprise == nil && s.SMB == nil) {
				continue
			}
			a := Judge(d, s)
			q.Qualified = q.Qualified || a.Attained
			q.Assessments = append(q.Assessments, a)
			scored = true
			break
		}
		if !scored {
			q.Unknown = append(q.Unknown, d.Name)
		}
	}
	q.Known = len(q.Assessments) > 0
	q.Complete = q.Known && len(q.Unknown) == 0
	return q
}

// names reports whether a score given under the designation name name is one of d: name normalizes
// to d's name. The catalog's own spellings are decided without normalizing (the importer stores
// those): d's is d, and another designation's never normalizes to d's, since ParseCatalog refuses
// two designations whose names normalize alike.
func (c *Catalog) names(name string, d *Designation) bool {
	if name == d.Name {
		return true
	}
	if c.canonical[name] != nil {
		return false
	}
	return NormalizeName(name) == NormalizeName(d.Name)
}

// PathName is the path in words: "Enterprise" or "SMB".
func (a Assessment) PathName() string {
	if a.Path == "smb" {
		return "SMB"
	}
	return "Enterprise"
}
