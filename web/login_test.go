package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// login serves one request from remote with Basic credentials (none when user is "").
func login(s *Server, remote, user, pass string) *http.Response {
	req := httptest.NewRequest("GET", "/outbox", nil)
	req.RemoteAddr = remote
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec.Result()
}

func usersWithCost(t *testing.T, cost int) map[string][]byte {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), cost)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"ops": hash}
}

// TestUnknownUserCostsAsMuchAsAKnownOne: the hash checked for an unknown user has the cost of the
// users file's hashes, so the time of a refusal does not tell whether the user exists.
func TestUnknownUserCostsAsMuchAsAKnownOne(t *testing.T) {
	f := newFixture(t)
	for _, cost := range []int{bcrypt.MinCost, bcrypt.MinCost + 1} {
		s := f.server(t, func(o *Options) { o.Users = usersWithCost(t, cost) })
		var costs []int
		s.compare = func(hash, pass []byte) error {
			c, _ := bcrypt.Cost(hash)
			costs = append(costs, c)
			return bcrypt.CompareHashAndPassword(hash, pass)
		}
		login(s, "192.0.2.1:1000", "ops", "wrong")
		login(s, "192.0.2.1:1000", "eve", "wrong")
		if len(costs) != 2 || costs[0] != cost || costs[1] != cost {
			t.Errorf("users of cost %d: hashes of costs %v checked for a known and an unknown user", cost, costs)
		}
	}
}

// TestFailedLoginsLimited: after 10 failed logins within a minute an address is answered 429 with
// Retry-After, and no hash is checked, until the minute has passed; other addresses are not affected.
func TestFailedLoginsLimited(t *testing.T) {
	f := newFixture(t)
	now := fixtureNow
	var logs strings.Builder
	s := f.server(t, func(o *Options) {
		o.Users = usersWithCost(t, bcrypt.MinCost)
		o.Now = func() time.Time { return now }
		o.Logger = slogTo(&logs)
	})
	checks := 0
	s.compare = func(hash, pass []byte) error { checks++; return bcrypt.CompareHashAndPassword(hash, pass) }
	const attacker = "192.0.2.7:4242"
	// Requests without credentials (a browser's first) are not failures.
	for range 20 {
		if res := login(s, attacker, "", ""); res.StatusCode != 401 {
			t.Fatalf("no credentials: %d", res.StatusCode)
		}
	}
	for i := range 10 {
		user := "eve"
		if i%2 == 0 {
			user = "ops"
		}
		if res := login(s, attacker, user, "guess"); res.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i+1, res.StatusCode)
		}
		now = now.Add(time.Second)
	}
	checks = 0
	for _, pass := range []string{"guess", "s3cret"} {
		res := login(s, attacker, "ops", pass)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "50" {
			t.Errorf("after 10 failures, %q: %d Retry-After %q, want 429 and 50", pass, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	if checks != 0 {
		t.Errorf("%d hashes checked for a limited address", checks)
	}
	if res := login(s, "192.0.2.8:1", "ops", "s3cret"); res.StatusCode != 200 {
		t.Errorf("another address: %d", res.StatusCode)
	}
	now = now.Add(40 * time.Second) // 50 s after the first failure
	if res := login(s, attacker, "ops", "s3cret"); res.StatusCode != 429 || res.Header.Get("Retry-After") != "10" {
		t.Errorf("50 s after the first failure: %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	now = now.Add(10 * time.Second) // the first failure is a minute old: nine remain in the window
	if res := login(s, attacker, "ops", "s3cret"); res.StatusCode != 200 {
		t.Errorf("a minute after the first failure: %d", res.StatusCode)
	}
	if res := login(s, attacker, "ops", "guess"); res.StatusCode != 401 {
		t.Errorf("the tenth failure of the window: %d", res.StatusCode)
	}
	if res := login(s, attacker, "ops", "s3cret"); res.StatusCode != 429 {
		t.Errorf("after it: %d", res.StatusCode)
	}
	if n := strings.Count(logs.String(), "failed logins"); n != 2 {
		t.Errorf("%d log lines about the limit, want one each time the address was limited:\n%s", n, logs.String())
	}
	// IPv6 addresses count by their /64: one host has them all.
	for i := range 10 {
		login(s, fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1), "eve", "guess")
	}
	if res := login(s, "[2001:db8:1:2:ffff::1]:443", "ops", "s3cret"); res.StatusCode != 429 {
		t.Errorf("another address of the same /64: %d", res.StatusCode)
	}
	if res := login(s, "[2001:db8:1:3::1]:443", "ops", "s3cret"); res.StatusCode != 200 {
		t.Errorf("another /64: %d", res.StatusCode)
	}
}

// TestLoginLimiterIsBounded: the limiter tracks at most its cap of addresses, dropping those whose
// failures are oldest, and keeps the ones that are limited now.
func TestLoginLimiterIsBounded(t *testing.T) {
	l := newLoginLimiter(100)
	t0 := fixtureNow
	for i := range 10 {
		l.reserve("blocked", t0.Add(time.Duration(i)*time.Millisecond))
	}
	for i := range 5000 {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if _, ok := l.reserve(fmt.Sprintf("a%d", i), at); !ok {
			t.Fatalf("address %d refused at its first attempt", i)
		}
		if len(l.addrs) > 100 {
			t.Fatalf("%d addresses tracked, cap 100", len(l.addrs))
		}
	}
	if _, ok := l.reserve("a4999", t0.Add(5*time.Second)); !ok {
		t.Error("the latest address refused after one failure")
	}
	if _, ok := l.reserve("blocked", t0.Add(5*time.Second)); ok {
		t.Error("the limited address was dropped for addresses with one failure each")
	}
	// Past the window every entry is stale: a new address evicts them rather than the limit failing.
	later := t0.Add(2 * time.Minute)
	if _, ok := l.reserve("new", later); !ok || len(l.addrs) > 100 {
		t.Errorf("new address after the window: ok %v, %d tracked", ok, len(l.addrs))
	}
}

// TestLoginLogCutsTheUserName: a failed login logs at most 64 characters of the user name, with
// control characters escaped.
func TestLoginLogCutsTheUserName(t *testing.T) {
	f := newFixture(t)
	var logs strings.Builder
	s := f.server(t, func(o *Options) {
		o.Users = usersWithCost(t, bcrypt.MinCost)
		o.Logger = slogTo(&logs)
	})
	long := strings.Repeat("x", 740_000)
	login(s, "192.0.2.1:1", long, "guess")
	if logs.Len() > 400 || !strings.Contains(logs.String(), strings.Repeat("x", 64)+"…") || strings.Contains(logs.String(), strings.Repeat("x", 65)) {
		t.Errorf("a 740,000-character user name logged in %d bytes: %.300s", logs.Len(), logs.String())
	}
	logs.Reset()
	login(s, "192.0.2.1:1", "eve\nlevel=ERROR msg=forged\x1b[2J\u202e", "guess")
	if strings.Count(logs.String(), "\n") != 1 || strings.Contains(logs.String(), "\x1b") || strings.Contains(logs.String(), "\u202e") {
		t.Errorf("control characters of a user name reached the log: %q", logs.String())
	}
}
