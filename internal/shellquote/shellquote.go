// Package shellquote writes command-line arguments for a POSIX shell: every command renewald prints
// (on the status pages, in the CLI's messages and logs) is built with it, so pasting the command
// runs exactly one renewald command with exactly the arguments meant, whatever the values hold.
package shellquote

import "strings"

// safe reports whether b may appear unquoted: [A-Za-z0-9._@:/=+-].
func safe(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("._@:/=+-", b) >= 0
}

// Quote returns s as one shell word: unchanged when every byte is one of [A-Za-z0-9._@:/=+-], else
// in single quotes, a single quote inside closing the quotes, escaped, and opening them again:
//
//	Quote("x y")  == `'x y'`
//	Quote("it's") == `'it'\''s'`
//	Quote("")     == `''`
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if !safe(s[i]) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument and joins them with spaces: a command line to print.
func Join(args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " ")
}
