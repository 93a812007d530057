package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleConfigMatchesDefaults(t *testing.T) {
	cfg, err := LoadConfig("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	cfg.path = ""
	if got, want := strings.Join(strings.Fields(sprint(cfg)), " "), strings.Join(strings.Fields(sprint(def)), " "); got != want {
		t.Errorf("example config differs from defaults:\n%s\n%s", got, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml, want string
	}{
		{"bad cron", "[schedule]\ncron = \"61 * * * *\"\n", "schedule.cron"},
		{"six-field cron", "[schedule]\ncron = \"0 0 6 * * *\"\n", "schedule.cron"},
		{"bad zone", "[schedule]\ntimezone = \"Mars/Olympus\"\n", "schedule.timezone"},
		{"unknown key", "[schedule]\ncron_spec = \"0 6 * * *\"\n", "unknown key schedule.cron_spec"},
		{"unknown table", "[smtp]\nhost = \"x\"\n", "unknown key smtp"},
		{"negative catch up", "[schedule]\ncatch_up_days = -1\n", "schedule.catch_up_days"},
		{"negative grace", "[renewal]\ngrace_period_days = -5\n", "renewal.grace_period_days"},
		{"offset out of range", "[renewal]\noffsets_days = [-120, 900]\n", "renewal.offsets_days"},
		{"empty offsets", "[renewal]\noffsets_days = []\n", "renewal.offsets_days"},
		{"bad transport", "[mail]\ntransport = \"pigeon\"\n", "mail.transport"},
		{"bad from", "[mail]\nfrom = \"not an address\"\n", "mail.from"},
		{"zero attempts", "[mail]\nmax_attempts = 0\n", "mail.max_attempts"},
		{"tls none to remote host", "[mail.smtp]\nhost = \"smtp.example.com\"\ntls = \"none\"\n", "mail.smtp.tls"},
		{"bad port", "[mail.smtp]\nport = 70000\n", "mail.smtp.port"},
		{"bad tls", "[mail.smtp]\ntls = \"maybe\"\n", "mail.smtp.tls"},
		{"bad program start", "[renewal]\nprogram_start = \"2023-02-30\"\n", "program_start"},
		{"syntax", "[schedule\ncron = 1\n", ".toml:2:"},
		{"wrong type", "[schedule]\ncatch_up_days = \"seven\"\n", "catch_up_days"},
		{"bad reply_to", "[mail]\nreply_to = \"nobody\"\n", "mail.reply_to"},
		{"negative max_per_day", "[mail]\nmax_per_day = -1\n", "mail.max_per_day"},
		{"negative max_per_minute", "[mail]\nmax_per_minute = -5\n", "mail.max_per_minute"},
		{"partner_center_url not https", "[mail]\npartner_center_url = \"javascript:alert(1)\"\n", "mail.partner_center_url"},
		{"bad auth", "[mail.smtp]\nauth = \"kerberos\"\n", "mail.smtp.auth"},
		{"plain without username", "[mail.smtp]\nauth = \"plain\"\n", "mail.smtp.username"},
		{"bad server_name", "[mail.smtp]\nserver_name = \"not a host\"\n", "mail.smtp.server_name"},
		{"xoauth2 without token_url", "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\n", "mail.smtp.oauth2.token_url"},
		{"xoauth2 without client_id", "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\ntoken_url = \"https://login.example.com/t\"\n", "mail.smtp.oauth2.client_id"},
		{"token_url in plain http", "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\ntoken_url = \"http://login.example.com/t\"\n", "mail.smtp.oauth2.token_url"},
		{"empty scopes", "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\ntoken_url = \"https://login.example.com/t\"\nscopes = []\n", "mail.smtp.oauth2.scopes"},
		{"unknown oauth2 key", "[mail.smtp.oauth2]\ntenant = \"x\"\n", "unknown key mail.smtp.oauth2.tenant"},
		{"metrics off loopback", "[metrics]\nlisten = \"0.0.0.0:9464\"\n", "metrics.listen"},
		{"metrics bad port", "[metrics]\nlisten = \"127.0.0.1:99999\"\n", "metrics.listen"},
		{"from domain not a host name", "[mail]\nfrom = \"r@exa_mple.com\"\n", "mail.from"},
		{"offset after the grace period", "[renewal]\noffsets_days = [-30, 45]\n", "renewal.offsets_days"},
		{"negative give_up_after_hours", "[mail]\ngive_up_after_hours = -1\n", "mail.give_up_after_hours"},
		{"a message slower than half a lease", "[mail]\nrate_per_second = 0.01\nlease_seconds = 120\n", "mail.lease_seconds"},
		{"max_per_minute slower than half a lease", "[mail]\nmax_per_minute = 1\nlease_seconds = 60\n", "mail.lease_seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "c.toml", tc.toml)
			_, err := LoadConfig(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want it to name %q and the file", err, tc.want)
			}
		})
	}
}

func TestConfigPartialFileKeepsDefaults(t *testing.T) {
	p := writeFile(t, "c.toml", "[schedule]\ntimezone = \"Europe/Amsterdam\"\n[mail]\ntransport = \"file\"\n[mail.smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\n")
	cfg, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule.Cron != "0 6 * * *" || len(cfg.Renewal.OffsetsDays) != 6 || cfg.Location().String() != "Europe/Amsterdam" {
		t.Errorf("defaults lost: %+v", cfg)
	}
	p = writeFile(t, "c.toml", "[renewal]\noffsets_days = [-30, 0]\nrecipient_roles = [\"Account admin\"]\n")
	cfg, err = LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Renewal.OffsetsDays) != 2 || len(cfg.Renewal.RecipientRoles) != 1 {
		t.Errorf("lists must replace the defaults: %+v", cfg.Renewal)
	}
}

func TestConfigCheckReadsReferencedFiles(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := writeFile(t, "c.toml", "[mail.smtp]\npassword_file = \"/nonexistent/pw\"\n")
	code, _, errs := runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "password_file") {
		t.Errorf("missing password file: exit %d %q", code, errs)
	}
	p = writeFile(t, "c.toml", "[mail.smtp]\nca_file = \"/nonexistent/ca.pem\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "mail.smtp.ca_file") {
		t.Errorf("missing CA file: exit %d %q", code, errs)
	}
	notPEM := writeFile(t, "ca.pem", "hello\n")
	p = writeFile(t, "c.toml", "[mail.smtp]\nca_file = \""+notPEM+"\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "no PEM certificate") {
		t.Errorf("CA file without a certificate: exit %d %q", code, errs)
	}
	xo := "[mail.smtp]\nauth = \"xoauth2\"\nusername = \"r@example.com\"\n[mail.smtp.oauth2]\nclient_id = \"x\"\ntoken_url = \"https://login.example.com/t\"\n"
	p = writeFile(t, "c.toml", xo+"client_secret_file = \"/nonexistent/secret\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "mail.smtp.oauth2.client_secret_file") {
		t.Errorf("missing client secret file: exit %d %q", code, errs)
	}
	p = writeFile(t, "c.toml", xo)
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "RENEWALD_OAUTH2_CLIENT_SECRET") {
		t.Errorf("no client secret: exit %d %q", code, errs)
	}
	code, out, errs := runMain(t, map[string]string{"RENEWALD_OAUTH2_CLIENT_SECRET": "s3cret-value"}, now, "--config", p, "config", "check")
	if code != 0 || strings.Contains(out+errs, "s3cret-value") {
		t.Errorf("client secret from the environment: exit %d %q %q", code, out, errs)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "subject.tmpl"), []byte("{{.Broken"), 0o600)
	p = writeFile(t, "c.toml", "[mail]\ntemplates_dir = \""+dir+"\"\n")
	code, _, errs = runMain(t, nil, now, "--config", p, "config", "check")
	if code != 2 || !strings.Contains(errs, "subject.tmpl") {
		t.Errorf("broken template: exit %d %q", code, errs)
	}
}

// TestMailFromRefusesInvisibleCharactersAndGoesOutAsIDNA: mail.from with a bidi override, a C1
// control or a line separator is refused; a non-ASCII domain is used in its IDNA form.
func TestMailFromRefusesInvisibleCharactersAndGoesOutAsIDNA(t *testing.T) {
	for _, from := range []string{"Renewals \u202e <renewals@example.com>", "Renewals <renew\u200bals@example.com>",
		"Renewals\u0085 <renewals@example.com>", "Renewals \u2028<renewals@example.com>"} {
		p := writeFile(t, "c.toml", "[mail]\nfrom = \""+from+"\"\n")
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), "mail.from") || !strings.Contains(err.Error(), "U+") {
			t.Errorf("from %q: err = %v", from, err)
		}
	}
	p := writeFile(t, "c.toml", "[mail]\nfrom = \"Renewals <renewals@bücher.example>\"\n")
	cfg, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseAddress(cfg.Mail.From)
	if err != nil || a.Address != "renewals@xn--bcher-kva.example" {
		t.Errorf("from = %v, %v; want the IDNA domain", a, err)
	}
}

// TestConfigCheckRendersEveryStage: a template that parses but cannot render (a misspelt field) is
// refused by config check, naming mail.templates_dir, rather than failing the first tick; metrics
// off loopback pass with allow_remote.
func TestConfigCheckRendersEveryStage(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "body.txt.tmpl"), []byte("Hello {{.RecipientNmae}}\n"), 0o600)
	e := newEnv(t, fmt.Sprintf("[mail]\ntemplates_dir = %q\n", dir))
	// newEnv wrote a [mail] table already: merge the key into it.
	body, _ := os.ReadFile(e.cfg)
	cfg := strings.Replace(string(body), fmt.Sprintf("[mail]\ntemplates_dir = %q\n", dir), "", 1)
	cfg = strings.Replace(cfg, "[mail]\n", fmt.Sprintf("[mail]\ntemplates_dir = %q\n", dir), 1)
	os.WriteFile(e.cfg, []byte(cfg), 0o600)
	if code, _, errs := e.run("config", "check"); code != 2 || !strings.Contains(errs, "mail.templates_dir") || !strings.Contains(errs, "RecipientNmae") {
		t.Errorf("exit %d: %s", code, errs)
	}
	// A misspelt field in a branch only an at-risk renewal takes is found too.
	os.Remove(filepath.Join(dir, "body.txt.tmpl"))
	os.WriteFile(filepath.Join(dir, "subject.tmpl"), []byte("{{if .AtRisk}}{{.AtRiskk}}{{end}}Renewal of {{.Specialization}}"), 0o600)
	if code, _, errs := e.run("config", "check"); code != 2 || !strings.Contains(errs, "AtRiskk") {
		t.Errorf("at-risk branch: exit %d: %s", code, errs)
	}
	ok := newEnv(t, "[metrics]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n")
	if code, _, errs := ok.run("config", "check"); code != 0 {
		t.Errorf("allow_remote: exit %d %s", code, errs)
	}
}
