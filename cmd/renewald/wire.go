package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
	"github.com/renewald/renewald/templates"
)

// app is the wired program for one configuration.
type app struct {
	cfg      Config
	db       *store.DB
	catalog  *renewal.Catalog
	rules    renewal.Rules
	roles    renewal.RoleMatcher
	outbox   *store.Outbox
	renderer *notify.Renderer
	scanner  *scheduler.Scanner
}

// loadApp loads the configuration and wires the program for it.
func (m *Main) loadApp(ctx context.Context) (*app, error) {
	cfg, err := m.loadConfig()
	if err != nil {
		return nil, err
	}
	return m.newApp(ctx, cfg)
}

// newApp loads the catalog and templates and opens the database.
func (m *Main) newApp(ctx context.Context, cfg Config) (*app, error) {
	return m.newAppWith(ctx, cfg, m.openStore)
}

// newAppWith is newApp with the database opened by open (read-only for `renewald web`).
func (m *Main) newAppWith(ctx context.Context, cfg Config, open func(context.Context, Config) (*store.DB, error)) (*app, error) {
	cat, err := cfg.Catalog()
	if err != nil {
		return nil, asUsage(err)
	}
	tmpl, err := templates.Load(cfg.Mail.TemplatesDir)
	if err != nil {
		return nil, asUsage(fmt.Errorf("mail.templates_dir: %w", err))
	}
	from, err := parseAddress(cfg.Mail.From)
	if err != nil {
		return nil, asUsage(fmt.Errorf("mail.from: %w", err))
	}
	db, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rules := cfg.Rules()
	roles := renewal.NewRoleMatcher(cfg.Renewal.RecipientRoles)
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	a := &app{
		cfg: cfg, db: db, catalog: cat, rules: rules, roles: roles,
		outbox:   &store.Outbox{DB: db, RoleKeys: roles.Keys(), Lease: time.Duration(cfg.Mail.LeaseSeconds) * time.Second},
		renderer: &notify.Renderer{Templates: tmpl, Catalog: cat, Rules: rules, From: from, Location: cfg.Location()},
	}
	a.scanner = &scheduler.Scanner{DB: db, Rules: rules, Catalog: cat, Roles: roles, MessageIDDomain: domain,
		Logger: m.logger, DryRunOut: m.Stdout}
	return a, nil
}

func (a *app) Close() error { return a.db.Close() }

// transport builds the configured mail transport.
func (m *Main) transport(cfg Config) (notify.Transport, error) {
	if cfg.Mail.Transport == "file" {
		return &notify.File{Dir: cfg.Mail.FileDir}, nil
	}
	s := cfg.Mail.SMTP
	password := m.Getenv("RENEWALD_SMTP_PASSWORD")
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, asUsage(fmt.Errorf("mail.smtp.password_file: %w", err))
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	t, err := notify.NewSMTP(notify.SMTPConfig{Host: s.Host, Port: s.Port, Username: s.Username, Password: password, TLS: s.TLS})
	if err != nil {
		return nil, asUsage(err)
	}
	return t, nil
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
		BatchSize: mc.BatchSize, MaxAttempts: mc.MaxAttempts,
		BackoffBase: time.Duration(mc.BackoffBaseSeconds) * time.Second,
		Jitter:      rand.Float64, Logger: m.logger,
	}
	if mc.RatePerSecond > 0 {
		d.Limiter = rate.NewLimiter(rate.Limit(mc.RatePerSecond), 1)
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
