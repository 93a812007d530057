package importer

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// repeatReader reads prefix, then pattern over and over up to limit bytes in all, counting what was
// read: a long field that costs the test no memory.
type repeatReader struct {
	prefix, pattern string
	limit, read     int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.read >= r.limit {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.read < r.limit {
		var c byte
		if r.read < len(r.prefix) {
			c = r.prefix[r.read]
		} else {
			c = r.pattern[(r.read-len(r.prefix))%len(r.pattern)]
		}
		p[n] = c
		n++
		r.read++
	}
	return n, nil
}

// TestLongFieldsAreRefusedWhileReading: a field that passes its limit is refused with the file, line
// and field as soon as the limit is passed, without reading the rest of it (a 300 MB partner_name
// cost 1.4 GB (CSV) and 2.4 GB (JSON) before it was refused).
func TestLongFieldsAreRefusedWhileReading(t *testing.T) {
	const size = 16 << 20 // the long field: the import may read at most 1 MiB of it
	specs5 := "partner_id,partner_name,specialization,attained_on,status\n"
	outcomes := "partner_id,specialization,anniversary_on,outcome,on\n"
	for _, tc := range []struct {
		name, file, prefix, pattern string
		want                        []string
	}{
		{"csv header", "u.csv", "partner_id,", "x", []string{"line 1", "header"}},
		{"csv partner_id", "u.csv", usersHead + "1,A,ada@a.example,Ada,Global admin\n", "9", []string{"line 3: partner_id: longer than"}},
		{"csv partner_name", "u.csv", usersHead + "1,", "x", []string{"line 2: partner_name: longer than"}},
		{"csv quoted partner_name", "u.csv", usersHead + "1,\"", "x\"\"\r\n", []string{"line 2: partner_name: longer than"}},
		{"csv email", "u.csv", usersHead + "1,A,", "a", []string{"line 2: email: longer than"}},
		{"csv name", "u.csv", usersHead + "1,A,ada@a.example,", "n", []string{"line 2: name: longer than"}},
		{"csv roles", "u.csv", usersHead + "1,A,ada@a.example,Ada,", "Global admin;", []string{"line 2: roles: longer than"}},
		{"csv too many fields", "u.csv", usersHead + "1,A", ",", []string{"line 2", "fields"}},
		{"csv specialization", "s.csv", specsHead + "1,A,", "F", []string{"line 2: specialization: longer than"}},
		{"csv attained_on", "s.csv", specsHead + "1,A,Finance,", "2", []string{"line 2: attained_on: longer than"}},
		{"csv status", "s.csv", specs5 + "1,A,Finance,2023-01-01,", "a", []string{"line 2: status: longer than"}},
		{"csv outcome partner_id", "o.csv", outcomes, "1", []string{"line 2: partner_id: longer than"}},
		{"csv outcome on", "o.csv", outcomes + "1,Finance,2026-02-28,renewed,", "2", []string{"line 2: on: longer than"}},
		{"json partner name", "p.json", `{"partners": [{"id": "1", "name": "`, "x", []string{"line 1: partners[0]: partner_name: longer than"}},
		{"json escaped name", "p.json", `{"partners": [{"id": "1", "name": "`, `\u0041`, []string{"line 1: partners[0]: partner_name: longer than"}},
		{"json numeric id", "p.json", "{\"partners\": [{\"id\": \"1\", \"name\": \"A\"},\n{\"id\": ", "9", []string{"line 2: partners[1]: partner_id: longer than"}},
		{"json role", "p.json", `{"partners": [{"id": "1", "name": "A", "users": [{"email": "a@b.example", "roles": ["Global admin", "`, "r",
			[]string{"line 1: partners[0].users[0]: roles[1]: longer than"}},
		{"json key", "p.json", `{"partners": [{"id": "1", "`, "k", []string{"line 1: partners[0]: a key longer than"}},
		{"json metric", "p.json", `{"partners": [{"id": "1", "capability_scores": [{"designation": "Security", "enterprise": {"`, "m",
			[]string{"line 1: partners[0].capability_scores[0].enterprise: a key longer than"}},
		{"json top-level key", "p.json", `{"`, "p", []string{"line 1: a key longer than"}},
		{"json number", "p.json", `{"partners": [{"id": "1", "x": -`, "1", []string{"line 1: partners[0]: x: longer than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &repeatReader{prefix: tc.prefix, pattern: tc.pattern, limit: len(tc.prefix) + size}
			src := source{name: tc.file, open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }}
			_, err := im().stream(newDataset(), []source{src})
			if !errors.Is(err, ErrInput) {
				t.Fatalf("err = %v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.file+": ") || len(msg) > 300 {
				t.Errorf("error should name the file, briefly: %.300q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %.300q lacks %q", msg, w)
				}
			}
			if r.read-len(tc.prefix) > 1<<20 {
				t.Errorf("read %d bytes of the long field before refusing it", r.read-len(tc.prefix))
			}
		})
	}
	// Fields at their limits, written with every escape a file may use, still import.
	name := strings.Repeat("é", MaxNameLen/2)
	roles := make([]string, MaxRolesPerUser)
	for i := range roles {
		roles[i] = strings.Repeat("r", MaxNameLen-3) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	csvRoles := `"` + strings.Join(roles, " ; ") + `"`
	if _, err := im().Files(write(t, "u.csv", usersHead+`1,"`+name+`",ada@a.example,Ada,`+csvRoles+"\n")); err != nil {
		t.Errorf("CSV at the limits: %v", err)
	}
	esc := strings.Repeat(`\u00e9`, MaxNameLen/2)
	if _, err := im().Files(write(t, "p.json", `{"partners": [{"id": "1", "name": "`+esc+`"}]}`)); err != nil {
		t.Errorf("JSON at the limits: %v", err)
	}
}

// TestPathLikePartnerIDsAreRefused: a partner id that is "." or "..", or holds "/", "\" or a control
// character, cannot be part of a page's path; every file kind carrying partner ids refuses it, naming
// the file, line (or JSON path) and field.
func TestPathLikePartnerIDsAreRefused(t *testing.T) {
	for _, id := range []string{".", "..", "a/b", "/", `a\b`, `\`, "a\x01b", "a\x7fb", "a\u0085b"} {
		for _, tc := range []struct{ file, body, want string }{
			{"u.csv", usersHead + "1,A,ada@a.example,Ada,Global admin\n" + csvField(id) + ",B,bob@a.example,Bob,Global admin\n", "line 3: partner_id: "},
			{"s.csv", specsHead + csvField(id) + ",A,Finance,2023-01-01\n", "line 2: partner_id: "},
			{"o.csv", "partner_id,specialization,anniversary_on,outcome,on\n" + csvField(id) + ",Finance,2026-02-28,renewed,2026-01-20\n", "line 2: partner_id: "},
			{"p.json", `{"partners": [{"id": "1", "name": "A"}, {"id": ` + jsonQuoted(id) + `, "name": "B"}]}`, "partners[1]: partner_id: "},
		} {
			_, err := im().Files(write(t, tc.file, tc.body))
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("id %q in %s: err = %v, want %q", id, tc.file, err, tc.want)
			}
		}
	}
	for _, id := range []string{"a.b", "...", ".a", "a..", "4761234", "ab-12_x"} {
		if _, err := im().Files(write(t, "s.csv", specsHead+id+",A,Finance,2023-01-01\n")); err != nil {
			t.Errorf("id %q refused: %v", id, err)
		}
	}
}

func csvField(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func jsonQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\u00` + "0123456789abcdef"[r>>4:r>>4+1] + "0123456789abcdef"[r&15:r&15+1])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestJSONByteOrderMark: a JSON file that starts with a UTF-8 byte-order mark imports as without one,
// as a CSV file does.
func TestJSONByteOrderMark(t *testing.T) {
	body := `{"partners": [{"id": "1", "name": "A", "specializations": [{"name": "Finance", "attained_on": "2023-01-01"}]}]}`
	want, err := im().Files(write(t, "p.json", body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := im().Files(write(t, "p.json", "\ufeff"+body))
	if err != nil {
		t.Fatalf("with a byte-order mark: %v", err)
	}
	if len(got.Partners) != 1 || got.Partners[0].Name != want.Partners[0].Name || len(got.Partners[0].Enrollments) != 1 {
		t.Errorf("partners %+v", got.Partners)
	}
}

// TestUnknownJSONFieldIsLocated: an unknown field is named with its line and path, as other JSON
// errors are.
func TestUnknownJSONFieldIsLocated(t *testing.T) {
	partners := `{"partners": [{"id": "0", "name": "A"}, {"id": "1", "name": "B"}, {"id": "2", "name": "C"},
  {"id": "3", "name": "D", "userz": []}]}`
	for _, tc := range []struct{ body, want string }{
		{partners, "line 2: partners[3].userz: unknown field"},
		{`{"partners": [{"id": "0", "name": "A", "users": [{"email": "a@b.example"}, {"email": "b@b.example"},
		  {"emial": "c@b.example"}]}]}`, "line 2: partners[0].users[2].emial: unknown field"},
		{`{"partners": [{"id": "0", "name": "A", "specializations": [{"name": "Finance", "attained_on": "2023-01-01",
		  "renewals": [{"anniversary_on": "2024-01-01", "outcome": "renewed", "onn": "2023-12-01"}]}]}]}`,
			"line 2: partners[0].specializations[0].renewals[0].onn: unknown field"},
		{`{"partners": [{"id": "0", "capability_scores": [{"designation": "Security", "smbb": {}}]}]}`,
			"line 1: partners[0].capability_scores[0].smbb: unknown field"},
		{"{\"partners\": [],\n \"partnerz\": []}", "line 2: partnerz: unknown field"},
	} {
		_, err := im().Files(write(t, "p.json", tc.body))
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// BenchmarkLimiters: the cost of bounding fields while reading, over ordinary rows.
func BenchmarkLimiters(b *testing.B) {
	csvData := []byte(usersHead + strings.Repeat("4761234,Contoso Ltd,ada@contoso.example,Ada Lovelace,Global admin;MPN Partner Admin\n", 500000))
	jsonData := []byte(`{"partners": [` + strings.Repeat(`{"id": "4761234", "name": "Contoso Ltd", "users": [{"email": "ada@contoso.example", "name": "Ada", "roles": ["Global admin"]}]},`+"\n", 300000) + "]}")
	b.Run("csv", func(b *testing.B) {
		b.SetBytes(int64(len(csvData)))
		for b.Loop() {
			io.Copy(io.Discard, newCSVLimiter(bytes.NewReader(csvData), "u.csv"))
		}
	})
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(jsonData)))
		for b.Loop() {
			io.Copy(io.Discard, &jsonLimiter{r: bytes.NewReader(jsonData), file: "p.json"})
		}
	})
}
