//go:build !linux

package main

import "runtime/debug"

// releaseMemory returns the Go heap's freed memory to the system.
func releaseMemory() { debug.FreeOSMemory() }
