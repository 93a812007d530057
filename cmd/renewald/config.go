package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/renewald/renewald/renewal"
	"github.com/robfig/cron/v3"
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

// DatabaseConfig is [database].
type DatabaseConfig struct {
	Path string `toml:"path"`
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
}

// MailConfig is [mail].
type MailConfig struct {
	Transport          string     `toml:"transport"`
	From               string     `toml:"from"`
	FileDir            string     `toml:"file_dir"`
	MaxAttempts        int        `toml:"max_attempts"`
	BackoffBaseSeconds int        `toml:"backoff_base_seconds"`
	BatchSize          int        `toml:"batch_size"`
	LeaseSeconds       int        `toml:"lease_seconds"`
	RatePerSecond      float64    `toml:"rate_per_second"`
	TemplatesDir       string     `toml:"templates_dir"`
	SMTP               SMTPConfig `toml:"smtp"`
}

// SMTPConfig is [mail.smtp].
type SMTPConfig struct {
	Host         string `toml:"host"`
	Port         int    `toml:"port"`
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	TLS          string `toml:"tls"`
}

// MetricsConfig is [metrics].
type MetricsConfig struct {
	Listen string `toml:"listen"`
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

// DefaultConfig returns the configuration with every default of DESIGN.md §5.
func DefaultConfig() Config {
	r := renewal.DefaultRules()
	return Config{
		Database: DatabaseConfig{Path: "renewald.db"},
		Schedule: ScheduleConfig{Cron: "0 6 * * *", Timezone: "UTC", CatchUpDays: 7},
		Renewal: RenewalConfig{
			ProgramStart:          tomlDate{r.ProgramStart},
			WindowOpensDaysBefore: r.WindowOpensDaysBefore,
			GracePeriodDays:       r.GracePeriodDays,
			OffsetsDays:           r.OffsetsDays,
			RecipientRoles:        renewal.DefaultRecipientRoles(),
		},
		Mail: MailConfig{
			Transport:          "smtp",
			From:               "Partner Renewals <renewals@example.com>",
			FileDir:            "mail-out",
			MaxAttempts:        8,
			BackoffBaseSeconds: 60,
			BatchSize:          100,
			LeaseSeconds:       300,
			TemplatesDir:       "",
			SMTP:               SMTPConfig{Host: "localhost", Port: 587, TLS: "starttls"},
		},
	}
}

// LoadConfig reads path over the defaults and validates the result. A missing path ("") gives the
// defaults.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, cfg.Validate()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	cfg.path = path
	// Lists replace the defaults rather than merge with them.
	cfg.Renewal.OffsetsDays, cfg.Renewal.RecipientRoles = nil, nil
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return cfg, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return cfg, fmt.Errorf("%s: unknown key %s", path, strings.Join(keys, ", "))
	}
	def := DefaultConfig()
	if !md.IsDefined("renewal", "offsets_days") {
		cfg.Renewal.OffsetsDays = def.Renewal.OffsetsDays
	}
	if !md.IsDefined("renewal", "recipient_roles") {
		cfg.Renewal.RecipientRoles = def.Renewal.RecipientRoles
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks every key and returns the problems, each naming its key and value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, why string) {
		errs = append(errs, fmt.Errorf("%s = %v: %s", key, v, why))
	}
	if c.Database.Path == "" {
		bad("database.path", `""`, "must be set")
	}
	if _, err := cron.ParseStandard(c.Schedule.Cron); err != nil {
		bad("schedule.cron", fmt.Sprintf("%q", c.Schedule.Cron), err.Error())
	}
	if _, err := time.LoadLocation(c.Schedule.Timezone); err != nil || c.Schedule.Timezone == "" {
		bad("schedule.timezone", fmt.Sprintf("%q", c.Schedule.Timezone), "unknown time zone")
	}
	if c.Schedule.CatchUpDays < 0 || c.Schedule.CatchUpDays > 366 {
		bad("schedule.catch_up_days", c.Schedule.CatchUpDays, "out of range 0..366")
	}
	if err := c.Rules().Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			errs = append(errs, fmt.Errorf("renewal.%s", e))
		}
	}
	if len(c.Renewal.RecipientRoles) == 0 {
		bad("renewal.recipient_roles", "[]", "must name at least one role")
	}
	m := c.Mail
	if m.Transport != "smtp" && m.Transport != "file" {
		bad("mail.transport", fmt.Sprintf("%q", m.Transport), `must be "smtp" or "file"`)
	}
	if _, err := parseAddress(m.From); err != nil {
		bad("mail.from", fmt.Sprintf("%q", m.From), err.Error())
	}
	if m.Transport == "file" && m.FileDir == "" {
		bad("mail.file_dir", `""`, "must be set when mail.transport is \"file\"")
	}
	if m.MaxAttempts < 1 || m.MaxAttempts > 100 {
		bad("mail.max_attempts", m.MaxAttempts, "out of range 1..100")
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
			if !isLoopbackHost(s.Host) {
				bad("mail.smtp.tls", `"none"`, fmt.Sprintf("only allowed to a loopback host, not %q", s.Host))
			}
		default:
			bad("mail.smtp.tls", fmt.Sprintf("%q", s.TLS), `must be "starttls", "tls" or "none"`)
		}
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", fmt.Sprintf("%q", c.Metrics.Listen), "want host:port")
		}
	}
	errs = append(errs, c.Web.validate()...)
	return errors.Join(errs...)
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

// isLoopbackHost reports whether host names this machine's loopback interface.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
