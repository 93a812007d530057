package renewal

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

//go:embed catalog.json
var embeddedCatalog []byte

// The solution areas of the catalog.
var solutionAreas = []string{"Azure", "Business Applications", "Modern Work", "Security"}

// ErrUnknownSpecialization is returned by Catalog.Lookup for a name the catalog does not know.
var ErrUnknownSpecialization = errors.New("unknown specialization")

// ErrNotASpecialization is returned by Catalog.Lookup for programmes that look like specializations but
// have their own process (Azure Expert MSP).
var ErrNotASpecialization = errors.New("not a specialization")

// ErrUnknownDesignation is returned by Catalog.Designation for a name the catalog does not know.
var ErrUnknownDesignation = errors.New("unknown Solutions Partner designation")

// Designation is a Solutions Partner designation and the capability-score metrics it is judged on.
type Designation struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	Metrics []string `json:"metrics"`
}

// Specialization is one catalog entry.
type Specialization struct {
	Name         string     `json:"name"`
	Area         string     `json:"area"`
	Validation   Validation `json:"validation"`
	Designations []string   `json:"designations"` // canonical designation names; any one qualifies
	Aliases      []string   `json:"aliases,omitempty"`
}

type excluded struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
}

// Catalog is the list of specializations and designations with name lookup.
type Catalog struct {
	specs     []*Specialization
	byName    map[string]*Specialization
	byDesig   map[string]*Designation
	canonical map[string]*Designation // by the exact canonical name
	excluded  map[string]string
	judged    string // Fingerprint
}

// NormalizeName folds case and runs of white space so that names compare as people mean them.
func NormalizeName(s string) string {
	if n, ok := normalizeASCII(s); ok {
		return n
	}
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// normalizeASCII is NormalizeName for ASCII text in one pass (ok false for anything else): names are
// normalized for every lookup and every score judged, so the common case allocates once at most.
func normalizeASCII(s string) (string, bool) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' }
	clean := true // already lower case, single spaces, no space at either end
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return "", false
		case 'A' <= c && c <= 'Z':
			clean = false
		case isSpace(c) && (c != ' ' || i == 0 || i == len(s)-1 || s[i+1] == ' ' || isSpace(s[i+1])):
			clean = false
		}
	}
	if clean {
		return s, true
	}
	b := make([]byte, 0, len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) {
			space = len(b) > 0
			continue
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b), true
}

// DefaultCatalog returns the embedded catalog.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(embeddedCatalog)
	if err != nil {
		panic(fmt.Sprintf("embedded catalog: %v", err)) // a build defect, caught by the tests
	}
	return c
}

// ParseCatalog reads a catalog in the JSON form of the embedded one and checks it.
func ParseCatalog(data []byte) (*Catalog, error) {
	var raw struct {
		Designations    []*Designation    `json:"designations"`
		Specializations []*Specialization `json:"specializations"`
		Excluded        []excluded        `json:"excluded"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("parse catalog: %w", err)
	}
	c := &Catalog{
		byName:    map[string]*Specialization{},
		byDesig:   map[string]*Designation{},
		canonical: map[string]*Designation{},
		excluded:  map[string]string{},
	}
	for i, d := range raw.Designations {
		if strings.TrimSpace(d.Name) == "" || len(d.Metrics) == 0 {
			return nil, fmt.Errorf("catalog: designations[%d]: needs a name and at least one metric", i)
		}
		for _, n := range append([]string{d.Name}, d.Aliases...) {
			k := NormalizeName(n)
			if _, dup := c.byDesig[k]; dup {
				return nil, fmt.Errorf("catalog: designations[%d]: name %q is used twice", i, n)
			}
			c.byDesig[k] = d
		}
		c.canonical[d.Name] = d
	}
	for i, s := range raw.Specializations {
		where := fmt.Sprintf("catalog: specializations[%d] (%q)", i, s.Name)
		if strings.TrimSpace(s.Name) == "" {
			return nil, fmt.Errorf("%s: name is empty", where)
		}
		if !slices.Contains(solutionAreas, s.Area) {
			return nil, fmt.Errorf("%s: area %q is not one of %s", where, s.Area, strings.Join(solutionAreas, ", "))
		}
		if !s.Validation.Valid() {
			return nil, fmt.Errorf("%s: validation %q is not audit, customer_references or none", where, s.Validation)
		}
		if len(s.Designations) == 0 {
			return nil, fmt.Errorf("%s: lists no designation", where)
		}
		for j, dn := range s.Designations {
			d, ok := c.byDesig[NormalizeName(dn)]
			if !ok {
				return nil, fmt.Errorf("%s: designations[%d]: %w %q", where, j, ErrUnknownDesignation, dn)
			}
			s.Designations[j] = d.Name
		}
		for _, n := range append([]string{s.Name}, s.Aliases...) {
			k := NormalizeName(n)
			if _, dup := c.byName[k]; dup {
				return nil, fmt.Errorf("%s: name %q is used twice", where, n)
			}
			c.byName[k] = s
		}
		c.specs = append(c.specs, s)
	}
	for _, e := range raw.Excluded {
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			c.excluded[NormalizeName(n)] = e.Name
		}
	}
	c.judged = c.fingerprint()
	return c, nil
}

// Fingerprint identifies what judging a stored enrollment depends on: which specialization its
// name finds (names, aliases, the excluded programmes), that specialization's designations, each
// designation's metrics and the points thresholds. Two catalogs with the same fingerprint judge
// every stored enrollment alike (areas and designation aliases do not count: scores are stored
// under the catalog's names), so a list derived with one (the store's risk list) holds for the other.
func (c *Catalog) Fingerprint() string { return c.judged }

func (c *Catalog) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "qualifying %d min %d\n", QualifyingTotal, MinMetricPoints)
	seen := map[string]bool{}
	for _, s := range c.specs {
		fmt.Fprintf(h, "spec %q %q %q\n", s.Name, s.Aliases, s.Designations) // aliases: what Lookup finds
		for _, dn := range s.Designations {
			if d := c.byDesig[NormalizeName(dn)]; d != nil && !seen[d.Name] {
				seen[d.Name] = true
				fmt.Fprintf(h, "designation %q %q\n", d.Name, d.Metrics)
			}
		}
	}
	excluded := slices.Sorted(maps.Keys(c.excluded))
	fmt.Fprintf(h, "excluded %q\n", excluded)
	return hex.EncodeToString(h.Sum(nil))
}

// Specializations returns the canonical entries in catalog order.
func (c *Catalog) Specializations() []*Specialization { return slices.Clone(c.specs) }

// Lookup resolves a specialization name or alias, ignoring case and repeated spaces. An unknown name
// gives an ErrUnknownSpecialization that suggests the closest catalog name; Azure Expert MSP gives
// ErrNotASpecialization.
func (c *Catalog) Lookup(name string) (*Specialization, error) {
	k := NormalizeName(name)
	if s, ok := c.byName[k]; ok {
		return s, nil
	}
	if e, ok := c.excluded[k]; ok {
		return nil, fmt.Errorf("%w: %s has its own renewal process and is not handled by renewald", ErrNotASpecialization, e)
	}
	if hint := c.closest(k); hint != "" {
		return nil, fmt.Errorf("%w %q (did you mean %q?)", ErrUnknownSpecialization, name, hint)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownSpecialization, name)
}

// Designation resolves a designation name or alias ("Modern Work", "Solutions Partner for Modern Work").
func (c *Catalog) Designation(name string) (*Designation, error) {
	if d, ok := c.byDesig[NormalizeName(name)]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownDesignation, name)
}

// closest returns the catalog name nearest to the normalised name k, or "" when nothing is close.
func (c *Catalog) closest(k string) string {
	if len(k) > 200 { // nothing in the catalog is that long; spare the quadratic distance
		return ""
	}
	best, bestDist := "", -1
	for n, s := range c.byName {
		d := editDistance(k, n)
		if bestDist < 0 || d < bestDist || (d == bestDist && s.Name < best) {
			best, bestDist = s.Name, d
		}
	}
	if bestDist >= 0 && bestDist <= max(3, len(k)/3) {
		return best
	}
	// Otherwise the shortest name that holds every word given ("Kubernetes on Azure").
	words := strings.Fields(k)
	best = ""
	for n, s := range c.byName {
		if len(words) > 0 && !slices.ContainsFunc(words, func(w string) bool { return !slices.Contains(strings.Fields(n), w) }) &&
			(best == "" || len(s.Name) < len(best) || (len(s.Name) == len(best) && s.Name < best)) {
			best = s.Name
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, by runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
