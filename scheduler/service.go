package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/renewald/renewald/internal/shellquote"
	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
	"github.com/robfig/cron/v3"
)

// Deliverer empties the due part of the outbox.
type Deliverer interface {
	Deliver(ctx context.Context) (notify.Stats, error)
}

// Ticker runs ticks: scan the dates since the last scan, enqueue, record, deliver.
type Ticker struct {
	Scanner     *Scanner
	Deliverer   Deliverer // nil: queue only
	Location    *time.Location
	CatchUpDays int
	Logger      *slog.Logger
	Now         func() time.Time // for durations
	// Lock, when set, is held around each tick's scan so that only one process scans at a time
	// (delivery needs no lock: claims with a lease keep deliverers apart, so daemons sharing a
	// database deliver side by side); it returns the release function.
	Lock func(ctx context.Context) (release func(), err error)
	// Observe, when set, is told about every finished tick (metrics).
	Observe func(TickResult)
}

// TickResult is what one tick did.
type TickResult struct {
	AsOf      renewal.Date
	Scan      ScanStats // zero Dates when the day was already scanned
	Delivery  notify.Stats
	Duration  time.Duration
	Err       error
	GapMissed int // dates older than catch_up_days that were not scanned
	// ScanAhead is how many days the scan state is after today (a clock that was wrong once): no
	// date is scanned until today reaches it, so the tick fails with ErrScanStateAhead.
	ScanAhead int
	ScannedOn renewal.Date // the scan state when it is ahead
}

// Tick runs one cycle as of asOf. The first tick ever scans asOf only; later ones scan every date
// after the last scanned one, at most catch_up_days before asOf (R11). deliver=false only queues.
func (t *Ticker) Tick(ctx context.Context, asOf time.Time, deliver bool) (TickResult, error) {
	start := t.Now()
	today := renewal.DateOf(asOf, t.Location)
	res := TickResult{AsOf: today}
	err := t.tick(ctx, asOf, today, deliver, &res)
	res.Err = err
	res.Duration = t.Now().Sub(start)
	t.log(res)
	if t.Observe != nil {
		t.Observe(res)
	}
	return res, err
}

// ErrScanStateAhead is the error of every tick while the scan state is after today: the clock was
// wrong once (ahead) when a tick ran, and no date is scanned until today reaches the recorded one.
var ErrScanStateAhead = errors.New("scan state is after today")

func (t *Ticker) tick(ctx context.Context, asOf time.Time, today renewal.Date, deliver bool, res *TickResult) error {
	if err := t.scan(ctx, asOf, today, res); err != nil {
		return err
	}
	if deliver && t.Deliverer != nil {
		ds, err := t.Deliverer.Deliver(ctx)
		res.Delivery = ds
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("deliver: %w", err)
		}
	}
	if res.ScanAhead > 0 {
		// Delivery went on; scanning did not. Say so every tick until it is repaired.
		return fmt.Errorf("%w: the last scanned date is %s, %d days after today %s (the clock was wrong when a tick ran); "+
			"no date is scanned until then: after correcting the clock, run %s, DATE the last day the clock was right "+
			"(nothing is queued twice), and daily scans resume on %s",
			ErrScanStateAhead, res.ScannedOn, res.ScanAhead, today,
			shellquote.Join("renewald", "backfill", "--from", "DATE", "--to", today.String()), res.ScannedOn.AddDays(1))
	}
	return nil
}

// scan scans the dates since the last scanned one, holding Lock when it is set: a process that
// waited for another's scan then finds the day scanned and scans nothing.
func (t *Ticker) scan(ctx context.Context, asOf time.Time, today renewal.Date, res *TickResult) error {
	if t.Lock != nil {
		release, err := t.Lock(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	state, ok, err := t.Scanner.DB.LastScanState(ctx)
	if err != nil {
		return err
	}
	if ok {
		if err := t.noteZone(ctx, state); err != nil {
			return err
		}
	}
	last := state.Through
	from := today
	if ok && last.After(today) {
		if state.ScannedAt.IsZero() || state.ScannedAt.After(asOf) {
			// Recorded by a tick whose clock was ahead of this one's: a clock that was wrong once.
			res.ScanAhead, res.ScannedOn = today.DaysUntil(last), last
			return nil
		}
		// Recorded at an instant before now, yet after today: the zone moved west. Every date
		// through last is scanned; scanning resumes the day after it. The day's other work (arrivals,
		// partners that gained a recipient) still runs.
		return t.sameDay(ctx, today, asOf, res)
	}
	if ok {
		from = last.AddDays(1)
		if earliest := today.AddDays(-t.CatchUpDays); from.Before(earliest) {
			res.GapMissed = from.DaysUntil(earliest)
			t.Logger.Warn("scan gap exceeds catch_up_days: run a backfill for the missed dates",
				"missed_from", from, "missed_to", earliest.AddDays(-1), "catch_up_days", t.CatchUpDays,
				"command", shellquote.Join("renewald", "backfill", "--from", from.String(), "--to", earliest.AddDays(-1).String()))
			from = earliest
		}
	}
	if from.After(today) {
		// Today is scanned already: a later tick of the same day still queues the reminders of
		// enrollments imported since, and of partners who gained a recipient since.
		return t.sameDay(ctx, today, asOf, res)
	}
	st, err := t.Scanner.ScanDaily(ctx, from, today, asOf)
	res.Scan = st
	if err != nil {
		return fmt.Errorf("scan %s..%s: %w", from, today, err)
	}
	return nil
}

// sameDay runs the daily scan's work that does not depend on dates, on a day already scanned.
func (t *Ticker) sameDay(ctx context.Context, today renewal.Date, asOf time.Time, res *TickResult) error {
	st, err := t.Scanner.ScanSameDay(ctx, today, asOf)
	res.Scan = st
	if err != nil {
		return fmt.Errorf("scan of %s again: %w", today, err)
	}
	return nil
}

// noteZone logs, once, a change of schedule.timezone since the scan state was recorded, and records
// the new zone.
func (t *Ticker) noteZone(ctx context.Context, state store.ScanState) error {
	zone := t.zoneName()
	if state.Zone == "" || state.Zone == zone {
		return nil
	}
	t.Logger.Warn("schedule.timezone changed since the last scan: dates are now counted in the new zone; no date is scanned twice",
		"from", state.Zone, "to", zone, "last_scanned_on", state.Through)
	return t.Scanner.DB.SetScanZone(ctx, zone)
}

func (t *Ticker) zoneName() string {
	if t.Location == nil {
		return "UTC"
	}
	return t.Location.String()
}

func (t *Ticker) log(r TickResult) {
	attrs := []any{
		"as_of", r.AsOf, "scanned_dates", r.Scan.Dates, "enrollments", r.Scan.Enrollments,
		"queued", r.Scan.Queued, "superseded", r.Scan.Superseded, "no_recipients", r.Scan.NoRecipients,
		"existing", r.Scan.Existing, "delivered", r.Delivery.Sent, "retried", r.Delivery.Retried,
		"failed", r.Delivery.Failed, "cancelled", r.Delivery.Cancelled, "duration", r.Duration.Round(time.Millisecond),
	}
	if r.Err != nil {
		t.Logger.Error("tick failed", append(attrs, "err", r.Err)...)
		return
	}
	t.Logger.Info("tick", attrs...)
}

// Service runs a catch-up tick at start and then a tick at every time of the cron schedule, in the
// configured zone, one at a time: a tick still running when the next is due makes that one skipped.
type Service struct {
	Ticker   *Ticker
	Schedule cron.Schedule
	Now      func() time.Time
	// After waits for a duration (time.After in production; tests pass their own).
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
	// Ticked, when set, receives every finished tick, so tests wait on signals, not sleeps.
	Ticked func(TickResult)
	// DeliverEvery, when positive, delivers what has fallen due (retries after backoff, claims
	// whose lease ran out) this often between ticks.
	DeliverEvery time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error // why the service stopped on its own (a recovered panic)
}

// ErrPanic marks a panic recovered in the service's goroutine.
var ErrPanic = errors.New("panic")

// Start runs the service in the background until ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel, s.done = cancel, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		defer s.recoverPanic()
		s.loop(ctx)
	}()
}

// recoverPanic turns a panic of the service's goroutine into Err, logged with its stack, so the
// daemon can stop cleanly and exit 1 (which systemd restarts) rather than crash with Go's exit 2.
func (s *Service) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	stack := debug.Stack()
	s.Logger.Error("panic in the scheduler; stopping", "panic", fmt.Sprint(v), "stack", string(stack))
	s.mu.Lock()
	s.err = fmt.Errorf("scheduler: %w: %v", ErrPanic, v)
	s.mu.Unlock()
}

// Err returns why the service stopped on its own (after Done is closed): a recovered panic, a
// schedule that never fires, or nil.
func (s *Service) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop cancels the service and waits for the running tick to finish its current message, or for
// stopCtx to end.
func (s *Service) Stop(stopCtx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-stopCtx.Done():
		return fmt.Errorf("stop scheduler: %w", stopCtx.Err())
	}
}

// Done is closed when the service has stopped.
func (s *Service) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

func (s *Service) loop(ctx context.Context) {
	s.runTick(ctx) // catch-up at start
	for {
		now := s.Now()
		next := s.Schedule.Next(now)
		if next.IsZero() { // config check refuses such a schedule; never spin on one
			s.mu.Lock()
			s.err = fmt.Errorf("scheduler: %w after %s", ErrNeverFires, now.Format(time.RFC3339))
			s.mu.Unlock()
			s.Logger.Error("the schedule never fires again; stopping", "after", now)
			return
		}
		wait, poll := next.Sub(now), false
		if s.DeliverEvery > 0 && s.DeliverEvery < wait && s.Ticker.Deliverer != nil {
			wait, poll = s.DeliverEvery, true
		}
		select {
		case <-ctx.Done():
			return
		case <-s.After(wait):
		}
		if poll && s.Now().Before(next) {
			s.deliverDue(ctx)
			continue
		}
		s.runTick(ctx)
		if skipped := s.countSkipped(next, s.Now()); skipped > 0 {
			s.Logger.Warn("tick overran the schedule; skipped scheduled runs", "skipped", skipped, "since", next)
		}
	}
}

// countSkipped counts schedule times after fired and up to now: runs that fell while a tick ran.
func (s *Service) countSkipped(fired, now time.Time) int {
	n := 0
	for t := s.Schedule.Next(fired); !t.After(now) && n < 1000; t = s.Schedule.Next(t) {
		n++
	}
	return n
}

// deliverDue runs delivery between ticks; it logs only when it did something. The deliverer's
// observer counts what it delivers, as it does for ticks.
func (s *Service) deliverDue(ctx context.Context) {
	st, err := s.Ticker.Deliverer.Deliver(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		s.Logger.Error("delivery between ticks failed", "err", err)
		return
	}
	if st.Claimed > 0 {
		s.Logger.Info("delivered between ticks", "delivered", st.Sent, "retried", st.Retried, "failed", st.Failed, "cancelled", st.Cancelled)
	}
}

func (s *Service) runTick(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	res, _ := s.Ticker.Tick(ctx, s.Now(), true) // logged and observed by the ticker
	if s.Ticked != nil {
		s.Ticked(res)
	}
}
