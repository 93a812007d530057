package store

import (
	"errors"
	"strings"
	"testing"
)

// hostileDSNs are DSNs whose password holds a character that breaks its form, each with the secret
// that must never show. Exported to the cmd tests through HostileDSNs.
var hostileDSNs = []struct{ name, dsn, secret string }{
	{"url #", "postgres://renewald:Gen#Pass/SECRET12@127.0.0.1:1/renewald?sslmode=disable", "SECRET12"},
	{"url # numeric", "postgres://renewald:5432#SECRET13@127.0.0.1:1/renewald", "SECRET13"},
	{"url %", "postgres://renewald:Gen%zzSECRET14@127.0.0.1:1/renewald", "SECRET14"},
	{"url /", "postgres://renewald:Gen/SECRET15@127.0.0.1:1/renewald", "SECRET15"},
	{"url / numeric", "postgres://renewald:1234/SECRET16@127.0.0.1:1/renewald", "SECRET16"},
	{"url space", "postgres://renewald:Gen SECRET17@127.0.0.1:1/renewald", "SECRET17"},
	{"url [", "postgres://renewald:Gen[SECRET18@127.0.0.1:1/renewald", "SECRET18"},
	{"url query", "postgresql://renewald@127.0.0.1:1/renewald?password=Gen#SECRET19", "SECRET19"},
	{"kv space", "host=127.0.0.1 port=1 user=renewald password=Gen SECRET20 dbname=renewald", "SECRET20"},
	{"kv space last", "host=127.0.0.1 port=1 user=renewald password=Gen SECRET21", "SECRET21"},
	{"kv unclosed quote", "host=127.0.0.1 port=1 user=renewald password='Gen SECRET22 dbname=renewald", "SECRET22"},
	{"kv unclosed quote 2", "host=127.0.0.1 port=1 password='Gen\\' SECRET23", "SECRET23"},
	{"kv #", "host=127.0.0.1 port=1 user=renewald password=Gen#SECRET24 dbname=renewald", "SECRET24"},
	{"kv %", "host=127.0.0.1 port=1 user=renewald password=Gen%SECRET25 dbname=renewald", "SECRET25"},
	{"kv /", "host=127.0.0.1 port=1 user=renewald password=Gen/SECRET26 dbname=renewald", "SECRET26"},
	{"kv [", "host=127.0.0.1 port=1 user=renewald password=Gen[SECRET27 dbname=renewald", "SECRET27"},
	{"kv no =", "host=127.0.0.1 port=1 user=renewald passwordSECRET28", "SECRET28"},
	{"kv sslpassword", "host=127.0.0.1 port=1 sslpassword=SECRET29", "SECRET29"},
	{"url sslpassword", "postgres://renewald@127.0.0.1:1/renewald?sslpassword=SECRET30", "SECRET30"},
}

// TestHostileDSNsNeverShowTheirPassword: whatever a DSN holds, neither its redacted form nor the
// error of opening it shows the password; a DSN that does not parse is named "(unparsable DSN)"
// and its error is ErrUnparsableDSN.
func TestHostileDSNsNeverShowTheirPassword(t *testing.T) {
	for _, tc := range hostileDSNs {
		t.Run(tc.name, func(t *testing.T) {
			red := RedactDSN(tc.dsn)
			if strings.Contains(red, tc.secret) {
				t.Errorf("RedactDSN shows the secret: %q", red)
			}
			checkErr := CheckDSN(tc.dsn)
			if checkErr != nil && red != UnparsableDSN {
				t.Errorf("CheckDSN: %v, yet RedactDSN = %q, want %q", checkErr, red, UnparsableDSN)
			}
			if checkErr != nil && (strings.Contains(checkErr.Error(), tc.secret) || !errors.Is(checkErr, ErrUnparsableDSN)) {
				t.Errorf("CheckDSN: %v", checkErr)
			}
			_, err := OpenPostgres(ctx, tc.dsn+map[bool]string{true: "&connect_timeout=1", false: " connect_timeout=1"}[strings.HasPrefix(tc.dsn, "postgres")])
			if err == nil || strings.Contains(err.Error(), tc.secret) {
				t.Errorf("OpenPostgres: %v", err)
			}
			t.Logf("%s → %s; %v; open: %v", tc.name, red, checkErr, err)
		})
	}
}
