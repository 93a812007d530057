package main

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/renewald/renewald/internal/config"
	"github.com/renewald/renewald/metrics"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
)

// The metrics count transport failures by kind (renewald_transport_errors_total).
var _ notify.TransportErrorObserver = (*metrics.Metrics)(nil)

// metricsSource adapts the store to what the metrics read.
type metricsSource struct {
	outbox *store.Outbox
	cfg    config.Config
	now    func() time.Time
}

func (s metricsSource) CountByStatus(ctx context.Context) (map[string]int, error) {
	return s.outbox.CountByStatus(ctx)
}

func (s metricsSource) Ping(ctx context.Context) error { return s.outbox.DB.Ping(ctx) }

func (s metricsSource) NoRecipientsOpen(ctx context.Context) (int, error) {
	return s.outbox.CountNoRecipientsOpen(ctx, s.cfg.Rules().GraceOpenFrom(renewal.DateOf(s.now(), s.cfg.Location())))
}

func (s metricsSource) OldestWaiting(ctx context.Context) (time.Time, bool, error) {
	return s.outbox.OldestWaiting(ctx)
}

// startMetrics serves /metrics and /healthz when metrics.listen is set, and hooks the ticks and the
// deliverer into them: the deliverer's observer counts every delivery, whether a tick or the poll
// between ticks made it. When web.listen is the same address the web server serves them instead
// (startWeb); mx is nil when metrics are off.
func (m *Main) startMetrics(ctx context.Context, cfg config.Config, a *app, sched cron.Schedule, t *scheduler.Ticker, d *notify.Deliverer) (mx *metrics.Metrics, stop func(), err error) {
	if cfg.Metrics.Listen == "" {
		return nil, func() {}, nil
	}
	mx = metrics.New(metricsSource{outbox: a.outbox, cfg: cfg, now: m.Now}, sched, m.Now)
	t.Observe = func(r scheduler.TickResult) {
		mx.TickDone(r.Err == nil, r.Scan.Queued, r.Scan.Superseded, r.Duration)
		mx.ScanStateAhead(r.ScanAhead)
	}
	d.Observer = mx
	if cfg.Web.Listen == cfg.Metrics.Listen {
		return mx, func() {}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	addr, done, err := mx.Serve(ctx, cfg.Metrics.Listen)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	m.logger.Info("metrics listening", "addr", addr, "paths", "/metrics /healthz")
	return mx, func() { cancel(); <-done }, nil
}
