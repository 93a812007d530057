// Package smtptest runs a real SMTP server (emersion/go-smtp) on 127.0.0.1 for tests and benchmarks.
// It records every message it accepts and can misbehave on demand: answer 451 or 550, drop the
// connection in the middle of DATA, or stall.
package smtptest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Fault is what the server does with one transaction.
type Fault int

// Faults.
const (
	OK       Fault = iota
	Temp451        // 451 at end of DATA
	Perm550        // 550 at RCPT
	DropData       // close the connection in the middle of DATA
	Stall          // stop answering in DATA until the server closes
)

// Message is one accepted message.
type Message struct {
	From, To  string
	MessageID string
	Data      []byte
}

// Server is a running test server.
type Server struct {
	Addr string // 127.0.0.1:port
	Host string
	Port int

	// Decide, when set, chooses the fault for each transaction; n counts transactions from 1.
	Decide func(rcpt string, n int) Fault

	srv      *smtp.Server
	l        net.Listener
	mu       sync.Mutex
	msgs     []Message
	txns     int
	faults   map[Fault]int
	conns    int
	stalled  chan struct{}
	closeOne sync.Once
}

// Start listens on 127.0.0.1 on a free port.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{faults: map[Fault]int{}, stalled: make(chan struct{}), l: l}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	addr := l.Addr().(*net.TCPAddr)
	s.Addr, s.Host, s.Port = addr.String(), "127.0.0.1", addr.Port
	go s.srv.Serve(l)
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
	from  string
	to    []string
	fault Fault
}

func (x *session) Reset()        { x.from, x.to, x.fault = "", nil, OK }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	x.s.txns++
	n := x.s.txns
	x.s.mu.Unlock()
	f := OK
	if x.s.Decide != nil {
		f = x.s.Decide(to, n)
	}
	x.s.mu.Lock()
	x.s.faults[f]++
	x.s.mu.Unlock()
	if f == Perm550 {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox " + to + " unavailable"}
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
	if x.fault == Temp451 {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	id := ""
	if m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(b))); err == nil {
		id = strings.TrimSpace(m.Header.Get("Message-ID"))
	}
	x.s.mu.Lock()
	for _, to := range x.to {
		x.s.msgs = append(x.s.msgs, Message{From: x.from, To: to, MessageID: id, Data: b})
	}
	x.s.mu.Unlock()
	return nil
}
