package config

import (
	"errors"
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
	cfg, err := Load("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	cfg.path = ""
	if got, want := strings.Join(strings.Fields(fmt.Sprintf("%+v", cfg)), " "), strings.Join(strings.Fields(fmt.Sprintf("%+v", def)), " "); got != want {
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
		{"reply_to a URL", "[mail]\nreply_to = \"https://example.com/contact\"\n", "mail.reply_to"},
		{"contact neither address nor https", "[mail]\ncontact = \"call Ada\"\n", "mail.contact"},
		{"contact over http", "[mail]\ncontact = \"http://example.com/renewed\"\n", "mail.contact"},
		{"organisation on two lines", "[mail]\norganisation = \"A\\nB\"\n", "mail.organisation"},
		{"scores_stale_days zero", "[renewal]\nscores_stale_days = 0\n", "renewal.scores_stale_days"},
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
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want it to name %q and the file", err, tc.want)
			}
		})
	}
}

func TestConfigPartialFileKeepsDefaults(t *testing.T) {
	p := writeFile(t, "c.toml", "[schedule]\ntimezone = \"Europe/Amsterdam\"\n[mail]\ntransport = \"file\"\n[mail.smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Schedule.Cron != "0 6 * * *" || len(cfg.Renewal.OffsetsDays) != 6 || cfg.Location().String() != "Europe/Amsterdam" {
		t.Errorf("defaults lost: %+v", cfg)
	}
	p = writeFile(t, "c.toml", "[renewal]\noffsets_days = [-30, 0]\nrecipient_roles = [\"Account admin\"]\n")
	cfg, err = Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Renewal.OffsetsDays) != 2 || len(cfg.Renewal.RecipientRoles) != 1 {
		t.Errorf("lists must replace the defaults: %+v", cfg.Renewal)
	}
}

// TestMailFromRefusesInvisibleCharactersAndGoesOutAsIDNA: mail.from with a bidi override, a C1
// control or a line separator is refused; a non-ASCII domain is used in its IDNA form.
func TestMailFromRefusesInvisibleCharactersAndGoesOutAsIDNA(t *testing.T) {
	for _, from := range []string{"Renewals \u202e <renewals@example.com>", "Renewals <renew\u200bals@example.com>",
		"Renewals\u0085 <renewals@example.com>", "Renewals \u2028<renewals@example.com>"} {
		p := writeFile(t, "c.toml", "[mail]\nfrom = \""+from+"\"\n")
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), "mail.from") || !strings.Contains(err.Error(), "U+") {
			t.Errorf("from %q: err = %v", from, err)
		}
	}
	p := writeFile(t, "c.toml", "[mail]\nfrom = \"Renewals <renewals@bücher.example>\"\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAddress(cfg.Mail.From)
	if err != nil || a.Address != "renewals@xn--bcher-kva.example" {
		t.Errorf("from = %v, %v; want the IDNA domain", a, err)
	}
}

// TestFieldErrors: every problem is a *FieldError naming the file, the key and the value as written
// (the line of a syntax error), reading as the messages always have; several are each named.
func TestFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml, key, value string
		line                   int
		msg                    string // after "FILE"
	}{
		{"range", "[mail.smtp]\nport = 70000\n", "mail.smtp.port", "70000", 0, ": mail.smtp.port = 70000: out of range 1..65535"},
		{"string", "[mail]\ntransport = \"pigeon\"\n", "mail.transport", `"pigeon"`, 0, `: mail.transport = "pigeon": must be "smtp", "graph" or "file"`},
		{"rules", "[renewal]\nwindow_opens_days_before = 400\n", "renewal.window_opens_days_before", "", 0, ": renewal.window_opens_days_before: 400 is out of range 0..365"},
		{"graph", "[mail]\ntransport = \"graph\"\n[mail.graph]\ntenant = \"t.example\"\nclient_id = \"c\"\ncloud = \"moon\"\n", "mail.graph.cloud", `"moon"`, 0,
			`: mail.graph.cloud = "moon": must be "global", "usgov", "dod" or "china"`},
		{"web", "[web]\nbase_path = \"x/\"\n", "web.base_path", `"x/"`, 0, `: web.base_path = "x/": want "" or a path like "/renewald": a leading slash, no trailing slash`},
		{"unknown key", "[schedule]\ncron_spec = \"0 6 * * *\"\n", "schedule.cron_spec", "", 0, ": unknown key schedule.cron_spec"},
		{"syntax", "[schedule\ncron = 1\n", "", "", 2, ":2: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "c.toml", tc.toml)
			_, err := Load(p)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a *FieldError", err, err)
			}
			if fe.File != p || fe.Key != tc.key || fe.Value != tc.value || fe.Line != tc.line {
				t.Errorf("FieldError{File: %q, Key: %q, Value: %q, Line: %d}, want %q %q %q %d", fe.File, fe.Key, fe.Value, fe.Line, p, tc.key, tc.value, tc.line)
			}
			if tc.name == "syntax" {
				if !strings.HasPrefix(err.Error(), p+tc.msg) {
					t.Errorf("err = %q, want it to start %q", err, p+tc.msg)
				}
			} else if err.Error() != p+tc.msg {
				t.Errorf("err = %q, want %q", err, p+tc.msg)
			}
		})
	}
	// Each of several problems names the file and its key.
	p := writeFile(t, "c.toml", "[mail]\nmax_attempts = 0\nbatch_size = 0\n")
	_, err := Load(p)
	if want := p + ": mail.max_attempts = 0: out of range 1..100\n" + p + ": mail.batch_size = 0: out of range 1..10000"; err == nil || err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	// The built-in defaults have no file to name.
	c := Default()
	c.Mail.MaxAttempts = 0
	if err := c.Validate(); err == nil || err.Error() != "mail.max_attempts = 0: out of range 1..100" {
		t.Errorf("defaults: err = %v", err)
	}
	// A schedule that never fires names the file and key too.
	p = writeFile(t, "c.toml", "[schedule]\ncron = \"0 6 30 2 *\"\n")
	c, err = Load(p)
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckScheduleFires(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "schedule.cron" || !strings.HasPrefix(err.Error(), p+`: schedule.cron = "0 6 30 2 *": `) {
		t.Errorf("schedule that never fires: %v", err)
	}
}

// TestSignatureKeys (issue 26): organisation, reply_to and contact load; an empty organisation is a
// warning, not an error; contact takes an address or an https URL.
func TestSignatureKeys(t *testing.T) {
	if w := Default().Warnings(); len(w) != 1 || !strings.Contains(w[0], "mail.organisation") {
		t.Errorf("defaults warn %q, want one warning naming mail.organisation", w)
	}
	for _, contact := range []string{"renewals@contoso.example", "Partner Team <team@contoso.example>", "https://contoso.example/renewed"} {
		p := filepath.Join(t.TempDir(), "c.toml")
		os.WriteFile(p, []byte("[mail]\norganisation = \"Contoso Partner Programme\"\nreply_to = \"team@contoso.example\"\ncontact = \""+contact+"\"\n"), 0o600)
		cfg, err := Load(p)
		if err != nil {
			t.Fatalf("contact %q: %v", contact, err)
		}
		if cfg.Mail.Organisation != "Contoso Partner Programme" || cfg.Mail.Contact != contact || len(cfg.Warnings()) != 0 {
			t.Errorf("loaded %+v, warnings %q", cfg.Mail, cfg.Warnings())
		}
		if cfg.Renewal.ScoresStaleDays != 45 {
			t.Errorf("scores_stale_days %d, want the default 45", cfg.Renewal.ScoresStaleDays)
		}
	}
}
