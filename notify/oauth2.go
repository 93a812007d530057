package notify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth2Config is the client-credentials grant that gets the XOAUTH2 access token (Microsoft Entra
// ID for Microsoft 365: token URL https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token,
// scope https://outlook.office365.com/.default).
type OAuth2Config struct {
	TokenURL     string
	ClientID     string
	ClientSecret string // never logged, never in an error
	// Certificate, when set, authenticates the client with a signed assertion instead of the secret.
	Certificate *ClientCertificate
	Scopes      []string
	// HTTPClient, when set, is used for the token endpoint (default: TLS 1.2 at least, RootCAs,
	// Timeout); either way no redirect is followed.
	HTTPClient *http.Client
	RootCAs    *x509.CertPool // trusted for an https token URL; nil: the system's (SSL_CERT_FILE)
	Timeout    time.Duration  // per token request; default 30 s
}

// tokenRefreshMargin is how long before its expiry a cached token stops being used.
const tokenRefreshMargin = 5 * time.Minute

// ErrTokenEndpoint marks a failure to get an access token from the token endpoint.
var ErrTokenEndpoint = errors.New("oauth2 token endpoint")

// tokenCache fetches access tokens with the client-credentials grant and reuses one across
// sessions until tokenRefreshMargin before it expires. Its clock is injected.
type tokenCache struct {
	cfg  clientcredentials.Config
	cert *ClientCertificate // nil: the client secret
	http *http.Client
	now  func() time.Time

	mu        sync.Mutex
	token     string
	expiry    time.Time // zero: the endpoint gave no lifetime; kept until refused
	fetches   int
	answer    string // what the endpoint said to the last request, without the token
	assertion string // the last client assertion, scrubbed from errors
}

func newTokenCache(c OAuth2Config, now func() time.Time) *tokenCache {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hc := httpClient(c.HTTPClient, timeout, c.RootCAs)
	return &tokenCache{
		cfg: clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: c.TokenURL,
			Scopes: c.Scopes, AuthStyle: oauth2.AuthStyleInParams},
		cert: c.Certificate, http: hc, now: now,
	}
}

// Token returns a cached token still valid for at least the margin, or fetches a new one.
func (c *tokenCache) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.token != "" && (c.expiry.IsZero() || now.Before(c.expiry.Add(-tokenRefreshMargin))) {
		return c.token, nil
	}
	c.token = ""
	c.fetches++
	cfg := c.cfg
	if c.cert != nil {
		// A fresh assertion for every request: Entra ID refuses a jti it has seen.
		a, err := c.cert.assertion(cfg.TokenURL, cfg.ClientID, now)
		if err != nil {
			return "", fmt.Errorf("%w %s: %w", ErrTokenEndpoint, redactURL(cfg.TokenURL), err)
		}
		c.assertion = a
		cfg.ClientSecret = ""
		cfg.EndpointParams = url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion": {a}}
	}
	tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, c.http))
	if err != nil {
		err = c.describe(err)
		c.answer = strings.TrimPrefix(err.Error(), ErrTokenEndpoint.Error()+" "+redactURL(cfg.TokenURL)+": ")
		return "", err
	}
	c.token = tok.AccessToken
	// The library computes Expiry from its own clock; the lifetime it was given is measured from ours.
	switch secs := expiresIn(tok); {
	case secs > 0:
		c.expiry = now.Add(time.Duration(secs) * time.Second)
	case !tok.Expiry.IsZero():
		c.expiry = tok.Expiry
	default:
		c.expiry = time.Time{}
	}
	c.answer = "HTTP 200 OK: " + tok.Type() + " token"
	if !c.expiry.IsZero() {
		c.answer += fmt.Sprintf(", valid for %d s", int64(c.expiry.Sub(now)/time.Second))
	}
	return c.token, nil
}

// Answer is what the token endpoint said to the last request ("HTTP 200 OK: Bearer token, valid
// for 3599 s", or the status and error code), never a token; "" before the first.
func (c *tokenCache) Answer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answer
}

// expiresIn returns the token's lifetime in seconds as the endpoint gave it (0 when it did not).
func expiresIn(tok *oauth2.Token) int64 {
	if tok.ExpiresIn > 0 {
		return tok.ExpiresIn
	}
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// Invalidate drops token from the cache (the server refused it), so the next Token fetches anew.
func (c *tokenCache) Invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token = ""
	}
}

// Fetches returns how many token requests were made.
func (c *tokenCache) Fetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

// describe turns a token request failure into an error naming the endpoint and its HTTP status (or
// the network failure), never the client secret or the response body.
func (c *tokenCache) describe(err error) error {
	endpoint := redactURL(c.cfg.TokenURL)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := "HTTP " + re.Response.Status
		if isRedirect(re.Response.StatusCode) {
			msg += " (a redirect: not followed, the credential goes to the configured endpoint only)"
		} else if re.ErrorCode != "" {
			msg += " (" + oneLineLimit(re.ErrorCode, 80) + ")"
		}
		return fmt.Errorf("%w %s: %s", ErrTokenEndpoint, endpoint, msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The url.Error repeats the URL; say it once, with what went wrong.
		return fmt.Errorf("%w %s: %s", ErrTokenEndpoint, endpoint, oneLineLimit(c.scrub(ue.Err.Error()), 300))
	}
	return fmt.Errorf("%w %s: %s", ErrTokenEndpoint, endpoint, oneLineLimit(c.scrub(err.Error()), 300))
}

// scrub removes the client secret and the last assertion from s, should a library ever echo them.
func (c *tokenCache) scrub(s string) string {
	return scrub(scrub(s, c.cfg.ClientSecret), c.assertion)
}

// redactURL drops any user information and query from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable token_url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// scrub removes secret from s, should a library ever echo it.
func scrub(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

func oneLineLimit(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n]
	}
	return s
}
