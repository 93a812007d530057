package bench

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// sizes returns the sizes to run: RENEWALD_BENCH_N (comma-separated) or def; in -short mode (the CI
// smoke run) a small size so the code cannot rot.
func sizes(tb testing.TB, def ...int) []int {
	if testing.Short() {
		return []int{2000}
	}
	v := os.Getenv("RENEWALD_BENCH_N")
	if v == "" {
		return def
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			tb.Fatalf("RENEWALD_BENCH_N=%q: %q is not a positive number", v, s)
		}
		out = append(out, n)
	}
	return out
}
