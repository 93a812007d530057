package renewal

import (
	"strings"
	"testing"
)

// TestCatalogFingerprint: the fingerprint changes with what Qualify judges by (a designation's
// metrics, a specialization's designations) and not with names people type (aliases).
func TestCatalogFingerprint(t *testing.T) {
	base := string(embeddedCatalog)
	parse := func(s string) string {
		t.Helper()
		c, err := ParseCatalog([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c.Fingerprint()
	}
	fp := parse(base)
	if len(fp) != 64 || parse(base) != fp || DefaultCatalog().Fingerprint() != fp {
		t.Fatalf("fingerprint %q is not stable", fp)
	}
	metric := strings.Replace(base, `"metrics": [`, `"metrics": ["new_metric", `, 1)
	if metric == base {
		t.Fatal("catalog.json has no metrics list to change")
	}
	if parse(metric) == fp {
		t.Error("adding a metric to a designation kept the fingerprint")
	}
	// The first aliases list is a designation's (scores are stored under the catalog's names).
	alias := strings.Replace(base, `"aliases": [`, `"aliases": ["Yet another alias", `, 1)
	if alias == base {
		t.Fatal("catalog.json has no aliases list to change")
	}
	if parse(alias) != fp {
		t.Error("a designation's alias changed the fingerprint")
	}
	// A specialization's alias changes which specialization a stored name finds.
	i := strings.Index(base, `"specializations": [`)
	j := strings.Index(base[i:], `"aliases": [`)
	if i < 0 || j < 0 {
		t.Fatal("catalog.json has no specialization with aliases")
	}
	specAlias := base[:i+j] + `"aliases": ["Yet another alias", ` + base[i+j+len(`"aliases": [`):]
	if parse(specAlias) == fp {
		t.Error("a specialization's alias kept the fingerprint")
	}
}
