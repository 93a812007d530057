package notify

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"time"
)

// httpClient returns the client for every HTTP request renewald makes (token endpoints, Graph):
// injected (tests hand one trusting their CA) or else TLS 1.2 at least trusting roots (nil: the
// system's, SSL_CERT_FILE), proxies from the environment, timeout per request. Either way it never
// follows a redirect: a 3xx is the answer, and the request with its secret, assertion, token or
// message is not repeated to the host the redirect names.
func httpClient(injected *http.Client, timeout time.Duration, roots *x509.CertPool) *http.Client {
	var c http.Client
	if injected != nil {
		c = *injected // a copy: the caller's client keeps its own redirect policy
	} else {
		c = http.Client{Timeout: timeout, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
			ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
		}}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// isRedirect reports whether status is a redirect (3xx), which renewald's clients never follow.
func isRedirect(status int) bool { return status >= 300 && status < 400 }
