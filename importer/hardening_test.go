package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// partnerJSON returns a one-partner file with one field replaced.
func partnerJSON(t *testing.T, field, value string) string {
	t.Helper()
	p := map[string]any{
		"id": "4761234", "name": "Contoso Ltd",
		"users":           []map[string]any{{"email": "ada@contoso.example", "name": "Ada", "roles": []string{"Global admin"}}},
		"specializations": []map[string]any{{"name": "Kubernetes on Microsoft Azure", "attained_on": "2023-04-15", "status": "active"}},
		"capability_scores": []map[string]any{{"designation": "Solutions Partner for Modern Work",
			"enterprise": map[string]int{"performance": 20}, "smb": map[string]int{}}},
	}
	u := p["users"].([]map[string]any)[0]
	s := p["specializations"].([]map[string]any)[0]
	sc := p["capability_scores"].([]map[string]any)[0]
	switch field {
	case "id":
		p["id"] = value
	case "partner_name":
		p["name"] = value
	case "email":
		u["email"] = value
	case "name":
		u["name"] = value
	case "roles":
		u["roles"] = []string{"Global admin", value}
	case "specialization":
		s["name"] = value
	case "attained_on":
		s["attained_on"] = value
	case "status":
		s["status"] = value
	case "designation":
		sc["designation"] = value
	case "enterprise":
		sc["enterprise"] = map[string]int{value: 1}
	default:
		t.Fatalf("no field %s", field)
	}
	b, err := json.Marshal(map[string]any{"partners": []any{p}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInvisibleAndLineBreakingCharactersAreRefused: C1 controls, bidi overrides, zero-width
// characters and Unicode line and paragraph separators are refused in every imported text field,
// with the field and the code point named.
func TestInvisibleAndLineBreakingCharactersAreRefused(t *testing.T) {
	chars := []rune{'\u0085', '\u009b', '\u2028', '\u2029', '\u202e', '\u200b', '\ufeff', '\u2066'}
	fields := map[string]string{ // the field as the error names it
		"id": "partner_id", "partner_name": "partner_name", "email": "email", "name": "name", "roles": "roles",
		"specialization": "specialization", "attained_on": "attained_on", "status": "status",
		"designation": "designation", "enterprise": "enterprise",
	}
	for field, named := range fields {
		for _, c := range chars {
			var v string
			switch field {
			case "email":
				v = "ad" + string(c) + "a@contoso.example"
			case "specialization":
				v = "Kubernetes on Microsoft" + string(c) + " Azure"
			case "attained_on":
				v = "2023-04-15" + string(c)
			case "status":
				v = "active" + string(c)
			case "designation":
				v = "Solutions Partner for" + string(c) + " Modern Work"
			case "enterprise":
				v = "perf" + string(c) + "ormance"
			default:
				v = "Con" + string(c) + "toso"
			}
			_, err := im().Files(write(t, "p.json", partnerJSON(t, field, v)))
			want := fmt.Sprintf("%U", c)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), ": "+named+": ") || !strings.Contains(err.Error(), want) {
				t.Errorf("%s with %U: err = %v", field, c, err)
			}
		}
	}
	// CSV too.
	_, err := im().Files(write(t, "u.csv", usersHead+"1,A\u202eB,ada@contoso.example,Ada,Global admin\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2: partner_name") || !strings.Contains(err.Error(), "U+202E") {
		t.Errorf("CSV: err = %v", err)
	}
	// Ordinary non-ASCII text stays welcome.
	if _, err := im().Files(write(t, "p.json", partnerJSON(t, "partner_name", "Müller & Søn, 東京"))); err != nil {
		t.Errorf("non-ASCII name refused: %v", err)
	}
}

// TestNonASCIIDomainsAreStoredAsIDNA: an address with a non-ASCII domain is kept in its IDNA form,
// the one that goes out; an invalid internationalised domain is refused.
func TestNonASCIIDomainsAreStoredAsIDNA(t *testing.T) {
	ds, err := im().Files(write(t, "p.json", partnerJSON(t, "email", "Ada@Bücher.example")))
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.Partners[0].Users[0].Email; got != "ada@xn--bcher-kva.example" {
		t.Errorf("email stored as %q", got)
	}
	_, err = im().Files(write(t, "p.json", partnerJSON(t, "email", "ada@\u0301bücher.example")))
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "internationalised domain") {
		t.Errorf("invalid IDNA domain: err = %v", err)
	}
}

// TestDeeplyNestedJSONIsRefusedCheaply: 10 MB of nested objects is refused for its depth, using
// little memory beyond the file (it took 710 MB before the limit).
func TestDeeplyNestedJSONIsRefusedCheaply(t *testing.T) {
	const depth = 10 << 20 / 6
	doc := `{"partners":[` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "]}"
	p := write(t, "deep.json", doc)
	doc = ""
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := im().Files(p)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "nested deeper than 32") {
		t.Fatalf("err = %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("refusing %d MB of nesting allocated %d MB", 10, alloc>>20)
	}
	// 32 levels are fine as far as the walk goes (the decode then names the unknown field).
	_, err = im().Files(write(t, "ok.json", `{"partners":[{"x":`+strings.Repeat("[", 29)+strings.Repeat("]", 29)+"}]}"))
	if err == nil || strings.Contains(err.Error(), "nested") {
		t.Errorf("32 levels: err = %v", err)
	}
}

// TestRolesPerUserAreLimited: a user with more than 32 roles is refused (20,000 took 47 s before; now
// their field is refused while it is read, past MaxRolesPerUser*MaxFieldBytes bytes),
// and de-duplication keeps the first spelling of each role.
func TestRolesPerUserAreLimited(t *testing.T) {
	roles := make([]string, 20000)
	for i := range roles {
		roles[i] = fmt.Sprintf("Role %d", i)
	}
	_, err := im().Files(write(t, "u.csv", usersHead+"1,A,ada@contoso.example,Ada,"+strings.Join(roles, ";")+"\n"))
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "line 2: roles: longer than 65536 bytes") {
		t.Errorf("20000 roles: err = %v", err)
	}
	_, err = im().Files(write(t, "u.csv", usersHead+"1,A,ada@contoso.example,Ada,"+strings.Join(roles[:33], ";")+"\n"))
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "roles: 33 roles, at most 32") {
		t.Errorf("33 roles: err = %v", err)
	}
	dup := []string{"Global admin", "global  ADMIN", "MPN Partner Admin", "Global admin"}
	for len(dup) < 32 {
		dup = append(dup, "mpn partner admin")
	}
	ds, err := im().Files(write(t, "u.csv", usersHead+"1,A,ada@contoso.example,Ada,"+strings.Join(dup, ";")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.Partners[0].Users[0].Roles; strings.Join(got, "|") != "Global admin|MPN Partner Admin" {
		t.Errorf("roles %q", got)
	}
}

// TestWarningsAreLimited: a file with thousands of unknown roles keeps MaxWarnings of them and counts
// the rest.
func TestWarningsAreLimited(t *testing.T) {
	var b strings.Builder
	b.WriteString(usersHead)
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "1,A,u%d@contoso.example,U,Odd role %d\n", i, i)
	}
	ds, err := im().Files(write(t, "u.csv", b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Warnings) != MaxWarnings || ds.WarningsOmitted != 500-MaxWarnings {
		t.Errorf("%d warnings kept, %d omitted", len(ds.Warnings), ds.WarningsOmitted)
	}
}

// TestBadValuesAreEchoedShort: an error repeats at most 80 characters of the bad value.
func TestBadValuesAreEchoedShort(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tc := range []struct{ name, file, content string }{
		{"specialization", "s.csv", specsHead + "1,A," + long + ",2023-01-01\n"},
		{"status", "s.csv", "partner_id,partner_name,specialization,attained_on,status\n1,A,Finance,2023-01-01," + long + "\n"},
		{"email", "u.csv", usersHead + "1,A," + long + ",Ada,Global admin\n"},
		{"partner name", "u.csv", usersHead + "1,A,ada@c.example,Ada,x\n1," + long + ",bob@c.example,Bob,x\n"},
		{"header", "x.csv", long + "\n"},
		{"unknown field", "p.json", `{"partners":[{"` + long + `":1}]}`},
		{"duplicate key", "p.json", `{"partners":[],"` + long + `":1,"` + long + `":2}`},
		{"partner id", "p.json", `{"partners":[{"id":` + strings.Repeat("9", 200) + `.5}]}`},
		{"designation", "p.json", `{"partners":[{"id":"1","name":"A","capability_scores":[{"designation":"` + long + `"}]}]}`},
	} {
		_, err := im().Files(write(t, tc.file, tc.content))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, strings.Repeat("x", 81)) || strings.Contains(msg, strings.Repeat("9", 81)) {
			t.Errorf("%s: error echoes more than 80 characters: %s", tc.name, msg)
		}
	}
}
