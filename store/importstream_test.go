package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/renewald/renewald/importer"
	"github.com/renewald/renewald/renewal"
)

// streamFiles imports files the way the import command does.
func streamFiles(db *DB, opt ImportOptions, files ...string) (ImportResult, error) {
	return db.ImportStream(ctx, t0, opt, func(w *ImportWriter) error {
		_, err := importer.Importer{Catalog: renewal.DefaultCatalog()}.Stream(w, files...)
		return err
	})
}

// counts is the number of rows of each imported table.
func counts(t *testing.T, db *DB) string {
	t.Helper()
	var out []string
	for _, table := range []string{"partners", "users", "user_roles", "enrollments", "capability_scores", "renewal_outcomes"} {
		var n int
		if err := db.db.GetContext(ctx, &n, "SELECT count(*) FROM "+table); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " ")
}

// writeLarge writes a specializations CSV of n rows (and a users CSV of the same partners), the
// last specialization row replaced by last when it is not "".
func writeLarge(t *testing.T, dir string, n int, last string) (users, specs string) {
	t.Helper()
	users, specs = filepath.Join(dir, "users.csv"), filepath.Join(dir, "specs.csv")
	uf, err := os.Create(users)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := os.Create(specs)
	if err != nil {
		t.Fatal(err)
	}
	uw, sw := bufio.NewWriter(uf), bufio.NewWriter(sf)
	uw.WriteString("partner_id,partner_name,email,name,roles\n")
	sw.WriteString("partner_id,partner_name,specialization,attained_on\n")
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			fmt.Fprintf(uw, "%d,Partner %d,admin@p%d.example,Admin,Global admin\n", i/2, i/2, i/2)
		}
		spec := "Finance"
		if i%2 == 1 {
			spec = "Threat Protection"
		}
		if i == n-1 && last != "" {
			sw.WriteString(last + "\n")
			continue
		}
		fmt.Fprintf(sw, "%d,Partner %d,%s,2023-%02d-%02d\n", i/2, i/2, spec, 1+i%12, 1+i%28)
	}
	for _, w := range []*bufio.Writer{uw, sw} {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	uf.Close()
	sf.Close()
	return users, specs
}

// TestStreamedImportBadLastRowWritesNothing: a bad row, or a row conflicting with the first one, at
// the very end of a file of 200,000 rows fails the import with its line, and nothing is written.
func TestStreamedImportBadLastRowWritesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 rows")
	}
	const n = 200_000
	db := MustOpenDB(t)
	if _, err := db.Import(ctx, samplePartners(), t0); err != nil {
		t.Fatal(err)
	}
	before := counts(t, db)
	for _, tc := range []struct{ name, last, want string }{
		{"bad date", "99999999,Last,Finance,2023-02-30", fmt.Sprintf("specs.csv: line %d: attained_on", n+1)},
		{"conflict with the first row", "0,Partner 0,Finance,2023-01-01",
			fmt.Sprintf("specs.csv: line %d: specialization: duplicate enrollment Finance attained 2023-01-01 for partner 0 (first at %s: line 2)", n+1, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			users, specs := writeLarge(t, dir, n, tc.last)
			want := strings.Replace(tc.want, " (first at : line 2)", " (first at "+specs+": line 2)", 1)
			_, err := streamFiles(db, ImportOptions{}, users, specs)
			if !errors.Is(err, importer.ErrInput) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
			if after := counts(t, db); after != before {
				t.Errorf("written: %s, was %s", after, before)
			}
		})
	}
}

// TestStreamedImportOnBothEngines: CSV and JSON of the same data give the same database, importing
// again changes nothing, a user list given replaces the stored one, an active enrollment with another
// date replaces the stored one (R1), and a dry run writes nothing.
func TestStreamedImportOnBothEngines(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine Engine) {
		dir := t.TempDir()
		write := func(name, content string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		j := write("p.json", `{"partners": [{"id": "1", "name": "A",
		  "users": [{"email": "ada@a.example", "name": "Ada", "roles": ["Global admin"]}],
		  "specializations": [{"name": "Finance", "attained_on": "2021-06-10", "status": "active",
		    "renewals": [{"anniversary_on": "2024-06-10", "outcome": "renewed", "on": "2024-05-01"}]}]},
		  {"id": 2, "name": "B", "specializations": [{"name": "Threat Protection", "attained_on": "2022-01-05"}]}]}`)
		u := write("u.csv", "partner_id,partner_name,email,name,roles\n1,A,ada@a.example,Ada,Global admin\n")
		s := write("s.csv", "partner_id,partner_name,specialization,attained_on,status\n1,A,Finance,2021-06-10,active\n2,B,Threat Protection,2022-01-05,active\n")
		o := write("o.csv", "partner_id,specialization,anniversary_on,outcome,on\n1,Finance,2024-06-10,renewed,2024-05-01\n")
		fromJSON, fromCSV := openEngine(t, engine), openEngine(t, engine)
		if _, err := streamFiles(fromJSON, ImportOptions{}, j); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			// Outcomes are recorded once the enrollments are written: the file order does not matter.
			res, err := streamFiles(fromCSV, ImportOptions{}, o, u, s)
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 && (res.ReplacedEnrollments != 0 || res.CancelledReminders != 0) {
				t.Errorf("importing again changed something: %+v", res)
			}
		}
		if a, b := counts(t, fromJSON), counts(t, fromCSV); a != b {
			t.Errorf("JSON %s, CSV %s", a, b)
		}
		// A new user list, a corrected attainment date.
		u2 := write("u2.csv", "partner_id,partner_name,email,name,roles\n1,A,bob@a.example,Bob,MPN Partner Admin\n")
		s2 := write("s2.csv", "partner_id,partner_name,specialization,attained_on\n1,A,Finance,2021-06-11\n")
		res, err := streamFiles(fromJSON, ImportOptions{}, u2, s2)
		if err != nil {
			t.Fatal(err)
		}
		if res.ReplacedEnrollments != 1 || res.Users != 1 {
			t.Errorf("result %+v", res)
		}
		var emails []string
		if err := fromJSON.db.SelectContext(ctx, &emails, `SELECT email FROM users WHERE partner_id = '1'`); err != nil || strings.Join(emails, ",") != "bob@a.example" {
			t.Errorf("users %v %v", emails, err)
		}
		// A dry run checks conflicts across files and writes nothing.
		before := counts(t, fromJSON)
		if _, err := streamFiles(fromJSON, ImportOptions{DryRun: true}, s, s); !errors.Is(err, importer.ErrInput) || !strings.Contains(err.Error(), "first at "+s+": line 2") {
			t.Errorf("dry run of a file twice: %v", err)
		}
		if res, err := streamFiles(fromJSON, ImportOptions{DryRun: true}, u, s); err != nil || res.Partners != 2 {
			t.Errorf("dry run: %+v %v", res, err)
		}
		if after := counts(t, fromJSON); after != before {
			t.Errorf("dry run wrote: %s, was %s", after, before)
		}
	})
}
