//go:build !linux

package main

import "os"

// isTerminal reports whether f is a character device (a terminal, as far as this platform tells).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
