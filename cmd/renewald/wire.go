package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

// app is the wired program for one configuration.
type app struct {
	cfg      config.Config
	db       *store.DB
	catalog  *renewal.Catalog
	rules    renewal.Rules
	roles    renewal.RoleMatcher
	outbox   *store.Outbox
	renderer *notify.Renderer
	scanner  *scheduler.Scanner
}

// loadApp loads the configuration and wires the program for it; readOnly opens the database as
// openStoreReadOnly does.
func (m *Main) loadApp(ctx context.Context, readOnly bool) (*app, error) {
	cfg, err := m.loadConfig()
	if err != nil {
		return nil, err
	}
	return m.newApp(ctx, cfg, readOnly)
}

// newApp loads the catalog and templates and opens the database.
func (m *Main) newApp(ctx context.Context, cfg config.Config, readOnly bool) (*app, error) {
	open := m.openStore
	if readOnly {
		open = m.openStoreReadOnly
	}
	return m.newAppWith(ctx, cfg, open)
}

// newAppWith is newApp with the database opened by open.
func (m *Main) newAppWith(ctx context.Context, cfg config.Config, open func(context.Context, config.Config) (*store.DB, error)) (*app, error) {
	cat, err := cfg.Catalog()
	if err != nil {
		return nil, asUsage(err)
	}
	tmpl, err := templates.Load(cfg.Mail.TemplatesDir)
	if err != nil {
		return nil, asUsage(fmt.Errorf("mail.templates_dir: %w", err))
	}
	from, err := config.ParseAddress(cfg.Mail.From)
	if err != nil {
		return nil, asUsage(fmt.Errorf("mail.from: %w", err))
	}
	var replyTo *mail.Address
	if cfg.Mail.ReplyTo != "" {
		if replyTo, err = config.ParseAddress(cfg.Mail.ReplyTo); err != nil {
			return nil, asUsage(fmt.Errorf("mail.reply_to: %w", err))
		}
	}
	db, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rules := cfg.Rules()
	roles := renewal.NewRoleMatcher(cfg.Renewal.RecipientRoles)
	domain := notify.AddressDomain(from.Address)
	a := &app{
		cfg: cfg, db: db, catalog: cat, rules: rules, roles: roles,
		outbox: &store.Outbox{DB: db, RoleKeys: roles.Keys(), Lease: time.Duration(cfg.Mail.LeaseSeconds) * time.Second,
			Digest: cfg.Mail.Digest},
		renderer: &notify.Renderer{Templates: tmpl, Catalog: cat, Rules: rules, From: from, ReplyTo: replyTo,
			Location: cfg.Location(), PartnerCenterURL: cfg.Mail.PartnerCenterURL,
			Organisation: cfg.Mail.Organisation, Contact: cfg.Mail.Contact, ScoresStaleDays: cfg.Renewal.ScoresStaleDays},
	}
	a.scanner = &scheduler.Scanner{DB: db, Rules: rules, Catalog: cat, Roles: roles, MessageIDDomain: domain,
		Logger: m.logger, Location: cfg.Location(), ScoresStaleDays: cfg.Renewal.ScoresStaleDays, DryRunOut: m.Stdout}
	return a, nil
}

func (a *app) Close() error { return a.db.Close() }

// transport builds the configured mail transport.
func (m *Main) transport(cfg config.Config) (notify.Transport, error) {
	switch cfg.Mail.Transport {
	case "file":
		return &notify.File{Dir: cfg.Mail.FileDir}, nil
	case "graph":
		return m.graphTransport(cfg)
	}
	t, err := m.smtpTransport(cfg)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// smtpTransport builds the SMTP transport, reading the password, CA and client secret files; errors
// name the key, never a secret.
func (m *Main) smtpTransport(cfg config.Config) (*notify.SMTP, error) {
	s := cfg.Mail.SMTP
	password, err := m.secret(s.PasswordFile, "RENEWALD_SMTP_PASSWORD", "mail.smtp.password_file")
	if err != nil {
		return nil, err
	}
	sc := notify.SMTPConfig{Host: s.Host, Port: s.Port, Username: s.Username, Password: password, TLS: s.TLS,
		Auth: s.Auth, ServerName: s.ServerName, Now: m.Now}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, asUsage(fmt.Errorf("mail.smtp.ca_file: %w", err))
		}
		if !bytes.Contains(pem, []byte("-----BEGIN CERTIFICATE-----")) {
			return nil, asUsage(fmt.Errorf("mail.smtp.ca_file %s: no PEM certificate in it", s.CAFile))
		}
		sc.CAPEM = pem
	}
	if s.Auth == notify.AuthXOAUTH2 {
		o := s.OAuth2
		secret, cert, err := m.clientCredential(o.ClientSecretFile, o.ClientCertificateFile, "RENEWALD_OAUTH2_CLIENT_SECRET", "mail.smtp.oauth2")
		if err != nil {
			return nil, err
		}
		sc.OAuth2 = &notify.OAuth2Config{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: secret, Certificate: cert, Scopes: o.Scopes,
			RootCAs: m.RootCAs}
	}
	t, err := notify.NewSMTP(sc)
	if err != nil {
		return nil, asUsage(err)
	}
	return t, nil
}

// graphTransport builds the Microsoft Graph transport, reading the client secret or certificate;
// errors name the key, never a secret.
func (m *Main) graphTransport(cfg config.Config) (*notify.Graph, error) {
	g := cfg.Mail.Graph
	secret, cert, err := m.clientCredential(g.ClientSecretFile, g.ClientCertificateFile, "RENEWALD_GRAPH_CLIENT_SECRET", "mail.graph")
	if err != nil {
		return nil, err
	}
	gc := graphConfig(cfg)
	gc.ClientSecret, gc.Certificate, gc.Now, gc.RootCAs = secret, cert, m.Now, m.RootCAs
	t, err := notify.NewGraph(gc)
	if err != nil {
		return nil, asUsage(err)
	}
	return t, nil
}

// graphConfig is the Graph transport's configuration without its credential.
func graphConfig(cfg config.Config) notify.GraphConfig {
	g := cfg.Mail.Graph
	login, graph := g.Endpoints()
	return notify.GraphConfig{LoginEndpoint: login, GraphEndpoint: graph, Tenant: g.Tenant, ClientID: g.ClientID,
		Mailbox: graphMailbox(cfg)}
}

// transportWords says how mail goes out, without any secret: for the status page and config check.
func transportWords(cfg config.Config) string {
	switch cfg.Mail.Transport {
	case "file":
		return (&notify.File{Dir: cfg.Mail.FileDir}).Describe()
	case "graph":
		return graphConfig(cfg).Describe()
	}
	s := cfg.Mail.SMTP
	return notify.SMTPConfig{Host: s.Host, Port: s.Port, TLS: s.TLS, Auth: s.Auth}.Describe()
}

// graphMailbox is mail.graph.mailbox, or the address of mail.from.
func graphMailbox(cfg config.Config) string {
	if cfg.Mail.Graph.Mailbox != "" {
		return cfg.Mail.Graph.Mailbox
	}
	if from, err := config.ParseAddress(cfg.Mail.From); err == nil {
		return from.Address
	}
	return ""
}

// clientCredential reads exactly one client credential of table (mail.graph, mail.smtp.oauth2): the
// secret from secretFile or the environment variable env, or the certificate and key PEM in
// certFile, which must be unencrypted and not expired.
func (m *Main) clientCredential(secretFile, certFile, env, table string) (string, *notify.ClientCertificate, error) {
	secret, err := m.secret(secretFile, env, table+".client_secret_file")
	if err != nil {
		return "", nil, err
	}
	if certFile == "" {
		if secret == "" {
			return "", nil, usageErrorf("%s.client_secret_file: not set and %s is empty: set a client secret or %s.client_certificate_file", table, env, table)
		}
		return secret, nil, nil
	}
	if secret != "" {
		return "", nil, usageErrorf("%s.client_certificate_file: set while %s holds a client secret: use one credential, the certificate or the secret", table, env)
	}
	data, err := m.readSecretFile(table+".client_certificate_file", certFile)
	if err != nil {
		return "", nil, err
	}
	cert, err := notify.ParseClientCertificate(data, m.Now())
	if err != nil {
		return "", nil, asUsage(fmt.Errorf("%s.client_certificate_file %s: %w", table, certFile, err))
	}
	return "", cert, nil
}

// secret reads a secret from file (named by key in errors) or, when file is "", from the
// environment variable env. Trailing line breaks are dropped.
func (m *Main) secret(file, env, key string) (string, error) {
	if file == "" {
		return m.secretFromEnv(env), nil
	}
	b, err := m.readSecretFile(key, file)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// deliverer builds the delivery side.
func (m *Main) deliverer(a *app) (*notify.Deliverer, error) {
	t, err := m.transport(a.cfg)
	if err != nil {
		return nil, err
	}
	mc := a.cfg.Mail
	d := &notify.Deliverer{
		Outbox: a.outbox, Transport: t, Renderer: a.renderer, Now: m.Now,
		BatchSize: mc.BatchSize, MaxAttempts: mc.MaxAttempts, GiveUpAfter: time.Duration(mc.GiveUpAfterHours) * time.Hour,
		Lease:       time.Duration(mc.LeaseSeconds) * time.Second,
		BackoffBase: time.Duration(mc.BackoffBaseSeconds) * time.Second,
		Jitter:      rand.Float64, Logger: m.logger, Digest: mc.Digest,
	}
	// Pace sends at the stricter of rate_per_second and max_per_minute; the quotas themselves are
	// counted from the outbox, across processes.
	limit := rate.Inf
	if mc.RatePerSecond > 0 {
		limit = rate.Limit(mc.RatePerSecond)
	}
	if mc.MaxPerMinute > 0 {
		limit = min(limit, rate.Limit(float64(mc.MaxPerMinute)/60))
	}
	if limit != rate.Inf {
		d.Limiter = rate.NewLimiter(limit, 1)
	}
	if mc.MaxPerDay > 0 || mc.MaxPerMinute > 0 {
		d.Quota = &notify.Quota{PerDay: mc.MaxPerDay, PerMinute: mc.MaxPerMinute, Location: a.cfg.Location(), Store: a.outbox}
	}
	return d, nil
}

// ticker builds the tick cycle; a nil d leaves the outbox for later.
func (m *Main) ticker(a *app, d *notify.Deliverer) *scheduler.Ticker {
	t := &scheduler.Ticker{Scanner: a.scanner, Location: a.cfg.Location(), CatchUpDays: a.cfg.Schedule.CatchUpDays,
		Logger: m.logger, Now: m.Now}
	if d != nil {
		t.Deliverer = d
	}
	return t
}
