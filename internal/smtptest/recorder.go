package smtptest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Recorder is an HTTP server on 127.0.0.1 standing for a host a redirect points at: it keeps every
// request it receives, byte for byte, and answers each with 202 and a JSON access token, so a
// client that followed a redirect to it would take it for a token endpoint or Graph that accepted.
type Recorder struct {
	URL string

	srv  *httptest.Server
	mu   sync.Mutex
	reqs [][]byte
}

// StartRecorder serves a Recorder over plain http.
func StartRecorder() *Recorder {
	r := &Recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

func (r *Recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\n", req.Method, req.URL)
	req.Header.Write(&b)
	b.WriteString("\n")
	b.Write(body)
	r.mu.Lock()
	r.reqs = append(r.reqs, b.Bytes())
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3600,"access_token":"recorder-token"}`)
}

// Close stops the server.
func (r *Recorder) Close() { r.srv.Close() }

// Requests returns every request received: its request line, headers and body.
func (r *Recorder) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.reqs))
	for i, b := range r.reqs {
		out[i] = string(b)
	}
	return out
}

// Redirect answers w with a 307 Temporary Redirect to base plus the request's path, the redirect a
// hostile or misconfigured endpoint sends: a client that follows it repeats the request, body
// included, to another host.
func Redirect(w http.ResponseWriter, r *http.Request, base string) {
	w.Header().Set("Location", base+r.URL.Path)
	w.WriteHeader(http.StatusTemporaryRedirect)
}
