// Package web serves renewald's read-only status pages: an overview, the outbox with one page per
// row (and the email as it went or will go out), one page per partner and a timeline of renewals.
// Pages are rendered on the server with html/template and need no JavaScript; the one stylesheet is
// embedded; the server answers GET and HEAD only, sets a strict Content-Security-Policy, and checks
// HTTP Basic credentials against bcrypt hashes when a users file is configured. Listen addresses off
// loopback must have TLS and users (issue 20).
package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"

	"github.com/renewald/renewald/internal/httpserve"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// CSP is the Content-Security-Policy of every page: nothing inline, nothing from another host.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// PreviewCSP is the policy of the email preview: a sandbox without scripts, shown in a frame.
const PreviewCSP = "sandbox"

// PageSize is the number of rows of every list page.
const PageSize = 100

// Options configure the pages.
type Options struct {
	DB       *store.DB        // partners, enrollments, scan state
	Outbox   *store.Outbox    // the outbox rows, their counts, and a row as a reminder for the email preview
	Renderer *notify.Renderer // renders the email preview
	Catalog  *renewal.Catalog
	Rules    renewal.Rules
	Roles    renewal.RoleMatcher
	// ScoresStaleDays: capability scores older than this count as unknown, as in the mails (0: 45).
	ScoresStaleDays int
	Location        *time.Location
	Now             func() time.Time

	NextTick  func(after time.Time) time.Time // the schedule; nil: not shown
	LastTick  func() time.Time                // the last successful tick; nil: not known to this process
	Transport string                          // how mail goes out, in words ("smtp to mail.example.com:587, starttls")

	BasePath string            // "" or "/prefix" (no trailing slash)
	Users    map[string][]byte // user → bcrypt hash; nil: no authentication
	Logger   *slog.Logger

	// Extra serves /metrics and /healthz unauthenticated, at the root, when one server serves both.
	Extra http.Handler
}

// Server is the http.Handler of the pages.
type Server struct {
	o     Options
	pages map[string]*template.Template
	mux   *http.ServeMux

	mu   sync.Mutex
	good map[[32]byte]time.Time // credentials verified recently: bcrypt runs once per few minutes

	limiter *loginLimiter                     // failed logins per source address
	dummy   []byte                            // checked for an unknown user: a hash of the users' cost
	compare func(hash, password []byte) error // bcrypt.CompareHashAndPassword (counted in tests)
}

// New builds the handler.
func New(o Options) (*Server, error) {
	if o.DB == nil || o.Outbox == nil || o.Catalog == nil || o.Now == nil || o.Location == nil {
		return nil, errors.New("web: DB, Outbox, Catalog, Now and Location are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	o.BasePath = strings.TrimRight(o.BasePath, "/")
	s := &Server{o: o, pages: map[string]*template.Template{}, good: map[[32]byte]time.Time{},
		limiter: newLoginLimiter(loginAddresses), compare: bcrypt.CompareHashAndPassword}
	if o.Users != nil {
		dummy, err := bcrypt.GenerateFromPassword([]byte("renewald: no such user"), usersCost(o.Users))
		if err != nil {
			return nil, fmt.Errorf("web: users: %w", err)
		}
		s.dummy = dummy
	}
	for _, p := range []string{"overview", "outbox", "row", "partner", "renewals", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", p, err)
		}
		s.pages[p] = t
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.overview)
	mux.HandleFunc("GET /outbox", s.outboxList)
	mux.HandleFunc("GET /outbox/{id}", s.outboxRow)
	mux.HandleFunc("GET /outbox/{id}/email", s.outboxEmail)
	mux.HandleFunc("GET /partners/{id}", s.partner)
	mux.HandleFunc("GET /renewals", s.renewals)
	fileServer := http.FileServerFS(static)
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		http.StripPrefix("/static", fileServer).ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		s.notFound(w, r, "There is no page at "+r.URL.Path+".")
	})
	s.mux = mux
	return s, nil
}

// ServeHTTP applies the headers, the method rule, the base path and authentication, then serves.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed: these pages are read-only", http.StatusMethodNotAllowed)
		return
	}
	if s.o.Extra != nil && (r.URL.Path == "/metrics" || r.URL.Path == "/healthz") {
		s.o.Extra.ServeHTTP(w, r)
		return
	}
	if b := s.o.BasePath; b != "" {
		switch {
		case r.URL.Path == b:
			target := b + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		case !strings.HasPrefix(r.URL.Path, b+"/"):
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, b)
		r2.URL.RawPath = ""
		r = r2
	}
	// Clean the path here, not in the ServeMux: its redirect would not know the base path.
	if clean := cleanPath(r.URL.Path); clean != r.URL.Path {
		target := url.URL{Path: s.o.BasePath + clean, RawQuery: r.URL.RawQuery}
		http.Redirect(w, r, target.String(), http.StatusMovedPermanently)
		return
	}
	if s.o.Users != nil {
		switch ok, retry := s.authorized(r); {
		case retry > 0:
			h.Set("Retry-After", retryAfterSeconds(retry))
			http.Error(w, "429 too many failed logins from this address: try again later", http.StatusTooManyRequests)
			return
		case !ok:
			h.Set("WWW-Authenticate", `Basic realm="renewald", charset="UTF-8"`)
			http.Error(w, "401 unauthorized", http.StatusUnauthorized)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath is p without "//", "." and ".." segments (a trailing slash kept), as http.ServeMux
// cleans it.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

// authorized checks Basic credentials. A source address with 10 failed logins in the last minute
// is refused without a check: retry is then how long until it may try again. A wrong user or
// password is logged, without the password and with the user name cut and escaped.
func (s *Server) authorized(r *http.Request) (ok bool, retry time.Duration) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false, 0 // no credentials: a browser's first request, not a failure
	}
	now := s.o.Now()
	source := sourceKey(r.RemoteAddr)
	retry, allowed := s.limiter.reserve(source, now)
	if !allowed {
		return false, max(retry, time.Nanosecond)
	}
	hash, known := s.o.Users[user]
	key := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + string(hash)))
	s.mu.Lock()
	seen, cached := s.good[key]
	s.mu.Unlock()
	if known && cached && now.Sub(seen) < 5*time.Minute {
		s.limiter.forgive(source, now)
		return true, 0
	}
	if !known {
		// Spend the same time as a real check, so timing does not tell which users exist.
		s.compare(s.dummy, []byte(pass))
		s.failed(r, source, "web: unknown user", user)
		return false, 0
	}
	if s.compare(hash, []byte(pass)) != nil {
		s.failed(r, source, "web: wrong password", user)
		return false, 0
	}
	s.limiter.forgive(source, now)
	s.mu.Lock()
	if len(s.good) > 1000 {
		clear(s.good)
	}
	s.good[key] = now
	s.mu.Unlock()
	return true, 0
}

// failed logs a failed login, and that its address is now limited when it is.
func (s *Server) failed(r *http.Request, source, msg, user string) {
	s.o.Logger.Warn(msg, "user", logName(user), "remote", r.RemoteAddr)
	if s.limiter.limitedNow(source) {
		s.o.Logger.Warn("web: too many failed logins: the address is refused for up to a minute",
			"source", source, "limit", loginLimit, "window", loginWindow)
	}
}

// usersCost is the bcrypt cost of most of the users' hashes (the higher one on a tie).
func usersCost(users map[string][]byte) int {
	n := map[int]int{}
	best := bcrypt.DefaultCost
	for _, h := range users {
		c, err := bcrypt.Cost(h)
		if err != nil {
			continue
		}
		n[c]++
		if n[c] > n[best] || (n[c] == n[best] && c > best) {
			best = c
		}
	}
	return best
}

// LoadUsers reads a users file: lines "user:<bcrypt hash>" as htpasswd -B writes them; blank lines
// and lines starting with # are ignored.
func LoadUsers(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		user, hash, ok := strings.Cut(t, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("users file %s: line %d: want user:<bcrypt hash>", path, line)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("users file %s: line %d: user %s: not a bcrypt hash: %w", path, line, user, err)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("users file %s: no users", path)
	}
	return users, nil
}

// IsLoopback reports whether a listen address (host:port) binds only the loopback interface:
// 127.0.0.0/8, ::1 or localhost. 0.0.0.0, [::] and a bare :port are not.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return false
	}
	return notify.IsLoopbackHost(host)
}

// Serve listens on addr and serves h until ctx ends, over TLS when certFile and keyFile are set. Off
// loopback it refuses to serve without TLS. It returns the bound address once listening.
func Serve(ctx context.Context, addr, certFile, keyFile string, h http.Handler) (bound string, done <-chan error, err error) {
	useTLS := certFile != "" && keyFile != ""
	if !useTLS && !IsLoopback(addr) {
		return "", nil, fmt.Errorf("web listen %s: not a loopback address, so TLS (cert_file, key_file) is required", addr)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	if useTLS {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return "", nil, fmt.Errorf("web: cert_file and key_file: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("web listen %s: %w", addr, err)
	}
	if useTLS {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	return l.Addr().String(), httpserve.Run(ctx, srv, l), nil
}
