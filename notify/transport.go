package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	// MailboxUnknown is a permanent refusal at RCPT saying the mailbox does not exist or is disabled
	// (5.1.1, 5.1.10, 5.2.1, or 550/551/553 without an enhanced code): the address is suppressed.
	MailboxUnknown bool

	// Kind classes a failure that is not the recipient's, for operators and alerts: KindConfig,
	// KindThrottled or KindDefect; "" for the rest.
	Kind string
	// NoAttempt says the failure tells nothing about this message (the transport is misconfigured):
	// it goes back to pending without an attempt counted.
	NoAttempt bool
	// StopBatch says the rest of the batch is not to be tried now: it goes back to pending with its
	// attempts as they were, and nothing more is sent until RetryAfter, or the backoff when zero.
	StopBatch bool
	// RetryAfter is the earliest time the service accepts another message (its Retry-After).
	RetryAfter time.Time
}

// rcptRefusal marks an error the server gave to RCPT TO, where it judges the recipient.
type rcptRefusal struct{ err error }

func (e rcptRefusal) Error() string { return e.err.Error() }
func (e rcptRefusal) Unwrap() error { return e.err }

// enhancedCodeRE finds an RFC 3463 enhanced status code at the start of a reply text.
var enhancedCodeRE = regexp.MustCompile(`(?:^|[\s-])([245]\.\d{1,3}\.\d{1,3})(?:\s|$)`)

// mailboxUnknown reports whether a refusal at RCPT says the mailbox does not exist or is disabled.
func mailboxUnknown(err error) bool {
	var rr rcptRefusal
	if !errors.As(err, &rr) {
		return false
	}
	code := replyCode(err)
	if code < 500 || code > 599 {
		return false
	}
	if m := enhancedCodeRE.FindStringSubmatch(err.Error()); m != nil {
		switch m[1] {
		case "5.1.1", "5.1.10", "5.2.1":
			return true
		}
		return false
	}
	return code == 550 || code == 551 || code == 553
}

// Kinds of SendError, counted by an Observer that implements TransportErrorObserver.
const (
	KindConfig    = "config"    // the transport's configuration or permissions are wrong (Graph 403, 404)
	KindThrottled = "throttled" // the service asks to slow down (Graph 429, 503, 504)
	KindDefect    = "defect"    // a request of ours the service cannot take (Graph 400, a message too large)
)

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
	return &SendError{Temporary: code < 500 || code > 599, Reply: reply, Err: err, MailboxUnknown: mailboxUnknown(err)}
}

// replyCode returns the SMTP reply code carried by err, or 0 for errors without one (network).
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
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

// SMTP authentication settings (mail.smtp.auth).
const (
	AuthAuto    = "auto"    // with a username: the strongest password mechanism the server offers
	AuthNone    = "none"    // never authenticate
	AuthPlain   = "plain"   // SASL PLAIN
	AuthLogin   = "login"   // SASL LOGIN
	AuthXOAUTH2 = "xoauth2" // SASL XOAUTH2 with a client-credentials access token (Microsoft 365)
)

// SMTPConfig configures the SMTP transport.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string // never logged
	TLS      string // starttls, tls or none
	Auth     string // auto (default), none, plain, login or xoauth2
	Timeout  time.Duration
	// CAPEM holds PEM certificates trusted for this server in addition to the system roots.
	CAPEM []byte
	// ServerName is the name verified in the server certificate (default: Host).
	ServerName string
	// OAuth2 gets the access token when Auth is xoauth2.
	OAuth2 *OAuth2Config
	// Now is the clock for token expiry (default time.Now).
	Now func() time.Time
	// TLSConfig overrides the TLS settings built from CAPEM and ServerName.
	TLSConfig *tls.Config
}

// SMTP sends through an SMTP server with go-mail, one connection per session. It keeps the XOAUTH2
// access token across sessions.
type SMTP struct {
	cfg    SMTPConfig
	tls    *tls.Config
	tokens *tokenCache // nil unless Auth is xoauth2
}

// NewSMTP checks cfg and returns the transport. TLS "none" is refused unless host is loopback.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	switch cfg.TLS {
	case "starttls", "tls":
	case "none":
		if !IsLoopbackHost(cfg.Host) {
			return nil, fmt.Errorf("smtp: tls = \"none\" is only allowed to a loopback host, not %q", cfg.Host)
		}
	default:
		return nil, fmt.Errorf("smtp: unknown tls mode %q", cfg.TLS)
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthAuto
	}
	switch cfg.Auth {
	case AuthAuto, AuthNone:
	case AuthPlain, AuthLogin, AuthXOAUTH2:
		if cfg.Username == "" {
			return nil, fmt.Errorf("smtp: auth %q needs a username", cfg.Auth)
		}
	default:
		return nil, fmt.Errorf("smtp: unknown auth %q", cfg.Auth)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &SMTP{cfg: cfg, tls: cfg.TLSConfig}
	if t.tls == nil {
		tc, err := tlsConfig(cfg.Host, cfg.ServerName, cfg.CAPEM)
		if err != nil {
			return nil, err
		}
		t.tls = tc
	}
	if cfg.Auth == AuthXOAUTH2 {
		if cfg.OAuth2 == nil || cfg.OAuth2.TokenURL == "" || cfg.OAuth2.ClientID == "" {
			return nil, errors.New("smtp: auth \"xoauth2\" needs an OAuth2 token URL and client id")
		}
		t.tokens = newTokenCache(*cfg.OAuth2, cfg.Now)
	}
	return t, nil
}

// tlsConfig trusts the system roots plus caPEM, verifies serverName (default host) and speaks TLS
// 1.2 at least.
func tlsConfig(host, serverName string, caPEM []byte) (*tls.Config, error) {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if serverName != "" {
		tc.ServerName = serverName
	}
	if len(caPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("smtp: no PEM certificate found in the CA file")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// TokenFetches returns how many access tokens were requested (XOAUTH2), for tests and mail test.
func (t *SMTP) TokenFetches() int {
	if t.tokens == nil {
		return 0
	}
	return t.tokens.Fetches()
}

// IsLoopbackHost reports whether host names this machine's loopback interface: localhost, 127.0.0.0/8
// or ::1. The one check of "loopback" for the SMTP transport, the configuration, the metrics and the
// status pages.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AddressDomain returns the domain of an email address ("" without an @): Message-IDs, calendar
// UIDs and file names end in the domain of mail.from.
func AddressDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// client returns a go-mail client that dials and speaks TLS as configured; authentication is done
// by the session, which needs to know the mechanism and retry XOAUTH2 with a fresh token.
func (t *SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(t.cfg.Port), gomail.WithTimeout(t.cfg.Timeout), gomail.WithoutNoop(),
		gomail.WithSMTPAuth(gomail.SMTPAuthNoAuth), gomail.WithTLSConfig(t.tls)}
	switch t.cfg.TLS {
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory)) // never a plain-text fallback
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
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

	mechanism string // the SASL mechanism used, "" for none
	reply     string // the server's answer to the last message's data
}

func (s *smtpSession) addr() string {
	return net.JoinHostPort(s.t.cfg.Host, fmt.Sprint(s.t.cfg.Port))
}

// dial connects and authenticates. A connection, TLS or login failure is temporary: it is retried,
// never final. An XOAUTH2 token the server refuses (535) is replaced once and the connection retried.
func (s *smtpSession) dial(ctx context.Context) error {
	err := s.connect(ctx)
	var token string
	if err == nil {
		token, err = s.authenticate(ctx)
	}
	if err != nil && token != "" && replyCode(err) == 535 {
		s.t.tokens.Invalidate(token)
		s.close()
		if err = s.connect(ctx); err == nil {
			if _, err = s.authenticate(ctx); err != nil {
				err = fmt.Errorf("refused a freshly fetched token too: %w", err)
			}
		}
	}
	if err != nil {
		s.close()
		se := classify(err)
		se.Temporary = true
		se.Reply = "connect to " + s.addr() + ": " + describeDialError(err)
		return se
	}
	return nil
}

// connect dials, says EHLO and starts TLS.
func (s *smtpSession) connect(ctx context.Context) error {
	c, err := s.t.client()
	if err != nil {
		return err
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return err
	}
	s.c, s.sc = c, sc
	return nil
}

// authenticate logs in as configured and returns the XOAUTH2 token it used ("" otherwise).
func (s *smtpSession) authenticate(ctx context.Context) (string, error) {
	cfg := s.t.cfg
	if cfg.Auth == AuthNone || (cfg.Auth == AuthAuto && cfg.Username == "") {
		return "", nil
	}
	ok, offered := s.sc.Extension("AUTH")
	if !ok {
		return "", fmt.Errorf("server offers no AUTH; mail.smtp.auth = %q needs it", cfg.Auth)
	}
	mechs := strings.Fields(strings.ToUpper(offered))
	has := func(m string) bool { return slices.Contains(mechs, m) }
	unenc := cfg.TLS == "none" // only ever to a loopback host
	var a smtp.Auth
	var mech, token string
	switch cfg.Auth {
	case AuthPlain:
		mech, a = "PLAIN", smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host, unenc)
	case AuthLogin:
		mech, a = "LOGIN", smtp.LoginAuth(cfg.Username, cfg.Password, cfg.Host, unenc)
	case AuthXOAUTH2:
		mech = "XOAUTH2"
		if has(mech) {
			var err error
			if token, err = s.t.tokens.Token(ctx); err != nil {
				return "", err
			}
			a = smtp.XOAuth2Auth(cfg.Username, token)
		}
	case AuthAuto:
		state, _ := s.sc.GetTLSConnectionState()
		switch {
		case has("SCRAM-SHA-256-PLUS") && state != nil:
			mech, a = "SCRAM-SHA-256-PLUS", smtp.ScramSHA256PlusAuth(cfg.Username, cfg.Password, state)
		case has("SCRAM-SHA-256"):
			mech, a = "SCRAM-SHA-256", smtp.ScramSHA256Auth(cfg.Username, cfg.Password)
		case has("SCRAM-SHA-1-PLUS") && state != nil:
			mech, a = "SCRAM-SHA-1-PLUS", smtp.ScramSHA1PlusAuth(cfg.Username, cfg.Password, state)
		case has("SCRAM-SHA-1"):
			mech, a = "SCRAM-SHA-1", smtp.ScramSHA1Auth(cfg.Username, cfg.Password)
		case has("CRAM-MD5"):
			mech, a = "CRAM-MD5", smtp.CRAMMD5Auth(cfg.Username, cfg.Password)
		case has("PLAIN"):
			mech, a = "PLAIN", smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host, unenc)
		case has("LOGIN"):
			mech, a = "LOGIN", smtp.LoginAuth(cfg.Username, cfg.Password, cfg.Host, unenc)
		default:
			return "", fmt.Errorf("server offers AUTH %s: none that renewald speaks with a password", offered)
		}
	}
	if !has(mech) {
		return "", fmt.Errorf("server does not offer AUTH %s (it offers %s)", mech, offered)
	}
	if err := s.sc.Auth(a); err != nil {
		return token, fmt.Errorf("AUTH %s as %s: %w", mech, cfg.Username, err)
	}
	s.mechanism = mech
	return token, nil
}

// describeDialError words a connection failure for operators: a certificate that does not verify
// says so with the x509 reason.
func describeDialError(err error) string {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var tv *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &ci), errors.As(err, &tv):
		return "TLS certificate not trusted (nothing sent): " + oneLineLimit(err.Error(), 400)
	}
	return oneLineLimit(err.Error(), 500)
}

func (s *smtpSession) close() {
	if s.sc != nil {
		s.sc.Close()
	}
	s.sc = nil
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
	var refused *SendError
	if errors.As(err, &refused) && refused.Err == nil {
		return se // refused before the transaction began: the session is as it was
	}
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
	s.reply = ""
	if err := s.sc.UpdateDeadline(s.t.cfg.Timeout); err != nil {
		return err
	}
	// An address with a non-ASCII local part can only travel with SMTPUTF8 (RFC 6531; go-mail asks for
	// it on MAIL FROM when the server offers it). Without it, the server would get raw 8-bit bytes.
	for _, a := range []string{env.From, env.To} {
		if local := a[:max(strings.LastIndexByte(a, '@'), 0)]; !isASCII(local) {
			if ok, _ := s.sc.Extension("SMTPUTF8"); !ok {
				return &SendError{Reply: fmt.Sprintf("%s has a non-ASCII local part and %s does not offer SMTPUTF8: it cannot be sent there", a, s.addr())}
			}
		}
	}
	// go-mail's low-level client sends the path as given: RFC 5321 wants it in angle brackets, and
	// strict relays refuse it without them (501 5.1.7).
	if err := s.sc.Mail(envelopePath(env.From)); err != nil {
		return err
	}
	if err := s.sc.Rcpt(envelopePath(env.To)); err != nil {
		return rcptRefusal{err}
	}
	w, err := s.sc.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(env.Data); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if dc, ok := w.(*smtp.DataCloser); ok {
		s.reply = dc.ServerResponse()
	}
	return nil
}

// TestResult is what the server said to a test message, and how the session was secured.
type TestResult struct {
	Reply      string // the server's answer to the message data, e.g. "2.0.0 Ok: queued as 4F2"
	TLSVersion string // "TLS 1.3", or "none"
	Auth       string // the SASL mechanism used, or "none"
}

// Test sends one message on a session of its own and reports the server's answer, the TLS version
// and the authentication mechanism (renewald mail test). The error is a *SendError.
func (t *SMTP) Test(ctx context.Context, env *Envelope) (TestResult, error) {
	s := &smtpSession{t: t}
	if err := s.dial(ctx); err != nil {
		return TestResult{}, err
	}
	defer s.Close()
	res := TestResult{TLSVersion: "none", Auth: "none"}
	if st, err := s.sc.GetTLSConnectionState(); err == nil && st != nil {
		res.TLSVersion = tls.VersionName(st.Version)
	}
	if s.mechanism != "" {
		res.Auth = s.mechanism
	}
	if err := s.transaction(env); err != nil {
		return res, classify(err)
	}
	res.Reply = strings.Join(strings.Fields(s.reply), " ")
	return res, nil
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

// isASCII reports whether s holds only 7-bit characters.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
