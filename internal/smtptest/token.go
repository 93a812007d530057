package smtptest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
)

// TokenEndpoint is an OAuth2 token endpoint on 127.0.0.1 that grants client credentials, as Microsoft
// Entra ID does for SMTP XOAUTH2: it issues a new access token per request and remembers which are
// valid, so an SMTP server can accept only those.
type TokenEndpoint struct {
	URL string

	ClientID, ClientSecret, Scope string

	srv       *httptest.Server
	mu        sync.Mutex
	expiresIn int
	fail      int    // HTTP status to answer with; 0: grant
	redirect  string // base URL every request is redirected to (307); "": none
	fetches   int
	refused   int
	valid     map[string]bool
	last      string
}

// StartTokenEndpoint serves the endpoint; tokens last an hour unless SetExpiresIn says otherwise.
func StartTokenEndpoint(clientID, clientSecret, scope string) *TokenEndpoint {
	te := &TokenEndpoint{ClientID: clientID, ClientSecret: clientSecret, Scope: scope, expiresIn: 3600,
		valid: map[string]bool{}}
	te.srv = httptest.NewServer(http.HandlerFunc(te.serve))
	te.URL = te.srv.URL + "/tenant-id/oauth2/v2.0/token"
	return te
}

func (te *TokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.fetches++
	if te.redirect != "" {
		Redirect(w, r, te.redirect)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if te.fail != 0 {
		w.WriteHeader(te.fail)
		fmt.Fprint(w, `{"error":"temporarily_unavailable","error_description":"the service is down"}`)
		return
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_id") != te.ClientID || r.PostForm.Get("client_secret") != te.ClientSecret ||
		r.PostForm.Get("scope") != te.Scope {
		te.refused++
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
		return
	}
	tok := fmt.Sprintf("access-token-%d-%s", te.fetches, randomHex())
	te.valid[tok] = true
	te.last = tok
	json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": te.expiresIn, "access_token": tok})
}

// Close stops the endpoint.
func (te *TokenEndpoint) Close() { te.srv.Close() }

// Valid reports whether token was issued here and not revoked.
func (te *TokenEndpoint) Valid(token string) bool {
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.valid[token]
}

// Revoke makes every token issued so far invalid (the SMTP server then answers 535).
func (te *TokenEndpoint) Revoke() {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.valid = map[string]bool{}
}

// Fail makes the endpoint answer status to every request (0: grant again).
func (te *TokenEndpoint) Fail(status int) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.fail = status
}

// RedirectTo makes the endpoint answer every request with a 307 to base ("": grant again).
func (te *TokenEndpoint) RedirectTo(base string) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.redirect = base
}

// SetExpiresIn sets the lifetime, in seconds, of the tokens issued from now on.
func (te *TokenEndpoint) SetExpiresIn(s int) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.expiresIn = s
}

// Fetches returns how many token requests were made; Refused how many had bad client credentials.
func (te *TokenEndpoint) Fetches() int {
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.fetches
}

// Refused returns how many token requests had bad client credentials.
func (te *TokenEndpoint) Refused() int {
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.refused
}

// LastToken returns the last access token issued.
func (te *TokenEndpoint) LastToken() string {
	te.mu.Lock()
	defer te.mu.Unlock()
	return te.last
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
