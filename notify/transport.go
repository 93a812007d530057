package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Transport opens sessions that send messages: one SMTP connection, or a folder.
type Transport interface {
	Open(ctx context.Context) (Session, error)
}

// Session sends messages until closed. Send returns nil or a *SendError.
type Session interface {
	Send(ctx context.Context, id int64, env *Envelope) error
	Close() error
}

// Envelope is a fully encoded message and its SMTP envelope.
type Envelope struct {
	From      string // envelope sender (address only)
	To        string // the one recipient
	MessageID string
	Data      []byte // the RFC 5322 message, CRLF line endings
}

// SendError is a classified delivery failure.
type SendError struct {
	Temporary bool   // retry later (4xx, timeouts, dropped connections)
	Reply     string // what the server or system said
	Err       error
}

func (e *SendError) Error() string { return e.Reply }
func (e *SendError) Unwrap() error { return e.Err }

// classify turns a go-mail or network error into a SendError. Only 5xx replies are permanent.
func classify(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	code := replyCode(err)
	reply := strings.Join(strings.Fields(err.Error()), " ")
	if len(reply) > 500 {
		reply = reply[:500]
	}
	return &SendError{Temporary: code < 500 || code > 599, Reply: reply, Err: err}
}

// replyCode returns the SMTP reply code carried by err, or 0 for errors without one (network).
func replyCode(err error) int {
	var ge *gomail.SendError
	if errors.As(err, &ge) {
		if c := ge.ErrorCode(); c != 0 {
			return c
		}
	}
	if m := replyCodeRE.FindStringSubmatch(err.Error()); m != nil {
		var c int
		fmt.Sscanf(m[1], "%d", &c)
		return c
	}
	return 0
}

var replyCodeRE = regexp.MustCompile(`(?:^|\W)([45]\d\d)[ -]\d?`)

// SMTPConfig configures the SMTP transport.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string // never logged
	TLS      string // starttls, tls or none
	Timeout  time.Duration
	// TLSConfig overrides the TLS settings (tests with their own CA).
	TLSConfig *tls.Config
}

// SMTP sends through an SMTP server with go-mail, one connection per session.
type SMTP struct {
	cfg SMTPConfig
}

// NewSMTP checks cfg and returns the transport. TLS "none" is refused unless host is loopback.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	switch cfg.TLS {
	case "starttls", "tls":
	case "none":
		if !isLoopback(cfg.Host) {
			return nil, fmt.Errorf("smtp: tls = \"none\" is only allowed to a loopback host, not %q", cfg.Host)
		}
	default:
		return nil, fmt.Errorf("smtp: unknown tls mode %q", cfg.TLS)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (t *SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(t.cfg.Port), gomail.WithTimeout(t.cfg.Timeout), gomail.WithoutNoop()}
	switch t.cfg.TLS {
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if t.cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(t.cfg.TLSConfig))
	}
	if t.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(t.cfg.Username), gomail.WithPassword(t.cfg.Password))
	}
	c, err := gomail.NewClient(t.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return c, nil
}

// Open dials the server (TLS and authentication as configured, through go-mail).
func (t *SMTP) Open(ctx context.Context) (Session, error) {
	s := &smtpSession{t: t}
	if err := s.dial(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// smtpSession speaks SMTP over go-mail's smtp client, one transaction per message, on one
// connection. Messages arrive encoded, so the connection only carries bytes.
type smtpSession struct {
	t  *SMTP
	c  *gomail.Client
	sc *smtp.Client // nil after a broken connection: the next Send redials
}

func (s *smtpSession) dial(ctx context.Context) error {
	c, err := s.t.client()
	if err != nil {
		return &SendError{Temporary: true, Reply: err.Error(), Err: err}
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		se := classify(err)
		se.Temporary = true // a refused or failed connection (or login) is retried, never final
		se.Reply = "connect to " + net.JoinHostPort(s.t.cfg.Host, fmt.Sprint(s.t.cfg.Port)) + ": " + se.Reply
		return se
	}
	s.c, s.sc = c, sc
	return nil
}

func (s *smtpSession) Send(ctx context.Context, _ int64, env *Envelope) error {
	if s.sc == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	err := s.transaction(env)
	if err == nil {
		return nil
	}
	se := classify(err)
	if code := replyCode(err); code == 0 || code == 421 {
		// The connection is gone or going: drop it and reconnect for the next message.
		s.sc.Close()
		s.sc = nil
	} else {
		s.sc.Reset() // a refused transaction leaves the session usable
	}
	return se
}

func (s *smtpSession) transaction(env *Envelope) error {
	if err := s.sc.UpdateDeadline(s.t.cfg.Timeout); err != nil {
		return err
	}
	// go-mail's low-level client sends the path as given: RFC 5321 wants it in angle brackets, and
	// strict relays refuse it without them (501 5.1.7).
	if err := s.sc.Mail(envelopePath(env.From)); err != nil {
		return err
	}
	if err := s.sc.Rcpt(envelopePath(env.To)); err != nil {
		return err
	}
	w, err := s.sc.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(env.Data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// envelopePath returns addr as an RFC 5321 path: "<addr>".
func envelopePath(addr string) string {
	return "<" + strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">") + ">"
}

func (s *smtpSession) Close() error {
	if s.sc == nil {
		return nil
	}
	err := s.c.CloseWithSMTPClient(s.sc)
	s.sc.Close()
	s.sc = nil
	return err
}

// File writes each message as an .eml file in Dir, atomically (write to a temporary file, then
// rename), mode 0600. A repeat of the same row overwrites its file.
type File struct {
	Dir string
}

// Open makes sure the folder exists.
func (f *File) Open(context.Context) (Session, error) {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return nil, &SendError{Temporary: true, Reply: err.Error(), Err: err}
	}
	return f, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9.+_-]+`)

// Send writes the message.
func (f *File) Send(_ context.Context, id int64, env *Envelope) error {
	name := fmt.Sprintf("%08d-%s.eml", id, unsafeName.ReplaceAllString(strings.Trim(env.MessageID, "<>"), "_"))
	tmp, err := os.CreateTemp(f.Dir, ".tmp-*.eml")
	if err != nil {
		return &SendError{Temporary: true, Reply: err.Error(), Err: err}
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(env.Data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(f.Dir, name))
	}
	if err != nil {
		return &SendError{Temporary: true, Reply: "write " + name + ": " + err.Error(), Err: err}
	}
	return nil
}

// Close does nothing: files are complete once written.
func (f *File) Close() error { return nil }
