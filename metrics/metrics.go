// Package metrics exposes renewald's health to operators: Prometheus metrics on /metrics (outbox
// rows by status, reminders queued, sent and failed, SMTP latency, tick duration, the last good
// tick, the oldest pending reminder) and /healthz, which fails when ticks stall or the database
// does not answer.
package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/renewald/renewald/internal/httpserve"
)

// Source is what the metrics read from the store at scrape time.
type Source interface {
	CountByStatus(ctx context.Context) (map[string]int, error)
	OldestWaiting(ctx context.Context) (time.Time, bool, error)
	// NoRecipientsOpen counts the no_recipients records of renewals still open (grace not ended).
	NoRecipientsOpen(ctx context.Context) (int, error)
	Ping(ctx context.Context) error
}

// Metrics holds the collectors and the health state. It uses its own registry (no global state).
type Metrics struct {
	reg      *prometheus.Registry
	source   Source
	schedule cron.Schedule
	now      func() time.Time
	started  time.Time

	queued, sent, failed, retried, superseded prometheus.Counter
	renderErrors, quotaDeferred               prometheus.Counter
	tickDuration                              prometheus.Histogram
	smtpDuration                              *prometheus.HistogramVec
	transportErrors                           *prometheus.CounterVec
	lastTick                                  prometheus.Gauge
	scanAhead                                 prometheus.Gauge

	mu        sync.Mutex
	lastOK    time.Time
	aheadDays int
}

// New builds the metrics for a daemon running schedule.
func New(source Source, schedule cron.Schedule, now func() time.Time) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), source: source, schedule: schedule, now: now, started: now()}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "renewald", Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	m.queued = counter("reminders_queued_total", "Reminders queued as pending by ticks.")
	m.superseded = counter("reminders_superseded_total", "Reminders recorded superseded by a later one of the same anniversary (R11).")
	m.sent = counter("reminders_sent_total", "Reminders delivered.")
	m.failed = counter("reminders_failed_total", "Reminders that failed for good (permanent error or attempts exhausted).")
	m.retried = counter("reminders_retried_total", "Temporary delivery failures put back with backoff.")
	m.renderErrors = counter("render_errors_total", "Reminders that could not be rendered: a defect of renewald or its templates, retried with backoff.")
	m.quotaDeferred = counter("reminders_quota_deferred_total", "Due reminders held back to the next day by mail.max_per_day.")
	m.tickDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "renewald", Name: "tick_duration_seconds",
		Help: "Duration of a tick: scan, enqueue and deliver.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)})
	m.smtpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "renewald", Name: "smtp_send_duration_seconds",
		Help: "Duration of one message's SMTP transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}, []string{"outcome"})
	m.lastTick = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "renewald", Name: "last_successful_tick_timestamp_seconds",
		Help: "Unix time the last successful tick finished (0 before the first)."})
	m.scanAhead = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "renewald", Name: "scan_state_ahead_days",
		Help: "Days the last scanned date is after today (a clock that was wrong once); above 0 no date is scanned."})
	m.transportErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "renewald", Name: "transport_errors_total",
		Help: "Mail transport failures that are not the recipient's: config (wrong permissions or mailbox), throttled, defect."}, []string{"kind"})
	for _, k := range []string{"config", "throttled", "defect"} {
		m.transportErrors.WithLabelValues(k) // present at 0, so an alert on an increase sees the first one
	}
	m.reg.MustRegister(m.tickDuration, m.smtpDuration, m.transportErrors, m.lastTick, m.scanAhead, &outboxCollector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// TickDone records a finished tick's scan counts, duration and success; the last successful tick is
// kept here alone. What the tick delivered is counted by Delivered, like every other delivery.
func (m *Metrics) TickDone(ok bool, queued, superseded int, d time.Duration) {
	m.queued.Add(float64(queued))
	m.superseded.Add(float64(superseded))
	m.tickDuration.Observe(d.Seconds())
	if ok {
		now := m.now()
		m.mu.Lock()
		m.lastOK = now
		m.mu.Unlock()
		m.lastTick.Set(float64(now.Unix()))
	}
}

// ScanStateAhead records, after each tick, how many days the scan state is after today (0: not).
func (m *Metrics) ScanStateAhead(days int) {
	m.mu.Lock()
	m.aheadDays = days
	m.mu.Unlock()
	m.scanAhead.Set(float64(days))
}

// Delivered counts one message's delivery outcome: "sent", "retried" or "failed" (notify's
// Outcome constants), whichever path delivered it (a tick, the poll between ticks).
func (m *Metrics) Delivered(outcome string) {
	switch outcome {
	case "sent":
		m.sent.Inc()
	case "retried":
		m.retried.Inc()
	case "failed":
		m.failed.Inc()
	}
}

// RenderFailed counts one reminder that could not be rendered.
func (m *Metrics) RenderFailed() { m.renderErrors.Inc() }

// QuotaDeferred counts reminders held back to the next day by the daily quota.
func (m *Metrics) QuotaDeferred(n int) { m.quotaDeferred.Add(float64(n)) }

// TransportError counts one transport failure that is not the recipient's, by notify's SendError
// kind: "config", "throttled" or "defect".
func (m *Metrics) TransportError(kind string) { m.transportErrors.WithLabelValues(kind).Inc() }

// SMTPSend records one message's send duration; outcome is "sent" or "error".
func (m *Metrics) SMTPSend(outcome string, d time.Duration) {
	m.smtpDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// Health returns nil when the last successful tick (or the start, before the first) is at most two
// schedule periods old and the database answers.
func (m *Metrics) Health(ctx context.Context) error {
	m.mu.Lock()
	ref, ahead := m.lastOK, m.aheadDays
	m.mu.Unlock()
	if ahead > 0 {
		return fmt.Errorf("the scan state is %d days after today: no date is scanned (see the tick's error for the repair)", ahead)
	}
	what := "last successful tick"
	if ref.IsZero() {
		ref, what = m.started, "start (no successful tick yet)"
	}
	// Two periods: the next two scheduled runs after ref may pass, with slack for a tick's length.
	deadline := m.schedule.Next(m.schedule.Next(ref)).Add(time.Hour)
	if now := m.now(); now.After(deadline) {
		return fmt.Errorf("%s at %s is more than two schedule periods old", what, ref.UTC().Format(time.RFC3339))
	}
	if err := m.source.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// LastSuccessfulTick returns when the last successful tick finished (zero before the first).
func (m *Metrics) LastSuccessfulTick() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastOK
}

// Handler serves /metrics and /healthz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := m.Health(ctx); err != nil {
			http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Serve listens on addr and serves until ctx ends; it returns the bound address once listening.
func (m *Metrics) Serve(ctx context.Context, addr string) (bound string, done <-chan error, err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return l.Addr().String(), httpserve.Run(ctx, srv, l), nil
}

// outboxCollector reads outbox counts and the oldest pending reminder at scrape time.
type outboxCollector struct{ m *Metrics }

var (
	outboxDesc = prometheus.NewDesc("renewald_outbox_rows", "Outbox rows by status.", []string{"status"}, nil)
	oldestDesc = prometheus.NewDesc("renewald_oldest_pending_reminder_age_seconds",
		"How long the longest-waiting unsent reminder has been claimable: since its first claim, else since it was queued, not before its due date (0 when none).", nil, nil)
	upDesc           = prometheus.NewDesc("renewald_database_up", "1 when the outbox could be read at scrape time.", nil, nil)
	noRecipientsDesc = prometheus.NewDesc("renewald_no_recipients_open",
		"no_recipients records of renewals whose grace period has not ended: partners to give an admin now.", nil, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDesc
	ch <- oldestDesc
	ch <- upDesc
	ch <- noRecipientsDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.m.source.CountByStatus(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(n), status)
	}
	age := 0.0
	if due, ok, err := c.m.source.OldestWaiting(ctx); err == nil && ok {
		age = max(c.m.now().Sub(due).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
	if n, err := c.m.source.NoRecipientsOpen(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(noRecipientsDesc, prometheus.GaugeValue, float64(n))
	}
}
