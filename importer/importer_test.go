package importer

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/renewald/renewald/renewal"
)

func im() Importer { return Importer{Catalog: renewal.DefaultCatalog()} }

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJSONAndCSVAgree(t *testing.T) {
	j, err := im().Files("testdata/partners.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := im().Files("testdata/users.csv", "testdata/specializations.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(j.Partners, c.Partners) {
		t.Errorf("JSON and CSV differ:\n%+v\n%+v", j.Partners, c.Partners)
	}
	p := j.Partners[1]
	if p.ID != "5550001" || p.Enrollments[0].Specialization != "Custom Solutions for Microsoft Teams" || p.Enrollments[0].Status != renewal.StatusRemoved {
		t.Errorf("partner %+v", p)
	}
}

const usersHead = "partner_id,partner_name,email,name,roles\n"
const specsHead = "partner_id,partner_name,specialization,attained_on\n"

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                []string // substrings of the error
	}{
		{"impossible date", "s.csv", specsHead + "1,A,Finance,2023-02-30\n", []string{"line 2", "attained_on", "2023-02-30"}},
		{"other date format", "s.csv", specsHead + "1,A,Finance,15/04/2023\n", []string{"line 2", "attained_on"}},
		{"far future", "s.csv", specsHead + "1,A,Finance,2999-01-01\n", []string{"attained_on", "outside"}},
		{"far past", "s.csv", specsHead + "1,A,Finance,1066-10-14\n", []string{"attained_on", "outside"}},
		{"unknown specialization", "s.csv", specsHead + "1,A,Finance,2023-01-01\n1,A,Kubernetes on Azure,2023-01-01\n",
			[]string{"line 3", "specialization", `did you mean "Kubernetes on Microsoft Azure"`}},
		{"azure expert msp", "s.csv", specsHead + "1,A,Azure Expert MSP,2023-01-01\n", []string{"line 2", "own renewal process"}},
		{"duplicate enrollment", "s.csv", specsHead + "1,A,Finance,2023-01-01\n1,A,finance,2023-01-01\n", []string{"line 3", "duplicate", "line 2"}},
		{"bad status", "s.csv", "partner_id,partner_name,specialization,attained_on,status\n1,A,Finance,2023-01-01,paused\n", []string{"status"}},
		{"missing id", "s.csv", specsHead + ",A,Finance,2023-01-01\n", []string{"partner_id", "missing"}},
		{"name conflict", "s.csv", specsHead + "1,A,Finance,2023-01-01\n1,B,Sales,2023-01-01\n", []string{"line 3", "partner_name"}},
		{"bad email", "u.csv", usersHead + "1,A,not-an-address,Ada,Global admin\n", []string{"line 2", "email"}},
		{"display name email", "u.csv", usersHead + "1,A,Ada <ada@a.example>,Ada,Global admin\n", []string{"email"}},
		{"multi-line email", "u.csv", usersHead + "1,A,\"ada@a.example\r\nBcc: x@evil.example\",Ada,Global admin\n", []string{"email", "line break"}},
		{"CR in name", "u.csv", usersHead + "1,A,ada@a.example,\"Ada\rX\",Global admin\n", []string{"name", "control"}},
		{"huge name", "u.csv", usersHead + "1,A,ada@a.example," + strings.Repeat("n", 10<<20) + ",Global admin\n", []string{"name", "longer than"}},
		{"invalid utf-8", "u.csv", usersHead + "1,A,ada@a.example,\xff\xfe,Global admin\n", []string{"name", "UTF-8"}},
		{"duplicate user", "u.csv", usersHead + "1,A,ada@a.example,Ada,Global admin\n1,A,ADA@a.example,Ada,Global admin\n", []string{"line 3", "duplicate user"}},
		{"bad header", "x.csv", "a,b,c\n", []string{"line 1", "header"}},
		{"wrong field count", "s.csv", specsHead + "1,A,Finance\n", []string{"line 2"}},
		{"json duplicate key", "p.json", `{"partners": [{"id": "1", "id": "2", "name": "A"}]}`, []string{"appears twice"}},
		{"json unknown field", "p.json", `{"partners": [{"id": "1", "name": "A", "colour": "red"}]}`, []string{"colour"}},
		{"json syntax", "p.json", "{\"partners\": [\n{\"id\": \"1\",}\n]}", []string{"line 2"}},
		{"json bad path", "p.json", `{"partners": [{"id": "1", "name": "A", "specializations": [{"name": "Finance", "attained_on": "2023-02-29"}]}]}`,
			[]string{"partners[0].specializations[0]", "attained_on"}},
		{"json bad metric", "p.json", `{"partners": [{"id": "1", "name": "A", "capability_scores": [{"designation": "Security", "enterprise": {"usage": 3}}]}]}`,
			[]string{"capability_scores[0]", "enterprise", "usage"}},
		{"json fractional id", "p.json", `{"partners": [{"id": 1.5, "name": "A"}]}`, []string{"p.json"}},
		{"unknown extension", "p.xml", "<x/>", []string{"unknown file type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.file, tc.content)
			_, err := im().Files(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInput) {
				t.Errorf("not an input error: %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) || strings.Contains(msg, "\n") || len(msg) > 600 {
				t.Errorf("error should be one line naming the file: %.300q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestUnknownRoleWarns(t *testing.T) {
	p := write(t, "u.csv", usersHead+"1,A,ada@a.example,Ada,Global admin;Chief Vibes Officer\n")
	ds, err := im().Files(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Warnings) != 1 || !strings.Contains(ds.Warnings[0], "Chief Vibes Officer") {
		t.Errorf("warnings %v", ds.Warnings)
	}
	if roles := ds.Partners[0].Users[0].Roles; len(roles) != 2 {
		t.Errorf("unknown role not kept: %v", roles)
	}
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte(specsHead + "1,A,Finance,2023-01-01\n"))
	f.Add([]byte(usersHead + "1,A,ada@a.example,Ada,Global admin\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ds := newDataset()
		if _, err := im().stream(ds, []source{bytesSource("f.csv", data)}); err != nil && !errors.Is(err, ErrInput) {
			t.Fatalf("non-input error: %v", err)
		}
	})
}

func FuzzJSON(f *testing.F) {
	data, _ := os.ReadFile("testdata/partners.json")
	f.Add(data)
	f.Add([]byte(`{"partners": [{"id": "1", "id": "2"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ds := newDataset()
		_, err := im().stream(ds, []source{bytesSource("f.json", data)})
		if err != nil && !errors.Is(err, ErrInput) {
			t.Fatalf("non-input error: %v", err)
		}
		if err == nil {
			for _, p := range ds.Partners {
				if checkPartnerID(p.ID) != nil {
					t.Fatalf("accepted bad id %q", p.ID)
				}
			}
		}
	})
}

func TestOutcomes(t *testing.T) {
	j := write(t, "p.json", `{"partners": [{"id": "1", "name": "A",
	  "specializations": [{"name": "Finance", "attained_on": "2024-02-29",
	    "renewals": [{"anniversary_on": "2026-02-28", "outcome": "renewed", "on": "2026-01-20"}]}]}]}`)
	c := write(t, "o.csv", "partner_id,specialization,anniversary_on,outcome,on\n2,threat  protection,2027-03-01,Renewed,2027-01-02\n")
	ds, err := im().Files(j, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []renewal.Outcome{
		{PartnerID: "1", Specialization: "Finance", Anniversary: renewal.NewDate(2026, 2, 28), RenewedOn: renewal.NewDate(2026, 1, 20), Where: j + ": partners[0].specializations[0].renewals[0]"},
		{PartnerID: "2", Specialization: "Threat Protection", Anniversary: renewal.NewDate(2027, 3, 1), RenewedOn: renewal.NewDate(2027, 1, 2), Where: c + ": line 2"},
	}
	if !reflect.DeepEqual(ds.Outcomes, want) {
		t.Errorf("outcomes %+v", ds.Outcomes)
	}
	if len(ds.Partners) != 1 {
		t.Errorf("an outcomes CSV created partners: %+v", ds.Partners)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"bad.csv", "partner_id,specialization,anniversary_on,outcome,on\n1,Finance,2026-02-28,lapsed,2026-01-20\n", `line 2: outcome: "lapsed" is not "renewed"`},
		{"bad.csv", "partner_id,specialization,anniversary_on,outcome,on\n1,Finance,2026-02-30,renewed,2026-01-20\n", "line 2: anniversary_on"},
		{"bad.csv", "partner_id,specialization,anniversary_on,outcome,on\n1,Finance,2026-02-28,renewed,\n", "line 2: on"},
		{"bad.csv", "partner_id,specialization,anniversary_on,outcome,on\n1,Finanse,2026-02-28,renewed,2026-01-01\n", "line 2: specialization"},
		{"bad.csv", "partner_id,specialization,anniversary_on,outcome,on\n1,Finance,2026-02-28,renewed,2026-01-01\n1,Finance,2026-02-28,renewed,2026-01-02\n", "line 3: anniversary_on: duplicate outcome"},
		{"bad.json", `{"partners": [{"id": "1", "name": "A", "specializations": [{"name": "Finance", "attained_on": "2024-02-29",
		  "renewals": [{"anniversary_on": "2026-03-01", "outcome": "renewed", "on": "2026-01-20"}]}]}]}`,
			"partners[0].specializations[0].renewals[0]: anniversary_on: 2026-03-01 is not an anniversary of Finance attained 2024-02-29"},
	} {
		_, err := im().Files(write(t, tc.name, tc.body))
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestOneActiveEnrollmentPerSpecialization(t *testing.T) {
	p := write(t, "s.csv", "partner_id,partner_name,specialization,attained_on,status\n1,A,Finance,2021-06-10,active\n1,A,Finance,2021-06-20,active\n")
	if _, err := im().Files(p); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "line 3: attained_on: partner 1 already holds Finance") {
		t.Errorf("two active enrollments accepted: %v", err)
	}
	ok := write(t, "s.csv", "partner_id,partner_name,specialization,attained_on,status\n1,A,Finance,2021-06-10,removed\n1,A,Finance,2023-06-20,active\n")
	if _, err := im().Files(ok); err != nil {
		t.Errorf("a lapsed and a new enrollment: %v", err)
	}
}

// TestUsersCSVCanEmptyAPartner: a users row with the partner and empty user columns says the partner
// has no users any more, so its last admin stops receiving reminders.
func TestUsersCSVCanEmptyAPartner(t *testing.T) {
	p := write(t, "u.csv", "partner_id,partner_name,email,name,roles\n1,A,,,\n")
	ds, err := im().Files(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Partners) != 1 || !ds.Partners[0].UsersGiven || len(ds.Partners[0].Users) != 0 {
		t.Errorf("partners %+v", ds.Partners)
	}
	if _, err := im().Files(write(t, "u.csv", "partner_id,partner_name,email,name,roles\n1,A,,Ada,Global admin\n")); !errors.Is(err, ErrInput) {
		t.Errorf("a user without an email accepted: %v", err)
	}
}
