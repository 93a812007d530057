package main

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewald/renewald/internal/config"
)

// TestTransportDescribed: config check and the status page name the transport that is configured,
// in the same words, without any secret: Graph with its mailbox and cloud (or endpoint), SMTP with
// its server, files with their folder.
func TestTransportDescribed(t *testing.T) {
	now := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	const secret = "graph-secret-never-described"
	for _, tc := range []struct{ name, mail, want string }{
		{"graph", "transport = \"graph\"\n[mail.graph]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"app\"\nmailbox = \"renewals@contoso.com\"\n",
			"Microsoft Graph sendMail as renewals@contoso.com (global cloud)"},
		{"graph usgov", "transport = \"graph\"\n[mail.graph]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"app\"\ncloud = \"usgov\"\n",
			"Microsoft Graph sendMail as renewals@example.com (usgov cloud)"},
		{"graph endpoint", "transport = \"graph\"\n[mail.graph]\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"app\"\nmailbox = \"r@contoso.com\"\n" +
			"login_endpoint = \"https://login.example.net\"\ngraph_endpoint = \"https://graph.example.net\"\n",
			"Microsoft Graph sendMail as r@contoso.com at https://graph.example.net"},
		{"smtp", "transport = \"smtp\"\n[mail.smtp]\nhost = \"mail.example.com\"\nport = 465\ntls = \"tls\"\nauth = \"none\"\n",
			"smtp to mail.example.com:465 (tls)"},
		{"file", "transport = \"file\"\nfile_dir = \"MAILDIR\"\n", "file: one .eml per message in MAILDIR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mail := strings.ReplaceAll(tc.mail, "MAILDIR", filepath.Join(dir, "out"))
			want := strings.ReplaceAll(tc.want, "MAILDIR", filepath.Join(dir, "out"))
			p := writeFile(t, "c.toml", fmt.Sprintf("[database]\npath = %q\n[mail]\nfrom = \"Renewals <renewals@example.com>\"\n%s",
				filepath.Join(dir, "r.db"), mail))
			cfg, err := config.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := transportWords(cfg); got != want {
				t.Errorf("transportWords = %q, want %q", got, want)
			}
			env := map[string]string{"RENEWALD_GRAPH_CLIENT_SECRET": secret}
			code, out, errs := runMain(t, env, now, "--config", p, "config", "check")
			if code != 0 || !strings.Contains(out, "mail via "+want+")") || strings.Contains(out+errs, secret) {
				t.Errorf("config check: exit %d, want %q:\n%s%s", code, want, out, errs)
			}
			m, _, _ := newTestMain(env, func() time.Time { return now })
			m.logger = slog.New(slog.DiscardHandler)
			a, err := m.newApp(ctx(), cfg, false)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			h, err := m.webHandler(cfg, a, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if page := html.UnescapeString(rec.Body.String()); rec.Code != 200 || !strings.Contains(page, "<dd>"+want) {
				t.Errorf("status page: %d, lacks %q", rec.Code, want)
			}
		})
	}
}
