package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/renewald/renewald/scheduler"
	"github.com/renewald/renewald/store"
)

// stopTimeout bounds how long a stopping daemon waits for the running tick's message in flight.
const stopTimeout = 30 * time.Second

// cmdRun is the daemon: a catch-up tick at start, then the cron schedule, until SIGINT or SIGTERM.
func (m *Main) cmdRun(ctx context.Context, args []string) error {
	if _, err := parseFlags(m.newFlagSet("run"), args); err != nil {
		return err
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	sched, err := scheduler.ParseSchedule(cfg.Schedule.Cron, cfg.Location())
	if err != nil {
		return asUsage(err)
	}
	a, err := m.newApp(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer a.Close()
	// One daemon per SQLite database (a flock file); several share a PostgreSQL one.
	runLock, err := a.db.Locker().TryLock(ctx, store.LockRun)
	if errors.Is(err, store.ErrLocked) {
		return usageErrorf("another renewald run is using %s: %w", a.db.Name(), err)
	}
	if err != nil {
		return lockError(err)
	}
	defer runLock.Unlock()
	d, err := m.deliverer(a)
	if err != nil {
		return err
	}
	t := m.ticker(a, d)
	svc := &scheduler.Service{Ticker: t, Schedule: sched, Now: m.Now, After: time.After, Logger: m.logger,
		DeliverEvery: time.Minute} // retries and expired claims go out within a minute of falling due
	// After a tick, once its connections have gone idle and closed, hand the freed memory back to the
	// system: the daemon then idles small until the next tick.
	crashed := make(chan error, 1) // a panic recovered in one of the daemon's own goroutines
	svc.Ticked = func(scheduler.TickResult) {
		time.AfterFunc(15*time.Second, m.recovering("release memory", crashed, releaseMemory))
	}
	t.Lock = func(ctx context.Context) (func(), error) {
		l, err := store.WaitFor(ctx, a.db.Locker(), store.LockScan, 200*time.Millisecond)
		if err != nil {
			return nil, err
		}
		return func() { l.Unlock() }, nil
	}
	mx, stopMetrics, err := m.startMetrics(ctx, cfg, a, sched, t, d)
	if err != nil {
		return err
	}
	defer stopMetrics()
	stopWeb, err := m.startWeb(ctx, cfg, a, sched, mx)
	if err != nil {
		return err
	}
	defer stopWeb()

	svc.Start(ctx)
	m.logger.Info("renewald running", "version", version, "database", a.db.Name(), "engine", a.db.Engine(), "cron", cfg.Schedule.Cron,
		"timezone", cfg.Schedule.Timezone, "transport", cfg.Mail.Transport, "next", sched.Next(m.Now()).Format(time.RFC3339))
	daemon.SdNotify(false, daemon.SdNotifyReady)
	stopWatchdog := m.watchdog(ctx, crashed)
	defer stopWatchdog()

	var crash error
	select {
	case <-ctx.Done():
	case <-svc.Done():
		crash = svc.Err() // a panic in a tick, logged with its stack
	case crash = <-crashed:
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	m.logger.Info("stopping: finishing the message in flight")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if err := svc.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if crash != nil {
		return fmt.Errorf("stopped after a crash: %w", crash) // exit 1: systemd restarts it
	}
	m.logger.Info("stopped")
	return nil
}

// watchdog pings systemd's watchdog at half its interval while the daemon runs.
func (m *Main) watchdog(ctx context.Context, crashed chan<- error) (stop func()) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	m.goSafe("watchdog", crashed, func() {
		defer close(done)
		tk := time.NewTicker(interval / 2)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	})
	return func() { cancel(); <-done }
}
