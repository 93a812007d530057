package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileDSNs hold a password with a character that breaks their form; secret must never show.
var hostileDSNs = []struct{ name, dsn, secret string }{
	{"url #", "postgres://renewald:Gen#Pass/SECRET12@127.0.0.1:1/renewald", "SECRET12"},
	{"url %", "postgres://renewald:Gen%zzSECRET13@127.0.0.1:1/renewald", "SECRET13"},
	{"url /", "postgres://renewald:1234/SECRET14@127.0.0.1:1/renewald", "SECRET14"},
	{"url space", "postgres://renewald:Gen SECRET15@127.0.0.1:1/renewald", "SECRET15"},
	{"url [", "postgres://renewald:Gen[SECRET16@127.0.0.1:1/renewald", "SECRET16"},
	{"kv space", "host=127.0.0.1 port=1 user=renewald password=Gen SECRET17 dbname=renewald", "SECRET17"},
	{"kv unclosed quote", "host=127.0.0.1 port=1 user=renewald password='Gen SECRET18 dbname=renewald", "SECRET18"},
	{"kv no =", "host=127.0.0.1 port=1 user=renewald passwordSECRET19", "SECRET19"},
}

// TestHostileDSNNeverPrinted runs config check and every command that opens the database with a
// DSN that does not parse, given by database.dsn, database.dsn_file and RENEWALD_DATABASE_DSN:
// config check exits 2 naming where the DSN came from, and no output or log line shows the secret.
func TestHostileDSNNeverPrinted(t *testing.T) {
	now := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	for _, tc := range hostileDSNs {
		for _, from := range []string{"dsn", "dsn_file", "env"} {
			t.Run(tc.name+" "+from, func(t *testing.T) {
				dir := t.TempDir()
				env := map[string]string{}
				line, key := "", "database."+from
				switch from {
				case "dsn":
					line = fmt.Sprintf("dsn = %q\n", tc.dsn)
				case "dsn_file":
					line = fmt.Sprintf("dsn_file = %q\n", writeFile(t, "dsn", tc.dsn+"\n"))
				case "env":
					env[dsnEnv], key = tc.dsn, dsnEnv
				}
				cfg := writeFile(t, "config.toml", fmt.Sprintf("[database]\ndriver = \"postgres\"\n%s[mail]\ntransport = \"file\"\nfile_dir = %q\n",
					line, filepath.Join(dir, "mail")))
				run := func(args ...string) (int, string) {
					m, out, errb := newTestMain(env, func() time.Time { return now })
					code := m.Run(ctx(), append([]string{"--config", cfg}, args...))
					all := out.String() + errb.String()
					if strings.Contains(all, tc.secret) {
						t.Errorf("%v shows the secret:\n%s", args, all)
					}
					return code, all
				}
				code, out := run("config", "check")
				if code != exitUsage || !strings.Contains(out, key) || !strings.Contains(out, "unparsable DSN") {
					t.Errorf("config check: exit %d, want 2 naming %s:\n%s", code, key, out)
				}
				t.Logf("config check: %s", strings.TrimSpace(out))
				for _, args := range [][]string{{"tick"}, {"outbox", "list"}, {"run"}, {"deliver"}, {"schedule"}} {
					if code, out := run(args...); code == exitOK || !strings.Contains(out, "(unparsable DSN)") {
						t.Errorf("%v: exit %d, want a failure naming the DSN (unparsable DSN):\n%s", args, code, out)
					}
				}
			})
		}
		t.Run(tc.name+" migrate --to-postgres", func(t *testing.T) {
			e := newEnv(t, "")
			m, out, errb := newTestMain(nil, time.Now)
			code := m.Run(ctx(), []string{"--config", e.cfg, "migrate", "--to-postgres", tc.dsn})
			all := out.String() + errb.String()
			if code != exitUsage || strings.Contains(all, tc.secret) || !strings.Contains(all, "--to-postgres") {
				t.Errorf("migrate --to-postgres: exit %d, want 2 naming the flag, never the secret:\n%s", code, all)
			}
		})
	}
}
