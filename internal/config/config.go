// Package config loads renewald's configuration file (DESIGN.md §5): every key with its default, the
// paths relative to the file's folder, and the validation that names the file and key of each
// problem (FieldError). It reads the files the configuration points to only on request (Catalog);
// the command line does the rest of the wiring.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/renewald/renewald/importer"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/web"
)

// Config is the whole configuration file (DESIGN.md §5). Every key has a default.
type Config struct {
	Database DatabaseConfig `toml:"database"`
	Schedule ScheduleConfig `toml:"schedule"`
	Renewal  RenewalConfig  `toml:"renewal"`
	Mail     MailConfig     `toml:"mail"`
	Metrics  MetricsConfig  `toml:"metrics"`
	Web      WebConfig      `toml:"web"`

	path string // the file it came from, "" for defaults only
}

// File returns the file the configuration was read from, "" for the built-in defaults.
func (c Config) File() string { return c.path }

// DatabaseConfig is [database].
type DatabaseConfig struct {
	Driver  string `toml:"driver"`   // "sqlite" (default) or "postgres"
	Path    string `toml:"path"`     // sqlite
	DSN     string `toml:"dsn"`      // postgres; never logged (see store.RedactDSN)
	DSNFile string `toml:"dsn_file"` // postgres: a file holding the DSN, else RENEWALD_DATABASE_DSN
}

// ScheduleConfig is [schedule].
type ScheduleConfig struct {
	Cron        string `toml:"cron"`
	Timezone    string `toml:"timezone"`
	CatchUpDays int    `toml:"catch_up_days"`
}

// RenewalConfig is [renewal].
type RenewalConfig struct {
	ProgramStart          tomlDate `toml:"program_start"`
	WindowOpensDaysBefore int      `toml:"window_opens_days_before"`
	GracePeriodDays       int      `toml:"grace_period_days"`
	OffsetsDays           []int    `toml:"offsets_days"`
	RecipientRoles        []string `toml:"recipient_roles"`
	CatalogFile           string   `toml:"catalog_file"`
	ScoresStaleDays       int      `toml:"scores_stale_days"` // older capability scores count as unknown (issue 26)
}

// MailConfig is [mail].
type MailConfig struct {
	Transport          string      `toml:"transport"`
	From               string      `toml:"from"`
	FileDir            string      `toml:"file_dir"`
	MaxAttempts        int         `toml:"max_attempts"`
	GiveUpAfterHours   int         `toml:"give_up_after_hours"`
	BackoffBaseSeconds int         `toml:"backoff_base_seconds"`
	BatchSize          int         `toml:"batch_size"`
	LeaseSeconds       int         `toml:"lease_seconds"`
	RatePerSecond      float64     `toml:"rate_per_second"`
	TemplatesDir       string      `toml:"templates_dir"`
	Digest             bool        `toml:"digest"`
	ReplyTo            string      `toml:"reply_to"`
	Organisation       string      `toml:"organisation"` // who runs the reminders: signs every email
	Contact            string      `toml:"contact"`      // an address or https URL where admins tell the team something
	MaxPerMinute       int         `toml:"max_per_minute"`
	MaxPerDay          int         `toml:"max_per_day"`
	PartnerCenterURL   string      `toml:"partner_center_url"`
	SMTP               SMTPConfig  `toml:"smtp"`
	Graph              GraphConfig `toml:"graph"`
}

// DefaultScoresStaleDays is renewal.scores_stale_days: capability scores older than this count as
// unknown in reminders.
const DefaultScoresStaleDays = 45

// DefaultPartnerCenterURL is where partners check their specializations.
const DefaultPartnerCenterURL = "https://partner.microsoft.com/dashboard/v2/membership/advancedspecialization"

// DefaultOAuth2Scopes is the scope of SMTP sending in Exchange Online.
var DefaultOAuth2Scopes = []string{"https://outlook.office365.com/.default"}

// SMTPConfig is [mail.smtp].
type SMTPConfig struct {
	Host         string       `toml:"host"`
	Port         int          `toml:"port"`
	Username     string       `toml:"username"`
	PasswordFile string       `toml:"password_file"`
	TLS          string       `toml:"tls"`
	Auth         string       `toml:"auth"`
	CAFile       string       `toml:"ca_file"`
	ServerName   string       `toml:"server_name"`
	OAuth2       OAuth2Config `toml:"oauth2"`
}

// OAuth2Config is [mail.smtp.oauth2]: the client-credentials grant for auth = "xoauth2".
type OAuth2Config struct {
	TokenURL         string   `toml:"token_url"`
	ClientID         string   `toml:"client_id"`
	ClientSecretFile string   `toml:"client_secret_file"`
	Scopes           []string `toml:"scopes"`
	// ClientCertificateFile is a PEM with the certificate and its unencrypted key, instead of a secret.
	ClientCertificateFile string `toml:"client_certificate_file"`
}

// GraphConfig is [mail.graph]: Microsoft Graph sendMail, for transport = "graph".
type GraphConfig struct {
	Tenant                string `toml:"tenant"`
	ClientID              string `toml:"client_id"`
	ClientSecretFile      string `toml:"client_secret_file"`
	ClientCertificateFile string `toml:"client_certificate_file"`
	Mailbox               string `toml:"mailbox"` // "": the address of mail.from
	Cloud                 string `toml:"cloud"`
	LoginEndpoint         string `toml:"login_endpoint"` // "": the cloud's
	GraphEndpoint         string `toml:"graph_endpoint"` // "": the cloud's
}

// MetricsConfig is [metrics].
type MetricsConfig struct {
	Listen      string `toml:"listen"`
	AllowRemote bool   `toml:"allow_remote"` // serve on a non-loopback address (no authentication)
}

// tomlDate is a TOML local date (program_start = 2023-02-01); a quoted "2023-02-01" is accepted too.
type tomlDate struct{ renewal.Date }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *tomlDate) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case time.Time:
		d.Date = renewal.NewDate(x.Year(), x.Month(), x.Day())
		return nil
	case string:
		p, err := renewal.ParseDate(x)
		d.Date = p
		return err
	}
	return fmt.Errorf("%v is not a date", v)
}

// Default returns the configuration with every default of DESIGN.md §5.
func Default() Config {
	r := renewal.DefaultRules()
	return Config{
		Database: DatabaseConfig{Driver: "sqlite", Path: "renewald.db"},
		Schedule: ScheduleConfig{Cron: "0 6 * * *", Timezone: "UTC", CatchUpDays: 7},
		Renewal: RenewalConfig{
			ProgramStart:          tomlDate{r.ProgramStart},
			WindowOpensDaysBefore: r.WindowOpensDaysBefore,
			GracePeriodDays:       r.GracePeriodDays,
			OffsetsDays:           r.OffsetsDays,
			RecipientRoles:        renewal.DefaultRecipientRoles(),
			ScoresStaleDays:       DefaultScoresStaleDays,
		},
		Mail: MailConfig{
			Transport:          "smtp",
			From:               "Partner Renewals <renewals@example.com>",
			FileDir:            "mail-out",
			MaxAttempts:        8,
			GiveUpAfterHours:   72,
			BackoffBaseSeconds: 60,
			BatchSize:          100,
			LeaseSeconds:       300,
			TemplatesDir:       "",
			PartnerCenterURL:   DefaultPartnerCenterURL,
			SMTP: SMTPConfig{Host: "localhost", Port: 587, TLS: "starttls", Auth: "auto",
				OAuth2: OAuth2Config{Scopes: slices.Clone(DefaultOAuth2Scopes)}},
			Graph: GraphConfig{Cloud: "global"},
		},
	}
}

// Load reads path over the defaults and validates the result. A missing path ("") gives the
// defaults.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	cfg.path = path
	// Lists replace the defaults rather than merge with them.
	cfg.Renewal.OffsetsDays, cfg.Renewal.RecipientRoles, cfg.Mail.SMTP.OAuth2.Scopes = nil, nil, nil
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return cfg, &FieldError{File: path, Line: perr.Position.Line, Err: errors.New(perr.Message)}
		}
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		errs := make([]error, len(und))
		for i, k := range und {
			errs[i] = &FieldError{File: path, Key: k.String(), Err: ErrUnknownKey}
		}
		return cfg, errors.Join(errs...)
	}
	def := Default()
	if !md.IsDefined("renewal", "offsets_days") {
		cfg.Renewal.OffsetsDays = def.Renewal.OffsetsDays
	}
	if !md.IsDefined("renewal", "recipient_roles") {
		cfg.Renewal.RecipientRoles = def.Renewal.RecipientRoles
	}
	if !md.IsDefined("mail", "smtp", "oauth2", "scopes") {
		cfg.Mail.SMTP.OAuth2.Scopes = def.Mail.SMTP.OAuth2.Scopes
	}
	// Relative paths written in the file are relative to the file's folder (as Prometheus does), so
	// the same file works from any working directory; defaults stay relative to the working directory.
	dir := filepath.Dir(path)
	for _, p := range []struct {
		key []string
		v   *string
	}{
		{[]string{"database", "path"}, &cfg.Database.Path},
		{[]string{"mail", "file_dir"}, &cfg.Mail.FileDir},
		{[]string{"mail", "templates_dir"}, &cfg.Mail.TemplatesDir},
	} {
		if md.IsDefined(p.key...) && *p.v != "" && !filepath.IsAbs(*p.v) {
			*p.v = filepath.Join(dir, *p.v)
		}
	}
	return cfg, cfg.Validate()
}

// ErrUnknownKey is the Err of a FieldError for a key the configuration does not have.
var ErrUnknownKey = errors.New("unknown key")

// FieldError is one problem with the configuration, naming where it is: the file ("" for the
// built-in defaults), the line when it is known (a syntax error), and the dotted key ("mail.smtp.port")
// with the value as written, quoted when it is a string. It reads "FILE:LINE: KEY = VALUE: ERR"
// without the parts that are not known, and "FILE: unknown key KEY" for ErrUnknownKey.
type FieldError struct {
	File  string
	Line  int    // 0: not known
	Key   string // "" for a problem of the file as a whole (a syntax error)
	Value string // "" when the problem is not one value
	Err   error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	switch {
	case errors.Is(e.Err, ErrUnknownKey):
		return b.String() + "unknown key " + e.Key
	case e.Key != "" && e.Value != "":
		b.WriteString(e.Key + " = " + e.Value + ": ")
	case e.Key != "":
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr returns the FieldError of key holding v, for the reason why.
func fieldErr(key string, v any, why string) error {
	return &FieldError{Key: key, Value: fmt.Sprint(v), Err: errors.New(why)}
}

// Validate checks every key and returns the problems, each a *FieldError naming the file, the key
// and its value (errors.Join of them when there are several).
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, why string) { errs = append(errs, fieldErr(key, v, why)) }
	switch c.Database.Driver {
	case "sqlite":
		if c.Database.Path == "" {
			bad("database.path", `""`, "must be set")
		}
	case "postgres":
		if c.Database.DSN != "" && c.Database.DSNFile != "" {
			bad("database.dsn_file", fmt.Sprintf("%q", c.Database.DSNFile), "database.dsn is set too: give one of them")
		}
	default:
		bad("database.driver", fmt.Sprintf("%q", c.Database.Driver), `must be "sqlite" or "postgres"`)
	}
	if _, err := time.LoadLocation(c.Schedule.Timezone); err != nil || c.Schedule.Timezone == "" {
		bad("schedule.timezone", fmt.Sprintf("%q", c.Schedule.Timezone), "unknown time zone")
	}
	if _, err := scheduler.ParseSchedule(c.Schedule.Cron, c.Location()); err != nil {
		bad("schedule.cron", fmt.Sprintf("%q", c.Schedule.Cron), strings.TrimPrefix(err.Error(), fmt.Sprintf("cron spec %q: ", c.Schedule.Cron)))
	}
	if c.Schedule.CatchUpDays < 0 || c.Schedule.CatchUpDays > 366 {
		bad("schedule.catch_up_days", c.Schedule.CatchUpDays, "out of range 0..366")
	}
	if err := c.Rules().Validate(); err != nil {
		list := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		}
		for _, e := range list { // "offsets_days: 900 is out of range -365..365"
			key, why, _ := strings.Cut(e.Error(), ": ")
			errs = append(errs, &FieldError{Key: "renewal." + key, Err: errors.New(why)})
		}
	}
	if len(c.Renewal.RecipientRoles) == 0 {
		bad("renewal.recipient_roles", "[]", "must name at least one role")
	}
	if c.Renewal.ScoresStaleDays < 1 || c.Renewal.ScoresStaleDays > 3660 {
		bad("renewal.scores_stale_days", c.Renewal.ScoresStaleDays, "out of range 1..3660")
	}
	m := c.Mail
	if m.Transport != "smtp" && m.Transport != "graph" && m.Transport != "file" {
		bad("mail.transport", fmt.Sprintf("%q", m.Transport), `must be "smtp", "graph" or "file"`)
	}
	if _, err := ParseAddress(m.From); err != nil {
		bad("mail.from", fmt.Sprintf("%q", m.From), err.Error())
	}
	if m.Transport == "file" && m.FileDir == "" {
		bad("mail.file_dir", `""`, "must be set when mail.transport is \"file\"")
	}
	if m.MaxAttempts < 1 || m.MaxAttempts > 100 {
		bad("mail.max_attempts", m.MaxAttempts, "out of range 1..100")
	}
	if m.GiveUpAfterHours < 0 || m.GiveUpAfterHours > 24*365 {
		bad("mail.give_up_after_hours", m.GiveUpAfterHours, "out of range 0..8760")
	}
	if m.BackoffBaseSeconds < 1 || m.BackoffBaseSeconds > 6*3600 {
		bad("mail.backoff_base_seconds", m.BackoffBaseSeconds, "out of range 1..21600")
	}
	if m.BatchSize < 1 || m.BatchSize > 10000 {
		bad("mail.batch_size", m.BatchSize, "out of range 1..10000")
	}
	if m.LeaseSeconds < 1 || m.LeaseSeconds > 86400 {
		bad("mail.lease_seconds", m.LeaseSeconds, "out of range 1..86400")
	}
	if m.RatePerSecond < 0 {
		bad("mail.rate_per_second", m.RatePerSecond, "must not be negative")
	}
	// A batch renews its claim between messages; the wait for one message must fit well inside it.
	if m.RatePerSecond > 0 && 1/m.RatePerSecond >= float64(m.LeaseSeconds)/2 {
		bad("mail.lease_seconds", m.LeaseSeconds, fmt.Sprintf("must be more than twice the %.0f s between two messages at rate_per_second = %g", 1/m.RatePerSecond, m.RatePerSecond))
	}
	if m.ReplyTo != "" {
		if _, err := ParseAddress(m.ReplyTo); err != nil {
			bad("mail.reply_to", fmt.Sprintf("%q", m.ReplyTo), err.Error())
		}
	}
	if m.Contact != "" {
		if err := checkContact(m.Contact); err != nil {
			bad("mail.contact", fmt.Sprintf("%q", m.Contact), err.Error())
		}
	}
	if strings.ContainsAny(m.Organisation, "\r\n") {
		bad("mail.organisation", fmt.Sprintf("%q", m.Organisation), "must be one line")
	}
	if m.MaxPerMinute > 0 && 60/float64(m.MaxPerMinute) >= float64(m.LeaseSeconds)/2 {
		bad("mail.lease_seconds", m.LeaseSeconds, fmt.Sprintf("must be more than twice the %.0f s between two messages at max_per_minute = %d", 60/float64(m.MaxPerMinute), m.MaxPerMinute))
	}
	if m.MaxPerMinute < 0 || m.MaxPerMinute > 1_000_000 {
		bad("mail.max_per_minute", m.MaxPerMinute, "out of range 0..1000000")
	}
	if m.MaxPerDay < 0 || m.MaxPerDay > 100_000_000 {
		bad("mail.max_per_day", m.MaxPerDay, "out of range 0..100000000")
	}
	if m.PartnerCenterURL != "" {
		if err := checkURL(m.PartnerCenterURL, false); err != nil {
			bad("mail.partner_center_url", fmt.Sprintf("%q", m.PartnerCenterURL), err.Error())
		}
	}
	s := m.SMTP
	if m.Transport == "smtp" {
		if s.Host == "" {
			bad("mail.smtp.host", `""`, "must be set")
		}
		if s.Port < 1 || s.Port > 65535 {
			bad("mail.smtp.port", s.Port, "out of range 1..65535")
		}
		switch s.TLS {
		case "starttls", "tls":
		case "none":
			if !notify.IsLoopbackHost(s.Host) {
				bad("mail.smtp.tls", `"none"`, fmt.Sprintf("only allowed to a loopback host, not %q", s.Host))
			}
		default:
			bad("mail.smtp.tls", fmt.Sprintf("%q", s.TLS), `must be "starttls", "tls" or "none"`)
		}
		switch s.Auth {
		case "auto", "none":
		case "plain", "login", "xoauth2":
			if s.Username == "" {
				bad("mail.smtp.username", `""`, fmt.Sprintf("must be set when mail.smtp.auth is %q", s.Auth))
			}
		default:
			bad("mail.smtp.auth", fmt.Sprintf("%q", s.Auth), `must be "auto", "none", "plain", "login" or "xoauth2"`)
		}
		if s.ServerName != "" && !validHostname(s.ServerName) {
			bad("mail.smtp.server_name", fmt.Sprintf("%q", s.ServerName), "not a host name")
		}
		if s.Auth == "xoauth2" {
			o := s.OAuth2
			if o.TokenURL == "" {
				bad("mail.smtp.oauth2.token_url", `""`, `must be set when mail.smtp.auth is "xoauth2"`)
			} else if err := checkURL(o.TokenURL, true); err != nil {
				bad("mail.smtp.oauth2.token_url", fmt.Sprintf("%q", o.TokenURL), err.Error())
			}
			if o.ClientID == "" {
				bad("mail.smtp.oauth2.client_id", `""`, `must be set when mail.smtp.auth is "xoauth2"`)
			}
			if len(o.Scopes) == 0 {
				bad("mail.smtp.oauth2.scopes", "[]", `must name at least one scope when mail.smtp.auth is "xoauth2"`)
			}
			if o.ClientSecretFile != "" && o.ClientCertificateFile != "" {
				bad("mail.smtp.oauth2.client_certificate_file", fmt.Sprintf("%q", o.ClientCertificateFile),
					"set together with mail.smtp.oauth2.client_secret_file: use one credential, the certificate or the secret")
			}
		}
	}
	if m.Transport == "graph" {
		errs = append(errs, m.Graph.validate()...)
	}
	if c.Metrics.Listen != "" {
		host, port, err := net.SplitHostPort(c.Metrics.Listen)
		p, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			bad("metrics.listen", fmt.Sprintf("%q", c.Metrics.Listen), "want host:port")
		case perr != nil || p < 0 || p > 65535:
			bad("metrics.listen", fmt.Sprintf("%q", c.Metrics.Listen), "the port must be a number 0..65535")
		case !c.Metrics.AllowRemote && !web.IsLoopback(c.Metrics.Listen):
			bad("metrics.listen", fmt.Sprintf("%q", c.Metrics.Listen), fmt.Sprintf("%q is not a loopback address: /metrics and /healthz have no authentication; set [metrics] allow_remote = true to serve them there anyway", host))
		}
	}
	errs = append(errs, c.Web.validate()...)
	for _, e := range errs {
		if fe, ok := e.(*FieldError); ok {
			fe.File = c.path
		}
	}
	return errors.Join(errs...)
}

// CheckScheduleFires refuses a schedule with no firing in the next four years after now (say
// "0 6 30 2 *"), which would otherwise make the daemon spin.
func (c Config) CheckScheduleFires(now time.Time) error {
	s, err := scheduler.ParseSchedule(c.Schedule.Cron, c.Location())
	if err != nil {
		return err // reported by Validate
	}
	if err := scheduler.CheckFires(s, now); err != nil {
		return &FieldError{File: c.path, Key: "schedule.cron", Value: strconv.Quote(c.Schedule.Cron),
			Err: fmt.Errorf("%w in the next four years (in %s)", err, c.Schedule.Timezone)}
	}
	return nil
}

// Rules returns the renewal figures of the configuration.
func (c Config) Rules() renewal.Rules {
	return renewal.Rules{
		ProgramStart:          c.Renewal.ProgramStart.Date,
		WindowOpensDaysBefore: c.Renewal.WindowOpensDaysBefore,
		GracePeriodDays:       c.Renewal.GracePeriodDays,
		OffsetsDays:           c.Renewal.OffsetsDays,
	}
}

// Location returns the configured time zone (validated).
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Schedule.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Catalog loads the configured catalog: the embedded one or renewal.catalog_file.
func (c Config) Catalog() (*renewal.Catalog, error) {
	if c.Renewal.CatalogFile == "" {
		return renewal.DefaultCatalog(), nil
	}
	data, err := os.ReadFile(c.Renewal.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("renewal.catalog_file: %w", err)
	}
	cat, err := renewal.ParseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("renewal.catalog_file %s: %w", c.Renewal.CatalogFile, err)
	}
	return cat, nil
}

// checkContact accepts an email address (a bare one, or with a display name) or an https URL.
func checkContact(s string) error {
	if strings.HasPrefix(strings.ToLower(s), "https://") {
		return checkURL(s, false)
	}
	if _, err := ParseAddress(s); err != nil {
		return fmt.Errorf("neither an email address nor an https URL: %w", err)
	}
	return nil
}

// Warnings returns what config check reports without refusing the file: settings that work but that
// a reader of the emails would notice (issue 26: unsigned emails).
func (c Config) Warnings() []string {
	var w []string
	if strings.TrimSpace(c.Mail.Organisation) == "" {
		w = append(w, `mail.organisation is empty: reminders are signed "The partner renewals team"; set it to who runs them, e.g. "Contoso Partner Programme"`)
	}
	return w
}

// checkURL accepts an absolute https URL (http only to a loopback host when loopbackHTTP is set)
// without user information.
func checkURL(s string, loopbackHTTP bool) error {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("contains spaces or control characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Host == "" || u.User != nil {
		return errors.New("want an absolute URL like https://host/path, without user information")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHTTP && notify.IsLoopbackHost(u.Hostname()):
	default:
		return errors.New("want an https URL")
	}
	return nil
}

// validHostname reports whether s is a DNS name or an IP address.
func validHostname(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

// validate checks [mail.graph] for transport = "graph"; the secret and certificate files are read
// when the transport is built (config check does).
func (g GraphConfig) validate() []error {
	var errs []error
	bad := func(key string, v any, why string) { errs = append(errs, fieldErr("mail.graph."+key, v, why)) }
	if strings.TrimSpace(g.Tenant) == "" {
		bad("tenant", `""`, `must be set when mail.transport is "graph": the directory (tenant) ID or a verified domain`)
	} else if !validTenant(g.Tenant) {
		bad("tenant", fmt.Sprintf("%q", g.Tenant), "not a tenant ID or domain name")
	}
	if strings.TrimSpace(g.ClientID) == "" {
		bad("client_id", `""`, `must be set when mail.transport is "graph": the application (client) ID`)
	}
	if g.ClientSecretFile != "" && g.ClientCertificateFile != "" {
		bad("client_certificate_file", fmt.Sprintf("%q", g.ClientCertificateFile),
			"set together with mail.graph.client_secret_file: use one credential, the certificate or the secret")
	}
	if _, ok := notify.Clouds[g.Cloud]; !ok {
		bad("cloud", fmt.Sprintf("%q", g.Cloud), `must be "global", "usgov", "dod" or "china"`)
	}
	for _, e := range []struct{ key, v string }{{"login_endpoint", g.LoginEndpoint}, {"graph_endpoint", g.GraphEndpoint}} {
		if e.v != "" {
			if err := checkURL(e.v, false); err != nil {
				bad(e.key, fmt.Sprintf("%q", e.v), err.Error())
			}
		}
	}
	if g.Mailbox != "" && (strings.ContainsAny(g.Mailbox, "/?#\\ \t\r\n") || strings.ContainsFunc(g.Mailbox, func(r rune) bool { return r < ' ' || r == 0x7f })) {
		bad("mailbox", fmt.Sprintf("%q", g.Mailbox), "want the mailbox's user principal name or object ID")
	}
	return errs
}

// validTenant accepts a tenant ID (GUID) or a domain name.
func validTenant(s string) bool {
	return validHostname(s) && !strings.ContainsAny(s, ":")
}

// Endpoints returns the login and Graph endpoints: the cloud's, or the overrides.
func (g GraphConfig) Endpoints() (login, graph string) {
	c := notify.Clouds[g.Cloud]
	login, graph = c.Login, c.Graph
	if g.LoginEndpoint != "" {
		login = g.LoginEndpoint
	}
	if g.GraphEndpoint != "" {
		graph = g.GraphEndpoint
	}
	return strings.TrimRight(login, "/"), strings.TrimRight(graph, "/")
}

// WebConfig is [web]: the read-only status pages (issue 20).
type WebConfig struct {
	Listen    string `toml:"listen"`
	BasePath  string `toml:"base_path"`
	UsersFile string `toml:"users_file"`
	CertFile  string `toml:"cert_file"`
	KeyFile   string `toml:"key_file"`
}

// validate checks [web]: an address off loopback needs users and TLS; each error names its key.
func (w WebConfig) validate() []error {
	var errs []error
	bad := func(key, v, why string) { errs = append(errs, fieldErr(key, strconv.Quote(v), why)) }
	if w.Listen != "" {
		if _, _, err := net.SplitHostPort(w.Listen); err != nil {
			bad("web.listen", w.Listen, "want host:port")
		} else if !web.IsLoopback(w.Listen) {
			why := fmt.Sprintf("required when web.listen %q is not a loopback address (127.0.0.0/8, ::1, localhost)", w.Listen)
			for _, k := range []struct{ key, v string }{{"web.users_file", w.UsersFile}, {"web.cert_file", w.CertFile}, {"web.key_file", w.KeyFile}} {
				if k.v == "" {
					bad(k.key, "", why)
				}
			}
		}
	}
	if (w.CertFile == "") != (w.KeyFile == "") {
		key, v := "web.key_file", w.KeyFile
		if w.CertFile == "" {
			key, v = "web.cert_file", w.CertFile
		}
		bad(key, v, "web.cert_file and web.key_file go together")
	}
	if b := w.BasePath; b != "" && (!strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.ContainsAny(b, "?#% \t\r\n")) {
		bad("web.base_path", b, `want "" or a path like "/renewald": a leading slash, no trailing slash`)
	}
	return errs
}

// ParseAddress parses one RFC 5322 address for mail.from (and mail.reply_to): it refuses header
// injection and invisible or line-breaking characters (Cc, Cf, Zl, Zp) anywhere in it, and returns a
// non-ASCII domain in its IDNA form, the one that goes out.
func ParseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains a line break")
	}
	if err := importer.CheckChars(s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("not an email address: %w", err)
	}
	if a.Address, err = importer.ASCIIDomain(a.Address); err != nil {
		return nil, err
	}
	if domain := notify.AddressDomain(a.Address); !validDomainName(domain) {
		return nil, fmt.Errorf("%q: the domain %q is not a host name (letters, digits and hyphens in dot-separated labels)", s, domain)
	}
	return a, nil
}

// validDomainName reports whether s is a DNS host name: labels of 1 to 63 letters, digits and hyphens,
// not starting or ending with a hyphen, at most 253 characters in all.
func validDomainName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
