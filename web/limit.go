package web

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// The limit on failed logins: after loginLimit failures within loginWindow an address is refused
// (429) without a hash being checked until the oldest of them is loginWindow old.
const (
	loginLimit     = 10
	loginWindow    = time.Minute
	loginAddresses = 10_000 // addresses tracked at most (a few MB)
)

// loginLimiter counts the failed logins of each source address in a sliding window. Every attempt
// that reaches the hash check is counted before the check (so parallel guesses are limited too)
// and forgiven when it succeeds. It holds at most max addresses.
type loginLimiter struct {
	mu    sync.Mutex
	max   int
	addrs map[string]*attempts
}

// attempts are the times of an address's counted attempts in the window, oldest first.
type attempts struct{ at []time.Time }

func newLoginLimiter(max int) *loginLimiter {
	return &loginLimiter{max: max, addrs: map[string]*attempts{}}
}

// prune drops the attempts older than the window.
func (a *attempts) prune(now time.Time) {
	i := 0
	for i < len(a.at) && !a.at[i].After(now.Add(-loginWindow)) {
		i++
	}
	a.at = a.at[i:]
}

func (a *attempts) limited() bool { return len(a.at) >= loginLimit }

// reserve counts an attempt of addr at now. When addr has loginLimit attempts in the window it
// counts nothing and returns how long until the oldest leaves the window.
func (l *loginLimiter) reserve(addr string, now time.Time) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.addrs[addr]
	if a == nil {
		if len(l.addrs) >= l.max {
			l.evict(now)
		}
		a = &attempts{}
		l.addrs[addr] = a
	}
	a.prune(now)
	if a.limited() {
		return a.at[0].Add(loginWindow).Sub(now), false
	}
	a.at = append(a.at, now)
	return 0, true
}

// forgive removes the attempt of addr reserved at at: it succeeded.
func (l *loginLimiter) forgive(addr string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.addrs[addr]
	if a == nil {
		return
	}
	for i := len(a.at) - 1; i >= 0; i-- {
		if a.at[i].Equal(at) {
			a.at = append(a.at[:i], a.at[i+1:]...)
			break
		}
	}
	if len(a.at) == 0 {
		delete(l.addrs, addr)
	}
}

// limitedNow reports whether addr's attempts fill the window (after a failure: it is now limited).
func (l *loginLimiter) limitedNow(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.addrs[addr]
	return a != nil && a.limited()
}

// evict makes room for one address: it drops every address without an attempt in the window, else
// the unlimited one whose last attempt is oldest, else (all are limited) the oldest.
func (l *loginLimiter) evict(now time.Time) {
	var oldest, oldestFree string
	var oldestAt, oldestFreeAt time.Time
	for k, a := range l.addrs {
		a.prune(now)
		if len(a.at) == 0 {
			delete(l.addrs, k)
			continue
		}
		last := a.at[len(a.at)-1]
		if oldest == "" || last.Before(oldestAt) {
			oldest, oldestAt = k, last
		}
		if !a.limited() && (oldestFree == "" || last.Before(oldestFreeAt)) {
			oldestFree, oldestFreeAt = k, last
		}
	}
	switch {
	case len(l.addrs) < l.max:
	case oldestFree != "":
		delete(l.addrs, oldestFree)
	default:
		delete(l.addrs, oldest)
	}
}

// sourceKey is the limiter's key of a request's remote address: the IPv4 address, or the /64 of an
// IPv6 one (one host is given a /64).
func sourceKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// logName is a user name as it may be logged: at most 64 characters ("…" when cut), invalid UTF-8
// and characters that are not graphic escaped as in Go source.
func logName(s string) string {
	var b strings.Builder
	for n := 0; s != ""; n++ {
		if n == 64 {
			b.WriteString("…")
			break
		}
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x` + strconv.FormatUint(uint64(s[0])|0x100, 16)[1:])
		case !unicode.IsGraphic(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
