package notify

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cloud is a Microsoft cloud's sign-in and Graph endpoints.
type Cloud struct {
	Login string // e.g. https://login.microsoftonline.com
	Graph string // e.g. https://graph.microsoft.com
}

// Clouds are the Microsoft clouds by their mail.graph.cloud names.
var Clouds = map[string]Cloud{
	"global": {Login: "https://login.microsoftonline.com", Graph: "https://graph.microsoft.com"},
	"usgov":  {Login: "https://login.microsoftonline.us", Graph: "https://graph.microsoft.us"},
	"dod":    {Login: "https://login.microsoftonline.us", Graph: "https://dod-graph.microsoft.us"},
	"china":  {Login: "https://login.chinacloudapi.cn", Graph: "https://microsoftgraph.chinacloudapi.cn"},
}

// GraphMaxMessageBytes is the largest MIME message sent through Graph: its requests may not exceed
// 4 MB, and base64 makes a message a third larger.
const GraphMaxMessageBytes = 3 << 20

// GraphConfig configures the Microsoft Graph sendMail transport.
type GraphConfig struct {
	LoginEndpoint string // https, e.g. https://login.microsoftonline.com
	GraphEndpoint string // https, e.g. https://graph.microsoft.com
	Tenant        string // directory (tenant) ID or a verified domain
	ClientID      string
	ClientSecret  string             // never logged; "" when Certificate is set
	Certificate   *ClientCertificate // the certificate credential, instead of the secret
	Mailbox       string             // the sending mailbox: UPN or object ID
	// HTTPClient, when set, carries every request (tests inject one trusting their CA); default: TLS
	// 1.2 at least trusting RootCAs and Timeout. Either way no redirect is followed.
	HTTPClient *http.Client
	RootCAs    *x509.CertPool   // nil: the system roots (SSL_CERT_FILE)
	Timeout    time.Duration    // per request; default 30 s
	Now        func() time.Time // token expiry and Retry-After; default time.Now
}

// Graph sends each message with Microsoft Graph's sendMail as its MIME bytes, one request at a
// time, with an application access token from the client-credentials grant (a secret or a
// certificate). The token is kept across sessions until five minutes before it expires.
type Graph struct {
	cfg     GraphConfig
	http    *http.Client
	tokens  *tokenCache
	sendURL string
}

// NewGraph checks cfg and returns the transport. Endpoints must be https.
func NewGraph(cfg GraphConfig) (*Graph, error) {
	for _, e := range []struct{ name, v string }{{"login endpoint", cfg.LoginEndpoint}, {"graph endpoint", cfg.GraphEndpoint}} {
		u, err := url.Parse(e.v)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("graph: %s %q: want an https URL", e.name, e.v)
		}
	}
	switch {
	case cfg.Tenant == "" || cfg.ClientID == "" || cfg.Mailbox == "":
		return nil, errors.New("graph: tenant, client id and mailbox must be set")
	case (cfg.ClientSecret == "") == (cfg.Certificate == nil):
		return nil, errors.New("graph: want exactly one of a client secret and a client certificate")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := httpClient(cfg.HTTPClient, cfg.Timeout, cfg.RootCAs)
	graph := strings.TrimRight(cfg.GraphEndpoint, "/")
	g := &Graph{cfg: cfg, http: hc,
		sendURL: graph + "/v1.0/users/" + url.PathEscape(cfg.Mailbox) + "/sendMail"}
	g.tokens = newTokenCache(OAuth2Config{TokenURL: g.TokenURL(), ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Certificate: cfg.Certificate, Scopes: []string{graph + "/.default"}, HTTPClient: hc}, cfg.Now)
	return g, nil
}

// TokenURL is the tenant's OAuth2 v2.0 token endpoint.
func (g *Graph) TokenURL() string {
	return strings.TrimRight(g.cfg.LoginEndpoint, "/") + "/" + url.PathEscape(g.cfg.Tenant) + "/oauth2/v2.0/token"
}

// TokenFetches returns how many access tokens were requested.
func (g *Graph) TokenFetches() int { return g.tokens.Fetches() }

// Open gets an access token (cached, or fetched): a token endpoint that fails makes the batch wait.
func (g *Graph) Open(ctx context.Context) (Session, error) {
	if _, err := g.tokens.Token(ctx); err != nil {
		return nil, &SendError{Temporary: true, Reply: "graph: " + err.Error(), Err: err}
	}
	return &graphSession{g: g}, nil
}

type graphSession struct{ g *Graph }

func (s *graphSession) Close() error { return nil }

// Send posts the message; see graphAnswer for how Graph's answers are classed.
func (s *graphSession) Send(ctx context.Context, _ int64, env *Envelope) error {
	_, err := s.g.send(ctx, env)
	return err
}

// graphReply is Graph's answer to one sendMail request.
type graphReply struct {
	Status  int
	Code    string // Graph's error code, e.g. ErrorAccessDenied
	Message string
}

func (r graphReply) String() string {
	s := "HTTP " + strconv.Itoa(r.Status)
	if t := http.StatusText(r.Status); t != "" {
		s += " " + t
	}
	if r.Code != "" {
		s += " " + r.Code
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

// send posts env, fetching a new token once when Graph refuses the cached one (401).
func (g *Graph) send(ctx context.Context, env *Envelope) (graphReply, error) {
	if len(env.Data) > GraphMaxMessageBytes {
		return graphReply{}, &SendError{Temporary: true, Kind: KindDefect,
			Reply: fmt.Sprintf("render: the message is %d bytes, over the %d bytes Graph takes", len(env.Data), GraphMaxMessageBytes)}
	}
	body := base64.StdEncoding.EncodeToString(env.Data)
	var rep graphReply
	for try := 0; try < 2; try++ {
		token, err := g.tokens.Token(ctx)
		if err != nil {
			return rep, &SendError{Temporary: true, StopBatch: true, Reply: "graph: " + err.Error(), Err: err}
		}
		var hdr http.Header
		rep, hdr, err = g.post(ctx, token, body)
		if err != nil {
			return rep, &SendError{Temporary: true, Reply: "graph sendMail: " + describeDialError(err), Err: err}
		}
		if rep.Status != http.StatusUnauthorized {
			return rep, g.answer(rep, hdr)
		}
		g.tokens.Invalidate(token)
	}
	return rep, &SendError{Temporary: true, StopBatch: true,
		Reply: "graph sendMail as " + g.cfg.Mailbox + ": " + rep.String() + " (refused a freshly fetched token too)"}
}

// post makes one sendMail request and reads Graph's answer; the error is a network failure.
func (g *Graph) post(ctx context.Context, token, body string) (graphReply, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.sendURL, strings.NewReader(body))
	if err != nil {
		return graphReply{}, nil, fmt.Errorf("graph request: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := g.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said once, by the caller's context
		}
		return graphReply{}, nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	rep := graphReply{Status: resp.StatusCode}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil {
			rep.Code, rep.Message = oneLineLimit(e.Error.Code, 80), oneLineLimit(e.Error.Message, 300)
		}
	}
	return rep, resp.Header, nil
}

// answer classes Graph's answer to sendMail: nil for 202 Accepted, the only answer that means
// Graph took the message, else a *SendError.
func (g *Graph) answer(rep graphReply, hdr http.Header) error {
	if rep.Status == http.StatusAccepted {
		return nil
	}
	reply := "graph sendMail as " + g.cfg.Mailbox + ": " + rep.String()
	se := &SendError{Reply: reply}
	switch s := rep.Status; {
	case isRedirect(s):
		// Not followed: the message and the token go to the configured endpoint only.
		se.Temporary, se.NoAttempt, se.StopBatch, se.Kind = true, true, true, KindConfig
		se.Reply += " from " + redactURL(g.sendURL) + " (a redirect: not followed; check mail.graph.graph_endpoint and any proxy in between)"
	case s >= 200 && s < 300:
		se.Temporary = true
		se.Reply += " (not 202 Accepted: the message is not known to be taken)"
	case s == http.StatusBadRequest && rep.Code == "ErrorInvalidRecipients":
		// the recipient's fault: permanent for this message
	case s == http.StatusForbidden:
		se.Temporary, se.NoAttempt, se.StopBatch, se.Kind = true, true, true, KindConfig
		se.Reply += " (check that the app has the Mail.Send application permission with admin consent, and that its " +
			"Exchange Online RBAC scope includes the mailbox " + g.cfg.Mailbox + ")"
	case s == http.StatusNotFound:
		se.Temporary, se.NoAttempt, se.StopBatch, se.Kind = true, true, true, KindConfig
		se.Reply += " (check mail.graph.mailbox: " + g.cfg.Mailbox + " must be an Exchange Online mailbox of tenant " + g.cfg.Tenant + ")"
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout:
		se.Temporary, se.StopBatch, se.Kind = true, true, KindThrottled
		if at, ok := retryAfter(hdr.Get("Retry-After"), g.cfg.Now()); ok {
			se.RetryAfter = at
			se.Reply += "; retry after " + at.UTC().Format(time.RFC3339)
		}
	case s >= 500 || s < 400 || s == http.StatusRequestTimeout:
		se.Temporary = true
	default:
		// any other 400 (or 4xx): a request of ours Graph cannot take
		se.Kind = KindDefect
	}
	return se
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return time.Time{}, false
		}
		return now.Add(time.Duration(min(n, 86400)) * time.Second), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// GraphTestResult is what mail test reports of the Graph transport: never a token.
type GraphTestResult struct {
	TokenEndpoint string // the token URL
	TokenAnswer   string // e.g. "HTTP 200 OK: Bearer token, valid for 3599 s", or the status and error code
	Credential    string // "client secret" or "certificate <SHA-1 thumbprint>"
	Status        int    // Graph's HTTP status, 0 when no request was made
	Code          string // Graph's error code, "" when accepted
	Reply         string // Graph's answer, e.g. "HTTP 202 Accepted"
}

// Test sends one message and reports the token endpoint's and Graph's answers (renewald mail
// test). The error is a *SendError.
func (g *Graph) Test(ctx context.Context, env *Envelope) (GraphTestResult, error) {
	res := GraphTestResult{TokenEndpoint: redactURL(g.TokenURL()),
		Credential: OAuth2Config{Certificate: g.cfg.Certificate}.CredentialKind()}
	sess, err := g.Open(ctx)
	res.TokenAnswer = g.tokens.Answer()
	if err != nil {
		return res, err
	}
	defer sess.Close()
	rep, err := g.send(ctx, env)
	res.TokenAnswer = g.tokens.Answer()
	res.Status, res.Code, res.Reply = rep.Status, rep.Code, rep.String()
	if rep.Status == 0 {
		res.Reply = ""
	}
	return res, err
}
