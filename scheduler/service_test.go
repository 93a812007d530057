package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the zone database, also where the host has none

	"github.com/renewald/renewald/internal/storetest"
	"github.com/renewald/renewald/metrics"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// fakeClock jumps forward whenever the service waits, so a year of schedule runs in milliseconds.
// With waits set it serves that many waits and then blocks every later one, so the service stops
// after a known number of ticks and a test reads its state while nothing runs.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	waits   int // waits served before blocking; 0: no limit
	served  int
	blocked chan struct{} // when set, closed at the first wait refused
	told    bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	if c.waits > 0 && c.served == c.waits {
		if c.blocked != nil && !c.told {
			close(c.blocked)
			c.told = true
		}
		c.mu.Unlock()
		return make(chan time.Time) // never fires: the service waits for Stop
	}
	c.served++
	c.t = c.t.Add(d)
	now := c.t
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// TestServiceRunsOnTheCronScheduleInItsZone runs the real Service with robfig/cron's schedule in
// Europe/Amsterdam across the spring DST change: one tick a day at 06:00 local time, a catch-up
// tick at start, no overlap, and a clean stop. The clock serves 14 waits, so the service runs the
// catch-up tick and 14 scheduled ones and then waits: nothing runs while the test reads the state.
func TestServiceRunsOnTheCronScheduleInItsZone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		loc, err := time.LoadLocation("Europe/Amsterdam")
		if err != nil {
			t.Fatal(err)
		}
		db := storetest.Open(t, engine)
		everyDayDataset(t, db)
		tk := newTicker(db, 7, io.Discard)
		tk.Location = loc
		const want = 15
		clock := &fakeClock{t: time.Date(2026, 3, 20, 12, 0, 0, 0, loc), waits: want - 1}
		sched, err := ParseSchedule("0 6 * * *", loc)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var ticks []TickResult
		var at []time.Time
		done := make(chan struct{})
		svc := &Service{Ticker: tk, Schedule: sched, Now: clock.Now, After: clock.After, Logger: slog.New(slog.DiscardHandler)}
		svc.Ticked = func(r TickResult) {
			mu.Lock()
			defer mu.Unlock()
			ticks = append(ticks, r)
			at = append(at, clock.Now())
			if len(ticks) == want {
				close(done)
			}
		}
		svc.Start(context.Background())
		<-done
		if err := svc.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ticks) != want {
			t.Fatalf("%d ticks, want %d: the clock blocks after %d waits", len(ticks), want, want-1)
		}
		if ticks[0].AsOf != renewal.NewDate(2026, 3, 20) {
			t.Errorf("catch-up tick as of %s", ticks[0].AsOf)
		}
		for i := 1; i < len(ticks); i++ {
			local := at[i].In(loc)
			if local.Hour() != 6 || local.Minute() != 0 {
				t.Errorf("tick %d at %s, want 06:00 local", i, local)
			}
			if want := renewal.NewDate(2026, 3, 20).AddDays(i); ticks[i].AsOf != want {
				t.Errorf("tick %d as of %s, want %s", i, ticks[i].AsOf, want)
			}
			if ticks[i].Err != nil {
				t.Errorf("tick %d: %v", i, ticks[i].Err)
			}
		}
		// 06:00 is 05:00 UTC before 29 March and 04:00 UTC after it.
		if at[1].UTC().Hour() != 5 || at[len(at)-1].UTC().Hour() != 4 {
			t.Errorf("DST not honoured: %s, %s", at[1].UTC(), at[len(at)-1].UTC())
		}
		if ticks[0].Err != nil {
			t.Errorf("catch-up tick: %v", ticks[0].Err)
		}
		last, _, _ := db.LastScanned(context.Background())
		if last != ticks[len(ticks)-1].AsOf {
			t.Errorf("scan state %s", last)
		}
	})
}

func TestCountSkipped(t *testing.T) {
	sched, _ := ParseSchedule("0 * * * *", time.UTC)
	s := &Service{Schedule: sched}
	fired := time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	if n := s.countSkipped(fired, fired.Add(3*time.Hour+time.Minute)); n != 3 {
		t.Errorf("skipped %d, want 3", n)
	}
	if n := s.countSkipped(fired, fired.Add(10*time.Minute)); n != 0 {
		t.Errorf("skipped %d, want 0", n)
	}
}

func TestTickWaitsForTheScanLock(t *testing.T) {
	storetest.Each(t, testTickWaitsForTheScanLock)
}

func testTickWaitsForTheScanLock(t *testing.T, engine store.Engine) {
	db := storetest.Open(t, engine)
	held, err := db.Locker().TryLock(ctx, store.LockScan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Locker().TryLock(ctx, store.LockScan); err == nil {
		t.Fatal("a second scan lock was granted")
	}
	tk := newTicker(db, 7, io.Discard)
	tk.Lock = func(ctx context.Context) (func(), error) {
		l, err := store.WaitFor(ctx, db.Locker(), store.LockScan, time.Millisecond)
		if err != nil {
			return nil, err
		}
		return func() { l.Unlock() }, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := tk.Tick(ctx, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false); err == nil {
		t.Fatal("tick ran while another process held the scan lock")
	}
	held.Unlock()
	if _, err := tk.Tick(context.Background(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false); err != nil {
		t.Fatal(err)
	}
}

// countingDeliverer counts deliveries; it is the Deliverer seam, backed by nothing else.
type countingDeliverer struct {
	mu sync.Mutex
	n  int
}

func (c *countingDeliverer) Deliver(context.Context) (notify.Stats, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return notify.Stats{}, nil
}

func TestServiceDeliversBetweenTicks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		tk := newTicker(db, 7, io.Discard)
		cd := &countingDeliverer{}
		tk.Deliverer = cd
		clock := &fakeClock{t: time.Date(2026, 3, 20, 6, 0, 0, 0, time.UTC)}
		sched, _ := ParseSchedule("0 6 * * *", time.UTC)
		done := make(chan struct{})
		ticks, atThird := 0, 0
		svc := &Service{Ticker: tk, Schedule: sched, Now: clock.Now, After: clock.After, Logger: slog.New(slog.DiscardHandler),
			DeliverEvery: time.Hour}
		svc.Ticked = func(TickResult) {
			ticks++
			if ticks == 3 {
				cd.mu.Lock()
				atThird = cd.n
				cd.mu.Unlock()
				close(done)
			}
		}
		svc.Start(context.Background())
		<-done
		svc.Stop(context.Background())
		// Three ticks deliver once each; between two daily ticks, 23 hourly deliveries.
		if atThird != 3+2*23 {
			t.Errorf("%d deliveries by the third tick, want %d", atThird, 3+2*23)
		}
	})
}

// flakyTransport refuses every message's first attempt with a temporary error and writes the
// second to .eml files.
type flakyTransport struct {
	notify.Transport
	mu   sync.Mutex
	seen map[int64]bool
}

func (f *flakyTransport) Open(ctx context.Context) (notify.Session, error) {
	s, err := f.Transport.Open(ctx)
	if err != nil {
		return nil, err
	}
	return &flakySession{Session: s, f: f}, nil
}

type flakySession struct {
	notify.Session
	f *flakyTransport
}

func (s *flakySession) Send(ctx context.Context, id int64, env *notify.Envelope) error {
	s.f.mu.Lock()
	first := !s.f.seen[id]
	s.f.seen[id] = true
	s.f.mu.Unlock()
	if first {
		return &notify.SendError{Temporary: true, Reply: "451 4.3.0 try again later"}
	}
	return s.Session.Send(ctx, id, env)
}

// storeSource is what the metrics read, straight from the store.
type storeSource struct{ db *store.DB }

func (s storeSource) CountByStatus(ctx context.Context) (map[string]int, error) {
	return storetest.Outbox(s.db).CountByStatus(ctx)
}
func (s storeSource) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
func (s storeSource) NoRecipientsOpen(ctx context.Context) (int, error) {
	return storetest.Outbox(s.db).CountNoRecipientsOpen(ctx, renewal.Date{})
}

func (s storeSource) OldestWaiting(ctx context.Context) (time.Time, bool, error) {
	return storetest.Outbox(s.db).OldestWaiting(ctx)
}

// scrape returns the value of an unlabelled metric.
func scrape(t *testing.T, mx *metrics.Metrics, name string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	mx.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestServiceCountsDeliveriesBetweenTicks: every first attempt fails at the tick; the retries go
// out in the delivery poll an hour later, between ticks, and the metrics count them.
func TestServiceCountsDeliveriesBetweenTicks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		everyDayDataset(t, db)
		clock := &fakeClock{t: time.Date(2026, 3, 20, 6, 0, 0, 0, time.UTC), waits: 1, blocked: make(chan struct{})}
		sched, _ := ParseSchedule("0 6 * * *", time.UTC)
		mx := metrics.New(storeSource{db}, sched, clock.Now)
		tk := newTicker(db, 7, io.Discard)
		tk.Now = clock.Now
		d := fileDeliverer(t, db, clock.Now)
		d.Transport = &flakyTransport{Transport: d.Transport, seen: map[int64]bool{}}
		tk.Deliverer = d
		tk.Observe = func(r TickResult) { mx.TickDone(r.Err == nil, r.Scan.Queued, r.Scan.Superseded, r.Duration) }
		d.Observer = mx
		var first TickResult
		svc := &Service{Ticker: tk, Schedule: sched, Now: clock.Now, After: clock.After, Logger: slog.New(slog.DiscardHandler),
			DeliverEvery: time.Hour, Ticked: func(r TickResult) { first = r }}
		svc.Start(context.Background())
		<-clock.blocked // the catch-up tick at 06:00 and the poll at 07:00 are done
		if err := svc.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		queued := first.Scan.Queued
		if queued == 0 || first.Delivery.Retried != queued || first.Delivery.Sent != 0 {
			t.Fatalf("tick queued %d, retried %d, sent %d: want every first attempt refused", queued, first.Delivery.Retried, first.Delivery.Sent)
		}
		counts, _ := storetest.Outbox(db).CountByStatus(ctx)
		if counts[store.StatusSent] != queued {
			t.Fatalf("%d sent by the poll, want %d", counts[store.StatusSent], queued)
		}
		if got := scrape(t, mx, "renewald_reminders_sent_total"); got != float64(queued) {
			t.Errorf("renewald_reminders_sent_total %v, want %d: the poll between ticks delivered them", got, queued)
		}
		if got := scrape(t, mx, "renewald_reminders_retried_total"); got != float64(queued) {
			t.Errorf("renewald_reminders_retried_total %v, want %d", got, queued)
		}
		if got := scrape(t, mx, "renewald_last_successful_tick_timestamp_seconds"); got != float64(time.Date(2026, 3, 20, 6, 0, 0, 0, time.UTC).Unix()) {
			t.Errorf("last successful tick %v", got)
		}
	})
}

// panickingDeliverer panics on its first delivery.
type panickingDeliverer struct{}

func (panickingDeliverer) Deliver(context.Context) (notify.Stats, error) { panic("deliverer exploded") }

// TestServiceRecoversAPanic: a panic inside a tick stops the service with an error (the daemon
// exits 1 and systemd restarts it) and logs the stack, instead of killing the process with exit 2.
func TestServiceRecoversAPanic(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	tk := newTicker(db, 7, io.Discard)
	tk.Deliverer = panickingDeliverer{}
	clock := &fakeClock{t: time.Date(2026, 3, 20, 6, 0, 0, 0, time.UTC)}
	sched, _ := ParseSchedule("0 6 * * *", time.UTC)
	var logs syncBuf
	svc := &Service{Ticker: tk, Schedule: sched, Now: clock.Now, After: clock.After, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	svc.Start(context.Background())
	<-svc.Done()
	if err := svc.Err(); !errors.Is(err, ErrPanic) || !strings.Contains(err.Error(), "deliverer exploded") {
		t.Errorf("Err() = %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "panic in the scheduler") || !strings.Contains(out, "panickingDeliverer.Deliver") {
		t.Errorf("no panic with its stack logged:\n%s", out)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScanStateAfterToday: a tick once ran with the clock a month ahead; every later tick delivers
// what is due but scans nothing, fails with ErrScanStateAhead naming the dates and the repair, and
// the metrics' /healthz says unhealthy with the gauge set.
func TestScanStateAfterToday(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	tk := newTicker(db, 7, io.Discard)
	if _, err := tk.Tick(ctx, time.Date(2027, 1, 5, 6, 0, 0, 0, time.UTC), false); err != nil { // the wrong clock
		t.Fatal(err)
	}
	var logs strings.Builder
	tk.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	sched, _ := ParseSchedule("0 6 * * *", time.UTC)
	mx := metrics.New(storeSource{db}, sched, func() time.Time { return time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC) })
	tk.Observe = func(r TickResult) { mx.ScanStateAhead(r.ScanAhead) }
	for _, day := range []int{1, 2} {
		res, err := tk.Tick(ctx, time.Date(2026, 12, day, 6, 0, 0, 0, time.UTC), false)
		if !errors.Is(err, ErrScanStateAhead) || res.ScanAhead != 35-day+1 || res.Scan.Dates != 0 {
			t.Fatalf("tick on 2026-12-%02d: %+v %v", day, res, err)
		}
		if !strings.Contains(err.Error(), "2027-01-05") || !strings.Contains(err.Error(), "renewald backfill") {
			t.Errorf("no repair hint: %v", err)
		}
		// The command shown is safe to paste: no placeholder the shell reads as a redirection.
		if want := fmt.Sprintf("run renewald backfill --from DATE --to 2026-12-%02d, DATE", day); !strings.Contains(err.Error(), want) {
			t.Errorf("repair hint lacks %q: %v", want, err)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d error lines for 2 ticks:\n%s", n, logs.String())
	}
	if err := mx.Health(ctx); err == nil || !strings.Contains(err.Error(), "after today") {
		t.Errorf("healthz: %v", err)
	}
}
