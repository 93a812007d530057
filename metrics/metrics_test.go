package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

type fakeSource struct {
	mu     sync.Mutex
	down   bool
	oldest time.Time
}

func (f *fakeSource) CountByStatus(context.Context) (map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("database is gone")
	}
	return map[string]int{"pending": 3, "sent": 10, "failed": 1}, nil
}

func (f *fakeSource) NoRecipientsOpen(context.Context) (int, error) { return 2, nil }

func (f *fakeSource) OldestWaiting(context.Context) (time.Time, bool, error) {
	return f.oldest, !f.oldest.IsZero(), nil
}

func (f *fakeSource) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("database is gone")
	}
	return nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestHealthTurnsUnhealthyWhenTicksStall(t *testing.T) {
	sched, _ := cron.ParseStandard("0 6 * * *")
	c := &clock{t: time.Date(2026, 5, 1, 5, 0, 0, 0, time.UTC)}
	src := &fakeSource{}
	m := New(src, sched, c.Now)
	h := m.Handler()
	if code, body := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("fresh daemon: %d %s", code, body)
	}
	m.TickDone(true, 5, 1, 2*time.Second) // tick at 05:00
	// Next runs 2026-05-01 06:00 and 2026-05-02 06:00: healthy until an hour after the second.
	c.Set(time.Date(2026, 5, 2, 6, 59, 0, 0, time.UTC))
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("within two periods: %d", code)
	}
	c.Set(time.Date(2026, 5, 2, 7, 1, 0, 0, time.UTC)) // the scheduler stalled
	code, body := get(t, h, "/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "two schedule periods") {
		t.Errorf("stalled scheduler: %d %s", code, body)
	}
	m.TickDone(true, 0, 0, time.Second)
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("after a new tick: %d", code)
	}
	src.down = true
	if code, body := get(t, h, "/healthz"); code != 503 || !strings.Contains(body, "database") {
		t.Errorf("database down: %d %s", code, body)
	}
}

func TestMetricsExposition(t *testing.T) {
	sched, _ := cron.ParseStandard("0 6 * * *")
	now := time.Date(2026, 5, 1, 7, 0, 0, 0, time.UTC)
	src := &fakeSource{oldest: now.Add(-2 * time.Hour)}
	m := New(src, sched, func() time.Time { return now })
	m.TickDone(true, 5, 2, 3*time.Second)
	for _, o := range []string{"sent", "sent", "retried", "sent", "failed", "sent"} {
		m.Delivered(o)
	}
	m.SMTPSend("sent", 20*time.Millisecond)
	code, body := get(t, m.Handler(), "/metrics")
	if code != 200 {
		t.Fatal(code)
	}
	for _, want := range []string{
		`renewald_outbox_rows{status="pending"} 3`,
		`renewald_outbox_rows{status="failed"} 1`,
		"renewald_reminders_queued_total 5",
		"renewald_reminders_sent_total 4",
		"renewald_reminders_failed_total 1",
		"renewald_reminders_retried_total 1",
		`renewald_smtp_send_duration_seconds_count{outcome="sent"} 1`,
		"renewald_tick_duration_seconds_count 1",
		"renewald_last_successful_tick_timestamp_seconds 1.7776188e+09",
		"renewald_oldest_pending_reminder_age_seconds 7200",
		"renewald_database_up 1", "renewald_no_recipients_open 2",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	src.down = true
	if _, body := get(t, m.Handler(), "/metrics"); !strings.Contains(body, "renewald_database_up 0") {
		t.Error("database_up not 0 when the database is down")
	}
}

func TestRenderErrorsAndQuotaDeferralsAreCounted(t *testing.T) {
	sched, _ := cron.ParseStandard("0 6 * * *")
	c := &clock{t: time.Date(2026, 5, 1, 5, 0, 0, 0, time.UTC)}
	m := New(&fakeSource{}, sched, c.Now)
	m.RenderFailed()
	m.RenderFailed()
	m.QuotaDeferred(7)
	_, body := get(t, m.Handler(), "/metrics")
	for _, want := range []string{"renewald_render_errors_total 2", "renewald_reminders_quota_deferred_total 7"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestTransportErrorsAreCountedByKind(t *testing.T) {
	sched, _ := cron.ParseStandard("0 6 * * *")
	c := &clock{t: time.Date(2026, 5, 1, 5, 0, 0, 0, time.UTC)}
	m := New(&fakeSource{}, sched, c.Now)
	_, body := get(t, m.Handler(), "/metrics")
	if !strings.Contains(body, `renewald_transport_errors_total{kind="config"} 0`) {
		t.Errorf("config kind not present at 0:\n%s", body)
	}
	m.TransportError("config")
	m.TransportError("throttled")
	m.TransportError("throttled")
	_, body = get(t, m.Handler(), "/metrics")
	for _, want := range []string{`renewald_transport_errors_total{kind="config"} 1`, `renewald_transport_errors_total{kind="throttled"} 2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
