// Package bench holds renewald's performance benchmarks (go test -bench) at partner-programme scale,
// each reporting its figure next to the raw limit measured in the same run. See BENCHMARKS.md.
package bench
