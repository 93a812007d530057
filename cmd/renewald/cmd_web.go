package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/metrics"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/web"
)

// webHandler builds the pages for app a; sched may be nil (no schedule shown), mx serves /metrics and
// /healthz on the same server when not nil.
func (m *Main) webHandler(cfg config.Config, a *app, sched cron.Schedule, lastTick func() time.Time, extra http.Handler) (http.Handler, error) {
	var users map[string][]byte
	if cfg.Web.UsersFile != "" {
		u, err := web.LoadUsers(cfg.Web.UsersFile)
		if err != nil {
			return nil, asUsage(fmt.Errorf("web.users_file: %w", err))
		}
		users = u
	}
	o := web.Options{DB: a.db, Outbox: a.outbox, Renderer: a.renderer, Catalog: a.catalog, Rules: a.rules, Roles: a.roles, ScoresStaleDays: a.cfg.Renewal.ScoresStaleDays,
		Location: cfg.Location(), Now: m.Now, LastTick: lastTick, Transport: transportWords(cfg),
		BasePath: cfg.Web.BasePath, Users: users, Logger: m.logger, Extra: extra}
	if sched != nil {
		o.NextTick = sched.Next
	}
	h, err := web.New(o)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// startWeb serves the pages from the daemon when web.listen is set; when metrics.listen is the same
// address this one server also serves /metrics and /healthz.
func (m *Main) startWeb(ctx context.Context, cfg config.Config, a *app, sched cron.Schedule, mx *metrics.Metrics) (stop func(), err error) {
	if cfg.Web.Listen == "" {
		return func() {}, nil
	}
	var lastTick func() time.Time
	var extra http.Handler
	if mx != nil {
		lastTick = mx.LastSuccessfulTick
		if cfg.Metrics.Listen == cfg.Web.Listen {
			extra = mx.Handler()
		}
	}
	h, err := m.webHandler(cfg, a, sched, lastTick, extra)
	if err != nil {
		return nil, err
	}
	keyFile, err := m.secretPath("web.key_file", cfg.Web.KeyFile)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	addr, done, err := web.Serve(ctx, cfg.Web.Listen, cfg.Web.CertFile, keyFile, h)
	if err != nil {
		cancel()
		return nil, err
	}
	m.logger.Info("web pages listening", "addr", addr, "base_path", cfg.Web.BasePath+"/", "tls", cfg.Web.CertFile != "",
		"metrics", extra != nil)
	return func() { cancel(); <-done }, nil
}

// cmdWeb serves the pages alone: no lock, no schedule, no delivery, and the database opened
// read-only, so it runs beside a daemon on the same file.
func (m *Main) cmdWeb(ctx context.Context, args []string) error {
	if _, err := parseFlags(m.newFlagSet("web"), args); err != nil {
		return err
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	if cfg.Web.Listen == "" {
		return usageErrorf("web.listen is empty: set it (e.g. \"127.0.0.1:8080\") to serve the pages")
	}
	sched, err := scheduler.ParseSchedule(cfg.Schedule.Cron, cfg.Location())
	if err != nil {
		return asUsage(err)
	}
	a, err := m.newAppWith(ctx, cfg, m.openStoreReadOnly)
	if err != nil {
		return err
	}
	defer a.Close()
	h, err := m.webHandler(cfg, a, sched, nil, nil)
	if err != nil {
		return err
	}
	keyFile, err := m.secretPath("web.key_file", cfg.Web.KeyFile)
	if err != nil {
		return err
	}
	addr, done, err := web.Serve(ctx, cfg.Web.Listen, cfg.Web.CertFile, keyFile, h)
	if err != nil {
		return err
	}
	m.logger.Info("web pages listening", "addr", addr, "base_path", cfg.Web.BasePath+"/", "tls", cfg.Web.CertFile != "",
		"database", cfg.Database.Path, "read_only", true)
	select {
	case <-ctx.Done():
		m.logger.Info("stopping web pages")
		return <-done
	case err := <-done:
		return err
	}
}
