package main

/*
#include <malloc.h>
*/
import "C"

import "runtime/debug"

// releaseMemory returns freed memory to the system: the Go heap's, and the C heap's that SQLite's
// page caches used (glibc keeps freed blocks otherwise).
func releaseMemory() {
	debug.FreeOSMemory()
	C.malloc_trim(0)
}
