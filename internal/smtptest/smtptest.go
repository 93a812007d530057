// Package smtptest runs a real SMTP server (emersion/go-smtp) on 127.0.0.1 for tests and benchmarks.
// It records every message it accepts and can misbehave on demand: answer 451 or 550, drop the
// connection in the middle of DATA, or stall. Like a hardened relay (Postfix with
// strict_rfc821_envelopes = yes) it refuses MAIL FROM and RCPT TO without angle brackets. It can
// offer STARTTLS with a test certificate and require authentication: PLAIN, or XOAUTH2 with a token
// the test decides on.
package smtptest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Fault is what the server does with one transaction.
type Fault int

// Faults.
const (
	OK          Fault = iota
	Temp451           // 451 at end of DATA
	Perm550           // 550 at RCPT
	DropData          // close the connection in the middle of DATA
	Stall             // stop answering in DATA until the server closes
	Perm554Data       // 554 5.6.0 at end of DATA: the content is refused, not the mailbox
	Perm550Bare       // 550 at RCPT without an enhanced status code
)

// Message is one accepted message.
type Message struct {
	From, To  string
	MessageID string
	Data      []byte
	// ToHeader is the message's To header parsed with net/mail.ParseAddress (nil when it does not
	// parse; ToHeaderErr says why).
	ToHeader    *mail.Address
	ToHeaderErr error
	// User is who authenticated the session ("" without authentication).
	User string
}

// Options configure a server beyond the plain loopback default.
type Options struct {
	// TLS, when set, offers STARTTLS with this configuration.
	TLS *tls.Config
	// Plain, when set, offers AUTH PLAIN, accepting what it returns true for.
	Plain func(user, password string) bool
	// XOAUTH2, when set, offers AUTH XOAUTH2, accepting the bearer tokens it returns true for.
	XOAUTH2 func(user, token string) bool
	// RequireAuth refuses MAIL FROM before a successful AUTH (530 5.7.0).
	RequireAuth bool
	// SMTPUTF8 offers the SMTPUTF8 extension (addresses with non-ASCII local parts).
	SMTPUTF8 bool
	// Addr is the loopback address to listen on (default 127.0.0.1:0, a free port): a test restarts
	// a server where its clients expect it.
	Addr string
}

// Server is a running test server.
type Server struct {
	Addr string // 127.0.0.1:port
	Host string
	Port int

	// Decide, when set, chooses the fault for each transaction; n counts transactions from 1.
	Decide func(rcpt string, n int) Fault

	opts     Options
	srv      *smtp.Server
	l        net.Listener
	mu       sync.Mutex
	msgs     []Message
	txns     int
	faults   map[Fault]int
	conns    int
	syntax   []string // envelope commands refused for their syntax
	plain    []string // commands seen in plain text (before STARTTLS)
	auths    map[string]int
	authFail map[string]int
	stalled  chan struct{}
	closeOne sync.Once
}

// Start listens on 127.0.0.1 on a free port.
func Start() (*Server, error) { return StartWith(Options{}) }

// StartWith listens on 127.0.0.1 on a free port (or opts.Addr) with opts.
func StartWith(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{faults: map[Fault]int{}, stalled: make(chan struct{}), l: l, opts: opts,
		auths: map[string]int{}, authFail: map[string]int{}}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = opts.TLS == nil
	s.srv.TLSConfig = opts.TLS
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.EnableSMTPUTF8 = opts.SMTPUTF8
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	la := l.Addr().(*net.TCPAddr)
	s.Addr, s.Host, s.Port = la.String(), "127.0.0.1", la.Port
	go s.srv.Serve(strictListener{Listener: l, s: s})
	return s, nil
}

// Close stops the server and releases stalled sessions.
func (s *Server) Close() error {
	s.closeOne.Do(func() { close(s.stalled) })
	s.l.Close() // also when Serve has not started yet
	return s.srv.Close()
}

// Messages returns a copy of the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Transactions counts the transactions that reached RCPT TO.
func (s *Server) Transactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.txns
}

// Count returns the number of accepted messages.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Faults returns how many transactions met each fault.
func (s *Server) Faults() map[Fault]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[Fault]int{}
	for k, v := range s.faults {
		out[k] = v
	}
	return out
}

// Connections returns how many connections were opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// SetDecide sets Decide while the server may be serving.
func (s *Server) SetDecide(f func(rcpt string, n int) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Decide = f
}

// EnvelopeSyntaxErrors returns the MAIL FROM and RCPT TO commands refused for their syntax.
func (s *Server) EnvelopeSyntaxErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.syntax...)
}

// PlaintextCommands returns the commands (verbs and arguments, AUTH data elided) the server read
// before any STARTTLS, in order, across connections.
func (s *Server) PlaintextCommands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.plain...)
}

// Auths returns how many AUTH exchanges succeeded and failed, by mechanism.
func (s *Server) Auths() (ok, failed map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, failed = map[string]int{}, map[string]int{}
	for k, v := range s.auths {
		ok[k] = v
	}
	for k, v := range s.authFail {
		failed[k] = v
	}
	return ok, failed
}

func (s *Server) countAuth(mech string, good bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if good {
		s.auths[mech]++
	} else {
		s.authFail[mech]++
	}
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	return &session{s: s, c: c}, nil
}

type session struct {
	s     *Server
	c     *smtp.Conn
	user  string
	from  string
	to    []string
	fault Fault
}

func (x *session) Reset()        { x.from, x.to, x.fault = "", nil, OK }
func (x *session) Logout() error { return nil }

// AuthMechanisms implements smtp.AuthSession: the mechanisms the options enable.
func (x *session) AuthMechanisms() []string {
	var m []string
	if x.s.opts.XOAUTH2 != nil {
		m = append(m, "XOAUTH2")
	}
	if x.s.opts.Plain != nil {
		m = append(m, sasl.Plain)
	}
	return m
}

// Auth implements smtp.AuthSession.
func (x *session) Auth(mech string) (sasl.Server, error) {
	switch {
	case mech == sasl.Plain && x.s.opts.Plain != nil:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			ok := x.s.opts.Plain(user, pass)
			x.s.countAuth(mech, ok)
			if !ok {
				return smtp.ErrAuthFailed
			}
			x.user = user
			return nil
		}), nil
	case mech == "XOAUTH2" && x.s.opts.XOAUTH2 != nil:
		return &xoauth2Server{check: func(user, token string) bool {
			ok := x.s.opts.XOAUTH2(user, token)
			x.s.countAuth(mech, ok)
			if ok {
				x.user = user
			}
			return ok
		}}, nil
	}
	return nil, smtp.ErrAuthUnsupported
}

// xoauth2Server is the server side of SASL XOAUTH2 as Microsoft 365 and Gmail speak it: the client's
// initial response is "user=U^Aauth=Bearer T^A^A"; a refused token gets a 334 challenge carrying a
// JSON error, the client answers with an empty line, and the server replies 535.
type xoauth2Server struct {
	check  func(user, token string) bool
	failed bool
}

func (a *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	if a.failed {
		return nil, true, smtp.ErrAuthFailed
	}
	if response == nil {
		return []byte{}, false, nil // ask for the initial response
	}
	var user, token string
	for _, f := range strings.Split(string(response), "\x01") {
		switch {
		case strings.HasPrefix(f, "user="):
			user = strings.TrimPrefix(f, "user=")
		case strings.HasPrefix(f, "auth=Bearer "):
			token = strings.TrimPrefix(f, "auth=Bearer ")
		}
	}
	if user != "" && token != "" && a.check(user, token) {
		return nil, true, nil
	}
	a.failed = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://outlook.office365.com/.default"}`), false, nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.RequireAuth && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	x.s.txns++
	n := x.s.txns
	decide := x.s.Decide
	x.s.mu.Unlock()
	f := OK
	if decide != nil {
		f = decide(to, n)
	}
	x.s.mu.Lock()
	x.s.faults[f]++
	x.s.mu.Unlock()
	switch f {
	case Perm550:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox " + to + " unavailable"}
	case Perm550Bare:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.NoEnhancedCode, Message: "no such user here"}
	}
	x.fault = f
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	switch x.fault {
	case DropData:
		io.CopyN(io.Discard, r, 64)
		x.c.Conn().Close()
		io.Copy(io.Discard, r)
		return errors.New("connection dropped")
	case Stall:
		<-x.s.stalled
		io.Copy(io.Discard, r)
		return errors.New("stalled")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch x.fault {
	case Temp451:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	case Perm554Data:
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "message content rejected"}
	}
	id := ""
	var toHeader *mail.Address
	toErr := errors.New("no To header")
	if m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(b))); err == nil {
		id = strings.TrimSpace(m.Header.Get("Message-ID"))
		if v := m.Header.Get("To"); v != "" {
			toHeader, toErr = mail.ParseAddress(v)
		}
	}
	x.s.mu.Lock()
	for _, to := range x.to {
		x.s.msgs = append(x.s.msgs, Message{From: x.from, To: to, MessageID: id, Data: b, ToHeader: toHeader,
			ToHeaderErr: toErr, User: x.user})
	}
	x.s.mu.Unlock()
	return nil
}

// strictListener hands go-smtp connections that check the envelope syntax.
type strictListener struct {
	net.Listener
	s *Server
}

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &strictConn{Conn: c, s: l.s}, nil
}

// strictConn reads the client's commands line by line while the connection is in plain text, as a
// relay with strict_rfc821_envelopes does: "MAIL FROM:" and "RCPT TO:" must be followed by "<" at
// once (RFC 5321 §4.1.2), else it answers 501 itself and go-smtp never sees the command (go-smtp
// alone accepts bare addresses). After STARTTLS the bytes are TLS records and pass through.
type strictConn struct {
	net.Conn
	s       *Server
	pending []byte // a partial line
	out     []byte // checked bytes not yet returned
	inData  bool
	tls     bool
}

func (c *strictConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.tls && len(c.pending) == 0 {
			return c.Conn.Read(p)
		}
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		c.pending = append(c.pending, buf[:n]...)
		c.scan()
		if len(c.out) == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// scan moves the complete lines of pending to out, answering refused envelope commands itself.
func (c *strictConn) scan() {
	for !c.tls {
		i := bytes.IndexByte(c.pending, '\n')
		if i < 0 {
			return
		}
		line := c.pending[:i+1]
		c.pending = c.pending[i+1:]
		if c.inData {
			if string(line) == ".\r\n" {
				c.inData = false
			}
			c.out = append(c.out, line...)
			continue
		}
		cmd := strings.TrimRight(string(line), "\r\n")
		upper := strings.ToUpper(cmd)
		c.s.mu.Lock()
		if strings.HasPrefix(upper, "AUTH ") {
			c.s.plain = append(c.s.plain, strings.Join(strings.Fields(cmd)[:2], " "))
		} else {
			c.s.plain = append(c.s.plain, cmd)
		}
		c.s.mu.Unlock()
		var reply string
		switch {
		case strings.HasPrefix(upper, "MAIL FROM:") && !strings.HasPrefix(cmd[len("MAIL FROM:"):], "<"):
			reply = "501 5.1.7 Bad sender address syntax\r\n"
		case strings.HasPrefix(upper, "RCPT TO:") && !strings.HasPrefix(cmd[len("RCPT TO:"):], "<"):
			reply = "501 5.1.3 Bad recipient address syntax\r\n"
		case upper == "DATA":
			c.inData = true
		case upper == "STARTTLS" && c.s.opts.TLS != nil:
			c.tls = true // what follows is TLS once the server has answered
		}
		if reply != "" {
			c.s.mu.Lock()
			c.s.syntax = append(c.s.syntax, cmd)
			c.s.mu.Unlock()
			c.Conn.Write([]byte(reply))
			continue
		}
		c.out = append(c.out, line...)
	}
}
