// Package benchgen writes deterministic synthetic partner data for benchmarks and load tests:
// N partners with 1–4 admins each and 1–3 specializations each, attained over six years
// (2019–2024, 29 February included).
package benchgen

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/renewald/renewald/renewal"
)

// Files names the generated CSV files.
type Files struct {
	Users           string
	Specializations string
	Partners        int
	UserRows        int
	Enrollments     int
}

// Generate writes users.csv and specializations.csv for n partners into dir, from seed.
func Generate(dir string, n int, seed uint64) (Files, error) {
	f := Files{Users: filepath.Join(dir, "users.csv"), Specializations: filepath.Join(dir, "specializations.csv"), Partners: n}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	specs := renewal.DefaultCatalog().Specializations()
	uf, err := os.Create(f.Users)
	if err != nil {
		return f, fmt.Errorf("benchgen: %w", err)
	}
	defer uf.Close()
	sf, err := os.Create(f.Specializations)
	if err != nil {
		return f, fmt.Errorf("benchgen: %w", err)
	}
	defer sf.Close()
	uw, sw := bufio.NewWriterSize(uf, 1<<20), bufio.NewWriterSize(sf, 1<<20)
	fmt.Fprintln(uw, "partner_id,partner_name,email,name,roles")
	fmt.Fprintln(sw, "partner_id,partner_name,specialization,attained_on,status")
	start := renewal.NewDate(2019, 1, 1)
	days := start.DaysUntil(renewal.NewDate(2024, 12, 31)) + 1
	roles := []string{"Global admin", "MPN Partner Admin", "Global admin;MPN Partner Admin"}
	for p := 1; p <= n; p++ {
		id := fmt.Sprintf("%07d", 1000000+p)
		name := fmt.Sprintf("Partner %d", p)
		admins := 1 + rng.IntN(4)
		for a := 0; a < admins; a++ {
			fmt.Fprintf(uw, "%s,%s,admin%d@p%d.example,Admin %d,%s\n", id, name, a, p, a, roles[rng.IntN(len(roles))])
			f.UserRows++
		}
		if rng.IntN(5) == 0 { // some users that receive nothing
			fmt.Fprintf(uw, "%s,%s,billing@p%d.example,Billing,Billing admin\n", id, name, p)
		}
		k := 1 + rng.IntN(3)
		picked := rng.Perm(len(specs))[:k]
		for _, si := range picked {
			d := start.AddDays(rng.IntN(days))
			if p%97 == 0 {
				d = renewal.NewDate(2020+4*rng.IntN(2), 2, 29) // leap-day attainments
			}
			fmt.Fprintf(sw, "%s,%s,%s,%s,active\n", id, name, specs[si].Name, d)
			f.Enrollments++
		}
	}
	if err := uw.Flush(); err != nil {
		return f, fmt.Errorf("benchgen: %w", err)
	}
	if err := sw.Flush(); err != nil {
		return f, fmt.Errorf("benchgen: %w", err)
	}
	return f, nil
}

// PartnersFor returns how many partners give about n enrollments (two per partner on average).
func PartnersFor(enrollments int) int { return max(enrollments/2, 1) }
