// Package graphtest is a stand-in for Microsoft Entra ID's token endpoint and Microsoft Graph's
// sendMail on 127.0.0.1, served over https with a certificate from a CA made for the test. The token
// endpoint grants client credentials with a secret or a certificate assertion, which it verifies as
// Entra ID does; sendMail takes the base64 of a MIME message with a token it issued.
package graphtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/renewald/renewald/internal/smtptest"
)

// Answer is what sendMail says to one request instead of 202 Accepted.
type Answer struct {
	Status     int    // 0: 202 Accepted
	Code       string // Graph's error code
	RetryAfter string // the Retry-After header, "" for none
}

// Message is a message sendMail accepted.
type Message struct {
	Mailbox   string // the mailbox in the request path
	MIME      []byte // the decoded body
	To        string // the To header's address
	MessageID string
}

// Server is the stand-in. Set the exported fields before the first request.
type Server struct {
	URL      string // https://127.0.0.1:port: both the login and the Graph endpoint
	CA       *smtptest.CA
	Tenant   string
	ClientID string
	Secret   string            // accepted client secret ("" accepts none)
	Cert     *x509.Certificate // accepted certificate for assertions (nil accepts none)
	Mailbox  string
	// Now is the clock the assertion's times are checked against (default time.Now).
	Now func() time.Time

	srv        *httptest.Server
	mu         sync.Mutex
	expiresIn  int
	tokenFail  int
	tokenTo    string // base URL token requests are redirected to (307); "": none
	sendTo     string // base URL sendMail requests are redirected to (307); "": none
	fetches    int
	refused    []string // why token requests were refused
	valid      map[string]bool
	tokens     []string
	jtis       map[string]bool
	assertions []string
	decide     func(n int, m Message) Answer
	requests   int
	statuses   map[int]int
	msgs       []Message
	times      []time.Time
}

// Start serves the stand-in on 127.0.0.1 with a certificate signed by a new CA.
func Start(tenant, clientID, mailbox string) (*Server, error) {
	ca, err := smtptest.NewCA("127.0.0.1")
	if err != nil {
		return nil, err
	}
	s := &Server{CA: ca, Tenant: tenant, ClientID: clientID, Mailbox: mailbox, expiresIn: 3600,
		valid: map[string]bool{}, jtis: map[string]bool{}, statuses: map[int]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("POST /v1.0/users/{mailbox}/sendMail", s.sendMail)
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.TLS = ca.ServerTLS()
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // a client refusing the certificate is a test case
	s.srv.StartTLS()
	s.URL = s.srv.URL
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// TokenURL is the token endpoint as a client of tenant calls it.
func (s *Server) TokenURL() string { return s.URL + "/" + s.Tenant + "/oauth2/v2.0/token" }

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) refuse(w http.ResponseWriter, why string) {
	s.refused = append(s.refused, why)
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS700027: Client assertion failed signature validation."}`)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches++
	if s.tokenTo != "" {
		if r.ParseForm() == nil && r.PostForm.Get("client_assertion") != "" {
			s.assertions = append(s.assertions, r.PostForm.Get("client_assertion"))
		}
		smtptest.Redirect(w, r, s.tokenTo)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if s.tokenFail != 0 {
		w.WriteHeader(s.tokenFail)
		fmt.Fprint(w, `{"error":"temporarily_unavailable","error_description":"AADSTS50001: the service is down"}`)
		return
	}
	if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" || r.PathValue("tenant") != s.Tenant ||
		r.PostForm.Get("client_id") != s.ClientID || r.PostForm.Get("scope") != s.URL+"/.default" {
		s.refuse(w, "grant, tenant, client id or scope")
		return
	}
	switch a := r.PostForm.Get("client_assertion"); {
	case r.PostForm.Has("client_secret"):
		if s.Secret == "" || r.PostForm.Get("client_secret") != s.Secret {
			s.refuse(w, "client secret")
			return
		}
	case a != "":
		if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			s.refuse(w, "client_assertion_type")
			return
		}
		s.assertions = append(s.assertions, a)
		if why := s.verify(a); why != "" {
			s.refuse(w, why)
			return
		}
	default:
		s.refuse(w, "no credential")
		return
	}
	tok := fmt.Sprintf("graph-access-token-%d-%s", s.fetches, randomHex())
	s.valid[tok] = true
	s.tokens = append(s.tokens, tok)
	json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": s.expiresIn, "access_token": tok})
}

// verify checks a client assertion as Entra ID does, and returns why it is refused ("" if not).
func (s *Server) verify(a string) string {
	if s.Cert == nil {
		return "no certificate registered"
	}
	pub, ok := s.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "certificate without an RSA key"
	}
	var claims jwt.RegisteredClaims
	tok, err := jwt.ParseWithClaims(a, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithTimeFunc(s.now),
		jwt.WithAudience(s.TokenURL()), jwt.WithIssuer(s.ClientID), jwt.WithSubject(s.ClientID),
		jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Minute)) // Entra ID's allowance for clock skew
	if err != nil {
		return "assertion: " + err.Error()
	}
	sum := sha256.Sum256(s.Cert.Raw)
	if tok.Header["typ"] != "JWT" || tok.Header["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		return "assertion header: typ or x5t#S256"
	}
	if claims.NotBefore == nil || claims.ExpiresAt.Sub(claims.NotBefore.Time) > 10*time.Minute {
		return "assertion: exp - nbf over 600 s"
	}
	if claims.ID == "" || s.jtis[claims.ID] {
		return "assertion: jti missing or seen before"
	}
	s.jtis[claims.ID] = true
	return ""
}

func (s *Server) sendMail(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.times = append(s.times, s.now())
	if s.sendTo != "" {
		s.statuses[http.StatusTemporaryRedirect]++
		smtptest.Redirect(w, r, s.sendTo)
		return
	}
	answer := func(a Answer) {
		s.statuses[a.Status]++
		w.Header().Set("Content-Type", "application/json")
		if a.RetryAfter != "" {
			w.Header().Set("Retry-After", a.RetryAfter)
		}
		w.WriteHeader(a.Status)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":"stand-in answer %d"}}`, a.Code, a.Status)
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.valid[auth] {
		answer(Answer{Status: 401, Code: "InvalidAuthenticationToken"})
		return
	}
	if r.PathValue("mailbox") != s.Mailbox {
		answer(Answer{Status: 404, Code: "ErrorInvalidUser"})
		return
	}
	if r.Header.Get("Content-Type") != "text/plain" {
		answer(Answer{Status: 400, Code: "ErrorMimeContentInvalidBase64String"})
		return
	}
	mime, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		answer(Answer{Status: 400, Code: "ErrorMimeContentInvalidBase64String"})
		return
	}
	msg := Message{Mailbox: r.PathValue("mailbox"), MIME: mime}
	if m, err := mail.ReadMessage(strings.NewReader(string(mime))); err == nil {
		msg.MessageID = m.Header.Get("Message-ID")
		if to, err := mail.ParseAddress(m.Header.Get("To")); err == nil {
			msg.To = to.Address
		}
	} else {
		answer(Answer{Status: 400, Code: "ErrorMimeContentInvalid"})
		return
	}
	if s.decide != nil {
		if a := s.decide(s.requests, msg); a.Status != 0 {
			answer(a)
			return
		}
	}
	s.statuses[202]++
	s.msgs = append(s.msgs, msg)
	w.WriteHeader(http.StatusAccepted)
}

// SetDecide sets what sendMail answers to request n (counted from 1) carrying m; nil: accept all.
func (s *Server) SetDecide(f func(n int, m Message) Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decide = f
}

// FailTokens makes the token endpoint answer status (0: grant again).
func (s *Server) FailTokens(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFail = status
}

// RedirectTokens makes the token endpoint answer every request with a 307 to base (the assertion
// is still recorded); "": grant again.
func (s *Server) RedirectTokens(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTo = base
}

// RedirectSendMail makes sendMail answer every request with a 307 to base; "": answer again.
func (s *Server) RedirectSendMail(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sendTo = base
}

// SetExpiresIn sets the lifetime of the tokens issued from now on.
func (s *Server) SetExpiresIn(secs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = secs
}

// Revoke makes every token issued so far invalid: sendMail answers 401.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valid = map[string]bool{}
}

// TokenFetches returns how many token requests came.
func (s *Server) TokenFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// Refused returns why token requests were refused, one entry per refusal.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// Tokens returns every access token issued; Assertions every client assertion received.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

// Assertions returns every client assertion received.
func (s *Server) Assertions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.assertions...)
}

// Messages returns the messages accepted, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Requests returns how many sendMail requests came, and at which times of Now.
func (s *Server) Requests() (int, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, append([]time.Time(nil), s.times...)
}

// Statuses counts sendMail answers by HTTP status.
func (s *Server) Statuses() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for k, v := range s.statuses {
		out[k] = v
	}
	return out
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewClientCertificate makes a self-signed certificate and its RSA key, as an operator uploads to an
// app registration, valid from notBefore to notAfter; pemData holds both, the key unencrypted
// (PKCS#8).
func NewClientCertificate(cn string, notBefore, notAfter time.Time) (pemData []byte, cert *x509.Certificate, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	pemData = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	return pemData, cert, nil
}

// HTTPClient returns a client that trusts the stand-in's CA.
func (s *Server) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CA.PEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}
