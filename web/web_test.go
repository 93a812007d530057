package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/renewald/renewald/agenda"
	"github.com/renewald/renewald/store"
)

func (f *fixture) pages() []string {
	return []string{"/", "/outbox", "/outbox?status=failed", fmt.Sprintf("/outbox/%d", f.failed), fmt.Sprintf("/outbox/%d", f.sent),
		fmt.Sprintf("/outbox/%d", f.noRecip), "/partners/p1", "/partners/p2", "/partners/p3", "/renewals",
		"/renewals?from=2026-04-01&to=2026-07-31", "/renewals?at_risk=1"}
}

func TestPagesHeadersAndMethods(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	for _, p := range append(f.pages(), "/static/style.css") {
		res, body := get(t, s, "GET", p)
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d\n%s", p, res.StatusCode, body)
			continue
		}
		h := res.Header
		if h.Get("Content-Security-Policy") != CSP || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: headers %v", p, h)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, " style=") {
			t.Errorf("GET %s: inline script or style attribute", p)
		}
		res, body = get(t, s, "HEAD", p)
		if res.StatusCode != 200 || body != "" {
			t.Errorf("HEAD %s: %d, %d bytes", p, res.StatusCode, len(body))
		}
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			if res, _ := get(t, s, m, p); res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q", m, p, res.StatusCode, res.Header.Get("Allow"))
			}
		}
	}
	res, body := get(t, s, "GET", fmt.Sprintf("/outbox/%d/email", f.failed))
	if res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != "sandbox" || !strings.Contains(body, "<html") {
		t.Errorf("email preview: %d %v", res.StatusCode, res.Header)
	}
	// The overview refreshes itself unless paused; the pause link keeps the page's query.
	if _, body := get(t, s, "GET", "/"); !strings.Contains(body, `http-equiv="refresh" content="60"`) || !strings.Contains(body, `href="/?refresh=off"`) {
		t.Error("overview: no refresh, or no pause link")
	}
	if _, body := get(t, s, "GET", "/outbox?status=failed&refresh=off"); strings.Contains(body, `http-equiv="refresh"`) || !strings.Contains(body, `href="/outbox?status=failed"`) {
		t.Error("paused outbox still refreshes or lost its filter")
	}
}

func TestHostileNamesAreEscapedEverywhere(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
	for _, p := range []string{"/", "/outbox", fmt.Sprintf("/outbox/%d", f.failed), "/partners/p1", "/renewals?from=2026-04-01&to=2026-07-31",
		fmt.Sprintf("/outbox/%d/email", f.failed), "/outbox?partner=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E"} {
		_, body := get(t, s, "GET", p)
		if strings.Contains(body, "<script>") || strings.Contains(body, "<b>Ada</b>") {
			t.Errorf("%s: raw markup from the data", p)
		}
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s: the hostile name is not shown escaped", p)
		}
	}
	_, body := get(t, s, "GET", "/renewals?from=2026-04-01&to=2026-07-31")
	if !strings.Contains(body, `<title>`+escaped) || !strings.Contains(body, `<text class="label" x="4"`) {
		t.Error("timeline: the SVG does not show the hostile name as text")
	}
	_, body = get(t, s, "GET", "/partners/p1")
	if !strings.Contains(body, "&lt;b&gt;Ada&lt;/b&gt;") {
		t.Error("partner page: user name not escaped")
	}
	_, body = get(t, s, "GET", fmt.Sprintf("/outbox/%d", f.failed))
	if !strings.Contains(body, "550 5.1.1 &lt;script&gt;alert(2)&lt;/script&gt;") {
		t.Error("row page: last_error not escaped")
	}
}

func TestNotFoundPages(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	for _, p := range []string{"/outbox/999999", "/outbox/abc", "/outbox/0", "/partners/nobody", "/nope", "/outbox/999999/email", "/partners/"} {
		res, body := get(t, s, "GET", p)
		if res.StatusCode != 404 || !strings.Contains(body, "<h1>Not found</h1>") || res.Header.Get("Content-Security-Policy") != CSP && !strings.HasSuffix(p, "/email") {
			t.Errorf("GET %s: %d\n%.300s", p, res.StatusCode, body)
		}
	}
	for _, p := range []string{"/outbox?status=bogus", "/outbox?due_from=2026-02-30", "/renewals?from=tomorrow", "/renewals?from=2026-05-01&to=2026-04-01", "/renewals?at_risk=maybe", "/outbox?after=x"} {
		if res, _ := get(t, s, "GET", p); res.StatusCode != 400 {
			t.Errorf("GET %s: %d, want 400", p, res.StatusCode)
		}
	}
}

var rowLink = regexp.MustCompile(`<td><a href="/outbox/(\d+)">`)

func rowIDs(body string) []int64 {
	var out []int64
	for _, m := range rowLink.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

func TestOutboxFiltersAndPages(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		query  string
		filter store.Filter
	}{
		{"status=failed", store.Filter{Status: "failed"}},
		{"status=no_recipients", store.Filter{Status: "no_recipients"}},
		{"partner=p2", store.Filter{PartnerID: "p2"}},
		{"status=sent&partner=p1", store.Filter{Status: "sent", PartnerID: "p1"}},
		{"due_from=2026-03-01&due_to=2026-03-31", store.Filter{DueFrom: d("2026-03-01"), DueTo: d("2026-03-31")}},
		{"status=expired&due_to=2026-04-01", store.Filter{Status: "expired", DueTo: d("2026-04-01")}},
	} {
		want, err := f.outbox.List(ctx, tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		_, body := get(t, s, "GET", "/outbox?"+tc.query)
		got := rowIDs(body)
		if len(want) == 0 || len(got) != min(len(want), PageSize) {
			t.Errorf("%s: %d rows on the page, %d in the store", tc.query, len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i].ID {
				t.Errorf("%s: row %d is %d, want %d", tc.query, i, got[i], want[i].ID)
				break
			}
		}
	}
	// Pages of 100 through the whole outbox, by due date then id, with no row twice.
	all, _ := f.outbox.List(ctx, store.Filter{})
	if len(all) <= 2*PageSize {
		t.Fatalf("fixture too small: %d rows", len(all))
	}
	var seen []int64
	next := "/outbox"
	for next != "" {
		_, body := get(t, s, "GET", next)
		ids := rowIDs(body)
		if len(ids) > PageSize {
			t.Fatalf("%d rows on a page", len(ids))
		}
		seen = append(seen, ids...)
		next = ""
		if m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("paged through %d rows, the store has %d", len(seen), len(all))
	}
	for i := range all {
		if seen[i] != all[i].ID {
			t.Fatalf("page order differs at %d: %d, want %d", i, seen[i], all[i].ID)
		}
	}
}

func TestOverviewShowsCountsRisksAndCommands(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	counts, _ := f.outbox.CountByStatus(context.Background())
	_, body := get(t, s, "GET", "/")
	for st, n := range counts {
		if !strings.Contains(body, fmt.Sprintf(`<a href="/outbox?status=%s"><span class="st st-%s">%s</span> <strong>%d</strong></a>`, st, st, st, n)) {
			t.Errorf("overview: no count %s=%d", st, n)
		}
	}
	if miss := containsAll(body, fmt.Sprintf("<code>renewald outbox retry %d</code>", f.failed),
		fmt.Sprintf("<code>renewald outbox cancel %d</code>", f.noRecip), "Fabrikam", "451 4.3.0 try again later",
		"Last scanned date</dt><dd>2026-05-01", "Next tick</dt><dd>2026-05-02T06:00:00Z", "Reminders due per day"); miss != "" {
		t.Errorf("overview lacks %q", miss)
	}
	// Every form is GET and no button acts.
	if strings.Contains(strings.ToLower(body), `method="post"`) {
		t.Error("a form posts")
	}
}

func TestPartnerPage(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	_, body := get(t, s, "GET", "/partners/p1")
	if miss := containsAll(body, "ada@contoso.example", "Global admin", "<td>yes</td>", "no: holds Sales instead",
		"Kubernetes on Microsoft Azure", "2026-06-10 (current)", "4 (even)", "qualification requirements and an audit",
		"2026-04-11 to 2026-06-10", "2026-07-10", "no scores on file (unknown)", fmt.Sprintf(`href="/outbox/%d"`, f.failed)); miss != "" {
		t.Errorf("partner p1 lacks %q", miss)
	}
	_, body = get(t, s, "GET", "/partners/p2")
	if miss := containsAll(body, "not attained; best path Enterprise with 10 points, 60 short of 70", "<strong>At risk</strong>"); miss != "" {
		t.Errorf("partner p2 lacks %q", miss)
	}
	_, body = get(t, s, "GET", "/partners/p3")
	if !strings.Contains(body, "reminders are recorded as no_recipients") {
		t.Error("partner p3: no warning about missing recipients")
	}
}

var barRe = regexp.MustCompile(`<g class="renewal" data-enrollment="(\d+)" data-anniversary="([\d-]+)"`)

func TestTimelineMatchesScheduleAndFilters(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, nil)
	ctx := context.Background()
	from, to := d("2026-04-01"), d("2026-07-31")
	_, body := get(t, s, "GET", "/renewals?from=2026-04-01&to=2026-07-31&partner=p1")
	if miss := containsAll(body, `data-anniversary="2026-06-10" data-window-opens="2026-04-11" data-grace-ends="2026-07-10"`,
		fmt.Sprintf(`x="%.2f"`, dayX(from, to, d("2026-04-11"))), fmt.Sprintf(`x1="%.2f"`, dayX(from, to, d("2026-05-01"))),
		`role="img"`, "today 2026-05-01", "−60 failed", "−30 scheduled", "<td>2026-06-10</td>"); miss != "" {
		t.Errorf("p1 timeline lacks %q", miss)
	}
	// Each renewal's reminders are those `schedule` gives for it.
	entries, err := agenda.Schedule(ctx, f.db, f.opts.Catalog, f.opts.Rules, f.opts.Roles, "", from, to, func(int64, error) {})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.timeline(ctx, timelineQuery{From: from, To: to}, 1000, 100000)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]agenda.Entry{}
	for _, e := range entries {
		byKey[fmt.Sprint(e.EnrollmentID, e.AnniversaryOn)] = e
	}
	withReminders := 0
	for i, r := range res.Rows {
		if i > 0 && r.AnniversaryOn.Before(res.Rows[i-1].AnniversaryOn) {
			t.Fatalf("timeline not sorted by anniversary at %d", i)
		}
		e, ok := byKey[fmt.Sprint(r.EnrollmentID, r.AnniversaryOn)]
		if len(r.Reminders) > 0 {
			withReminders++
			if !ok || fmt.Sprint(e) != fmt.Sprint(r.Entry) {
				t.Errorf("row %d differs from schedule:\n%+v\n%+v", i, r.Entry, e)
			}
		} else if r.WindowOpensOn.After(to) || r.GraceEndsOn.Before(from) {
			t.Errorf("row %d neither has reminders nor overlaps the range: %+v", i, r.Entry)
		}
	}
	if withReminders != len(entries) {
		t.Errorf("%d timeline rows with reminders, schedule has %d entries", withReminders, len(entries))
	}
	// Filters narrow the rows.
	count := func(q string) int {
		_, body := get(t, s, "GET", "/renewals?"+q)
		return len(barRe.FindAllString(body, -1))
	}
	if n := count("from=2026-04-01&to=2026-07-31"); n != min(len(res.Rows), PageSize) {
		t.Errorf("first page has %d renewals, want %d", n, min(len(res.Rows), PageSize))
	}
	if n := count("from=2026-04-01&to=2026-07-31&partner=p2"); n != 1 {
		t.Errorf("partner p2: %d renewals", n)
	}
	if n := count("from=2026-04-01&to=2026-07-31&area=Modern+Work"); n != 1 {
		t.Errorf("Modern Work: %d renewals", n)
	}
	if n := count("from=2026-04-01&to=2026-07-31&at_risk=1"); n != 1 {
		t.Errorf("at risk: %d renewals", n)
	}
	if n := count("from=2026-04-01&to=2026-07-31&area=Security"); n != 0 {
		t.Errorf("Security: %d renewals", n)
	}
	// Pages continue where the previous one stopped, with the scan budget or the page full.
	for _, tc := range []struct{ limit, budget int }{{10, 100000}, {7, 25}, {1000, 3}} {
		var got []timelineRow
		q := timelineQuery{From: from, To: to}
		for pages := 0; ; pages++ {
			page, err := s.timeline(ctx, q, tc.limit, tc.budget)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.Rows...)
			if page.Next == "" || pages > 10000 {
				break
			}
			q.After = page.Next
		}
		if len(got) != len(res.Rows) {
			t.Errorf("limit %d budget %d: %d rows over the pages, want %d", tc.limit, tc.budget, len(got), len(res.Rows))
			continue
		}
		for i := range got {
			if got[i].EnrollmentID != res.Rows[i].EnrollmentID || got[i].AnniversaryOn != res.Rows[i].AnniversaryOn {
				t.Errorf("limit %d budget %d: row %d differs", tc.limit, tc.budget, i)
				break
			}
		}
	}
}

func TestBasePath(t *testing.T) {
	f := newFixture(t)
	s := f.server(t, func(o *Options) { o.BasePath = "/renewald" })
	res, _ := get(t, s, "GET", "/renewald?refresh=off")
	if res.StatusCode != 301 || res.Header.Get("Location") != "/renewald/?refresh=off" {
		t.Errorf("base path without slash: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := get(t, s, "GET", "/renewald/")
	if res.StatusCode != 200 || !strings.Contains(body, `href="/renewald/static/style.css"`) || !strings.Contains(body, `href="/renewald/outbox?status=failed"`) {
		t.Errorf("under the base path: %d", res.StatusCode)
	}
	_, body = get(t, s, "GET", "/renewald/outbox")
	if !strings.Contains(body, `<td><a href="/renewald/outbox/1">`) || !strings.Contains(body, `href="/renewald/partners/`) || strings.Contains(body, `href="/outbox`) {
		t.Error("row links lack the base path")
	}
	for _, p := range []string{"/", "/outbox", "/renewaldx/"} {
		if res, _ := get(t, s, "GET", p); res.StatusCode != 404 {
			t.Errorf("%s outside the base path: %d", p, res.StatusCode)
		}
	}
	if res, _ := get(t, s, "GET", "/renewald/static/style.css"); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "127.3.4.5:1": true, "[::1]:8080": true, "localhost:8080": true,
		"0.0.0.0:8080": false, "[::]:8080": false, ":8080": false, "192.168.1.5:80": false, "example.com:80": false, "bogus": false} {
		if IsLoopback(addr) != want {
			t.Errorf("IsLoopback(%q) = %v", addr, !want)
		}
	}
}

// testCert writes a self-signed certificate for 127.0.0.1 and returns its files and a pool trusting it.
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "renewald test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

func TestAuthAndTLSOffLoopback(t *testing.T) {
	f := newFixture(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	users := filepath.Join(t.TempDir(), "users")
	os.WriteFile(users, []byte("# operators\nops:"+string(hash)+"\n"), 0o600)
	u, err := LoadUsers(users)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	s := f.server(t, func(o *Options) {
		o.Users = u
		o.Logger = slogTo(&logs)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, _, err := Serve(ctx, "0.0.0.0:0", "", "", s); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("plain http off loopback: %v", err)
	}
	certFile, keyFile, pool := testCert(t)
	addr, done, err := Serve(ctx, "0.0.0.0:0", certFile, keyFile, s)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	base := "https://127.0.0.1:" + port
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(method, path, user, pass string) *http.Response {
		req, _ := http.NewRequest(method, base+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := do("GET", "/", "", ""); res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	if res := do("GET", "/", "ops", "wrong"); res.StatusCode != 401 {
		t.Errorf("wrong password: %d", res.StatusCode)
	}
	if res := do("GET", "/", "eve", "s3cret"); res.StatusCode != 401 {
		t.Errorf("unknown user: %d", res.StatusCode)
	}
	for _, p := range f.pages() {
		if res := do("GET", p, "ops", "s3cret"); res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("GET %s with the right password: %d", p, res.StatusCode)
		}
	}
	if res := do("POST", "/outbox", "ops", "s3cret"); res.StatusCode != 405 {
		t.Errorf("POST: %d", res.StatusCode)
	}
	if strings.Contains(logs.String(), "s3cret") || strings.Contains(logs.String(), "wrong\"") ||
		strings.Count(logs.String(), "wrong password") != 1 || strings.Count(logs.String(), "unknown user") != 1 {
		t.Errorf("logs: %s", logs.String())
	}
	// Plain http to the TLS port is not served.
	if res, err := http.Get("http://127.0.0.1:" + port + "/"); err == nil && res.StatusCode == 200 {
		t.Error("plain http served off loopback")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLoadUsersErrors(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "# nobody\n", "nohash": "ops\n", "plain": "ops:secret\n"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := LoadUsers(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
