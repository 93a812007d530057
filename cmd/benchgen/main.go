// Command benchgen writes deterministic synthetic partner data (users.csv and
// specializations.csv) for benchmarks: go run ./cmd/benchgen -enrollments 1000000 -out DIR.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/renewald/renewald/internal/benchgen"
)

func main() {
	enrollments := flag.Int("enrollments", 100000, "about how many enrollments (two per partner on average)")
	seed := flag.Uint64("seed", 1, "random seed: the same seed gives the same files")
	out := flag.String("out", ".", "folder to write into")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "benchgen:", err)
		os.Exit(1)
	}
	f, err := benchgen.Generate(*out, benchgen.PartnersFor(*enrollments), *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d partners, %d users, %d enrollments: %s %s\n", f.Partners, f.UserRows, f.Enrollments, f.Users, f.Specializations)
}
