package renewal

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCatalogCounts(t *testing.T) {
	c := DefaultCatalog()
	byArea := map[string]int{}
	for _, s := range c.Specializations() {
		byArea[s.Area]++
	}
	want := map[string]int{"Azure": 14, "Business Applications": 8, "Modern Work": 6, "Security": 4}
	for a, n := range want {
		if byArea[a] != n {
			t.Errorf("%s: %d specializations, want %d", a, byArea[a], n)
		}
	}
	if n := len(c.Specializations()); n != 32 {
		t.Errorf("catalog has %d canonical specializations, want 32", n)
	}
}

func TestCatalogLookup(t *testing.T) {
	c := DefaultCatalog()
	for _, tc := range []struct {
		name, canonical string
		kind            Validation
		designations    []string
	}{
		// Every name from the per-area lists.
		{"AI and Machine Learning on Microsoft Azure", "", ValidationAudit, []string{"Data & AI", "Digital & App Innovation"}},
		{"Analytics on Microsoft Azure", "", ValidationAudit, []string{"Data & AI"}},
		{"Build and Modernize AI Apps with Microsoft Azure", "", ValidationAudit, []string{"Data & AI", "Digital & App Innovation"}},
		{"Data Warehouse Migration to Microsoft Azure", "", ValidationAudit, []string{"Data & AI"}},
		{"DevOps with GitHub on Microsoft Azure", "", ValidationAudit, []string{"Digital & App Innovation"}},
		{"Hybrid Cloud Infrastructure with Microsoft Azure Stack HCI", "", ValidationAudit, []string{"Data & AI", "Digital & App Innovation", "Infrastructure"}},
		{"Hybrid Operations and Management with Microsoft Azure Arc", "", ValidationAudit, []string{"Data & AI", "Digital & App Innovation", "Infrastructure"}},
		{"Infra and Database Migration to Microsoft Azure", "", ValidationAudit, []string{"Data & AI", "Infrastructure"}},
		{"Kubernetes on Microsoft Azure", "", ValidationAudit, []string{"Data & AI", "Digital & App Innovation"}},
		{"Microsoft Azure Virtual Desktop", "", ValidationAudit, []string{"Infrastructure"}},
		{"Microsoft Azure VMware Solution", "", ValidationAudit, []string{"Infrastructure"}},
		{"Migrate Enterprise Applications to Microsoft Azure", "", ValidationAudit, []string{"Data & AI", "Digital & App Innovation"}},
		{"Networking Services in Microsoft Azure", "", ValidationAudit, []string{"Infrastructure"}},
		{"SAP on Microsoft Azure", "", ValidationAudit, []string{"Infrastructure"}},
		{"Business Intelligence", "", ValidationNone, []string{"Business Applications", "Data & AI"}},
		{"Finance", "", ValidationNone, []string{"Business Applications"}},
		{"Intelligent Automation", "", ValidationNone, []string{"Business Applications", "Digital & App Innovation"}},
		{"Microsoft Low Code Application Development", "", ValidationNone, []string{"Business Applications", "Digital & App Innovation"}},
		{"Sales", "", ValidationNone, []string{"Business Applications"}},
		{"Service", "", ValidationNone, []string{"Business Applications"}},
		{"Small and Midsize Business Management", "", ValidationNone, []string{"Business Applications"}},
		{"Supply Chain", "", ValidationNone, []string{"Business Applications"}},
		{"Adoption and Change Management", "", ValidationCustomerReferences, []string{"Modern Work"}},
		{"Calling for Microsoft Teams", "", ValidationCustomerReferences, []string{"Modern Work"}},
		{"Custom Solutions for Microsoft Teams", "", ValidationCustomerReferences, []string{"Modern Work"}},
		{"Meetings and Meeting Rooms for Microsoft Teams", "", ValidationCustomerReferences, []string{"Modern Work"}},
		{"Modernize Endpoints", "", ValidationCustomerReferences, []string{"Modern Work"}},
		{"Teamwork Deployment", "", ValidationCustomerReferences, []string{"Modern Work"}},
		{"Cloud Security", "", ValidationCustomerReferences, []string{"Security"}},
		{"Identity and Access Management", "", ValidationCustomerReferences, []string{"Security"}},
		{"Information Protection and Governance", "", ValidationCustomerReferences, []string{"Security"}},
		{"Threat Protection", "", ValidationCustomerReferences, []string{"Security"}},
		// Aliases and spelling variants.
		{"Microsoft Windows Virtual Desktop", "Microsoft Azure Virtual Desktop", ValidationAudit, nil},
		{"Customer Solutions for Microsoft Teams", "Custom Solutions for Microsoft Teams", ValidationCustomerReferences, nil},
		{"Low Code Application Development", "Microsoft Low Code Application Development", ValidationNone, nil},
		{"Accelerate Developer Productivity with Microsoft Azure", "DevOps with GitHub on Microsoft Azure", ValidationAudit, nil},
		{"  kubernetes   ON microsoft azure ", "Kubernetes on Microsoft Azure", ValidationAudit, nil},
		{"THREAT\tprotection", "Threat Protection", ValidationCustomerReferences, nil},
	} {
		s, err := c.Lookup(tc.name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tc.name, err)
			continue
		}
		want := tc.canonical
		if want == "" {
			want = tc.name
		}
		if s.Name != want || s.Validation != tc.kind {
			t.Errorf("Lookup(%q) = %q %s, want %q %s", tc.name, s.Name, s.Validation, want, tc.kind)
		}
		for i, dn := range tc.designations {
			dd, err := c.Designation(dn)
			if err != nil || i >= len(s.Designations) || s.Designations[i] != dd.Name {
				t.Errorf("%s designations %v, want %v", s.Name, s.Designations, tc.designations)
				break
			}
		}
		if tc.designations != nil && len(s.Designations) != len(tc.designations) {
			t.Errorf("%s designations %v, want %v", s.Name, s.Designations, tc.designations)
		}
	}
}

func TestCatalogRejects(t *testing.T) {
	c := DefaultCatalog()
	_, err := c.Lookup("Azure Expert MSP")
	if !errors.Is(err, ErrNotASpecialization) || !strings.Contains(err.Error(), "Azure Expert MSP") {
		t.Errorf("Azure Expert MSP: %v", err)
	}
	_, err = c.Lookup("azure  expert msp")
	if !errors.Is(err, ErrNotASpecialization) {
		t.Errorf("azure expert msp: %v", err)
	}
	_, err = c.Lookup("Kubernetes on Microsft Azure")
	if !errors.Is(err, ErrUnknownSpecialization) || !strings.Contains(err.Error(), `did you mean "Kubernetes on Microsoft Azure"`) {
		t.Errorf("typo: %v", err)
	}
	_, err = c.Lookup("Quantum Basket Weaving")
	if !errors.Is(err, ErrUnknownSpecialization) || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("unrelated: %v", err)
	}
	if _, err := c.Lookup(strings.Repeat("x", 1<<20)); !errors.Is(err, ErrUnknownSpecialization) {
		t.Errorf("huge name: %v", err)
	}
}

func TestParseCatalogErrors(t *testing.T) {
	for _, bad := range []string{
		`{"designations":[],"specializations":[{"name":"X","area":"Azure","validation":"audit","designations":["Nope"]}]}`,
		`{"designations":[{"name":"D","metrics":["m"]}],"specializations":[{"name":"X","area":"Mars","validation":"audit","designations":["D"]}]}`,
		`{"designations":[{"name":"D","metrics":["m"]}],"specializations":[{"name":"X","area":"Azure","validation":"sometimes","designations":["D"]}]}`,
		`{"designations":[{"name":"D","metrics":["m"]}],"specializations":[{"name":"X","area":"Azure","validation":"audit","designations":["D"]},{"name":"x","area":"Azure","validation":"audit","designations":["D"]}]}`,
		`{"unknown": 1}`,
	} {
		if _, err := ParseCatalog([]byte(bad)); err == nil {
			t.Errorf("ParseCatalog(%s) succeeded", bad)
		}
	}
}

func TestRoles(t *testing.T) {
	m := NewRoleMatcher(DefaultRecipientRoles())
	for _, tc := range []struct {
		roles []string
		want  bool
	}{
		{[]string{"Global admin"}, true},
		{[]string{"global  ADMIN"}, true},
		{[]string{"MPN Partner Admin"}, true},
		{[]string{"Microsoft AI Cloud Partner Program partner admin"}, true},
		{[]string{"mpn partner admin", "Global admin"}, true},
		{[]string{"Referrals admin"}, false},
		{[]string{"Account admin", "Billing admin"}, false},
		{nil, false},
	} {
		if got := m.Matches(tc.roles...); got != tc.want {
			t.Errorf("Matches(%q) = %v, want %v", tc.roles, got, tc.want)
		}
	}
	custom := NewRoleMatcher([]string{"Account admin"})
	if !custom.Matches("account admin") || custom.Matches("Global admin") {
		t.Error("configured roles are not honoured")
	}
	if !KnownRole("Referrals admin") || KnownRole("Chief Vibes Officer") {
		t.Error("KnownRole")
	}
}

func TestJudge(t *testing.T) {
	c := DefaultCatalog()
	mw, _ := c.Designation("Solutions Partner for Modern Work")
	sec, _ := c.Designation("Security")
	full := map[string]int{"performance": 30, "skilling_intermediate": 15, "skilling_advanced": 10, "customer_success_usage_growth": 10, "customer_success_deployments": 5}
	for _, tc := range []struct {
		name     string
		d        *Designation
		s        CapabilityScore
		attained bool
		path     string
		total    int
	}{
		{"exactly 70, all metrics", mw, CapabilityScore{Enterprise: full}, true, "enterprise", 70},
		{"69 points", mw, CapabilityScore{Enterprise: map[string]int{"performance": 29, "skilling_intermediate": 15, "skilling_advanced": 10, "customer_success_usage_growth": 10, "customer_success_deployments": 5}}, false, "enterprise", 69},
		{"a metric at zero", mw, CapabilityScore{Enterprise: map[string]int{"performance": 40, "skilling_intermediate": 20, "skilling_advanced": 0, "customer_success_usage_growth": 20, "customer_success_deployments": 20}}, false, "enterprise", 100},
		{"smb higher and passing", mw, CapabilityScore{Enterprise: map[string]int{"performance": 10}, SMB: full}, true, "smb", 70},
		// R9 revised: both paths are judged; the one that qualifies is reported.
		{"smb higher but incomplete, enterprise complete", mw, CapabilityScore{Enterprise: full, SMB: map[string]int{"performance": 90}}, true, "enterprise", 70},
		{"neither qualifies: the higher total is reported", mw, CapabilityScore{Enterprise: map[string]int{"performance": 50}, SMB: map[string]int{"performance": 90}}, false, "smb", 90},
		{"both qualify: the higher total", mw, CapabilityScore{Enterprise: full, SMB: map[string]int{"performance": 40, "skilling_intermediate": 15, "skilling_advanced": 10, "customer_success_usage_growth": 10, "customer_success_deployments": 5}}, true, "smb", 80},
		{"tie, both qualify: enterprise", mw, CapabilityScore{Enterprise: full, SMB: full}, true, "enterprise", 70},
		{"tie, neither qualifies: enterprise", mw, CapabilityScore{Enterprise: map[string]int{"performance": 60}, SMB: map[string]int{"performance": 60}}, false, "enterprise", 60},
		{"exactly 70 with one metric at 0", mw, CapabilityScore{SMB: map[string]int{"performance": 35, "skilling_intermediate": 15, "skilling_advanced": 0, "customer_success_usage_growth": 15, "customer_success_deployments": 5}}, false, "smb", 70},
		{"security has four metrics", sec, CapabilityScore{Enterprise: map[string]int{"performance": 40, "skilling_intermediate": 10, "skilling_advanced": 10, "customer_success": 10}}, true, "enterprise", 70},
		{"no scores", sec, CapabilityScore{}, false, "enterprise", 0},
	} {
		a := Judge(tc.d, tc.s)
		if a.Attained != tc.attained || a.Path != tc.path || a.Total != tc.total {
			t.Errorf("%s: %+v", tc.name, a)
		}
	}
	if err := CheckMetrics(sec, map[string]int{"customer_success_usage_growth": 3}); err == nil {
		t.Error("security accepted a modern work metric")
	}
	if err := CheckMetrics(mw, map[string]int{"performance": 101}); err == nil {
		t.Error("101 points accepted")
	}
}

func TestQualify(t *testing.T) {
	c := DefaultCatalog()
	k8s, _ := c.Lookup("Kubernetes on Microsoft Azure") // Data & AI or Digital & App Innovation
	pass := map[string]int{"performance": 30, "skilling_intermediate": 15, "skilling_advanced": 10, "customer_success_usage_growth": 10, "customer_success_deployments": 5}
	fail := map[string]int{"performance": 5}
	const dai, dai2 = "Solutions Partner for Data & AI (Azure)", "Solutions Partner for Digital & App Innovation (Azure)"
	for _, tc := range []struct {
		name                             string
		scores                           []CapabilityScore
		known, complete, qualified, risk bool
		unknown                          []string
	}{
		{"no scores", nil, false, false, false, false, []string{dai, dai2}},
		{"a non-eligible designation only", []CapabilityScore{{Designation: "Solutions Partner for Infrastructure (Azure)", Enterprise: pass}}, false, false, false, false, []string{dai, dai2}},
		{"one of two scored, failing: unknown, not at risk", []CapabilityScore{{Designation: dai, Enterprise: fail}}, true, false, false, false, []string{dai2}},
		{"one of two scored, attained", []CapabilityScore{{Designation: dai, Enterprise: pass}}, true, false, true, false, []string{dai2}},
		{"all scored, none attained: at risk", []CapabilityScore{{Designation: dai, Enterprise: fail}, {Designation: dai2, SMB: fail}}, true, true, false, true, nil},
		{"all scored, one attained", []CapabilityScore{{Designation: dai, Enterprise: fail}, {Designation: dai2, SMB: pass}}, true, true, true, false, nil},
		{"a designation row without either path is unknown", []CapabilityScore{{Designation: dai, Enterprise: fail}, {Designation: dai2}}, true, false, false, false, []string{dai2}},
		{"a name spelled another way counts", []CapabilityScore{{Designation: "  solutions partner for DATA & AI (azure)", Enterprise: fail}, {Designation: dai2, SMB: fail}}, true, true, false, true, nil},
		{"an alias does not name the designation", []CapabilityScore{{Designation: "Data & AI", Enterprise: pass}, {Designation: dai2, SMB: fail}}, true, false, false, false, []string{dai}},
		{"the first scored of two spellings counts", []CapabilityScore{{Designation: "solutions partner for data & ai (azure)"}, {Designation: dai, Enterprise: pass}, {Designation: dai2, SMB: fail}}, true, true, true, false, nil},
	} {
		q := c.Qualify(k8s, tc.scores)
		if q.Known != tc.known || q.Complete != tc.complete || q.Qualified != tc.qualified || q.AtRisk() != tc.risk || !slices.Equal(q.Unknown, tc.unknown) {
			t.Errorf("%s: %+v (at risk %v)", tc.name, q, q.AtRisk())
		}
	}
}

func TestMetricLabels(t *testing.T) {
	c := DefaultCatalog()
	mw, _ := c.Designation("Solutions Partner for Modern Work")
	a := Judge(mw, CapabilityScore{Enterprise: map[string]int{"performance": 40}})
	got := strings.Join(a.MissingLabels(), "; ")
	want := "Skilling – intermediate certifications; Skilling – advanced certifications; Customer success – usage growth; Customer success – deployments"
	if got != want || a.Short != 30 {
		t.Errorf("missing %q short %d, want %q short 30", got, a.Short, want)
	}
	for _, d := range []string{"Solutions Partner for Data & AI (Azure)", "Solutions Partner for Security", "Solutions Partner for Business Applications"} {
		des, err := c.Designation(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range des.Metrics {
			if _, ok := metricLabels[m]; !ok {
				t.Errorf("%s: metric %s has no label", d, m)
			}
		}
	}
}
