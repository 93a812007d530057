package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/store"
)

// lockWait bounds how long tick, backfill and deliver wait for a running scan or delivery.
const lockWait = 2 * time.Minute

// withScanLock runs fn holding the database's scan lock, waiting up to wait for another scan.
func withScanLock(ctx context.Context, db *store.DB, wait time.Duration, fn func() error) error {
	wctx, cancel := context.WithTimeout(ctx, wait)
	lock, err := store.WaitFor(wctx, db.Locker(), store.LockScan, 100*time.Millisecond)
	cancel()
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("another renewald is scanning this database: %w", err)
	}
	if err != nil {
		return lockError(err)
	}
	defer lock.Unlock()
	return fn()
}

// lockError marks as a usage error (exit 2; 78 for run) what an operator must fix: a lock file owned by
// someone else, a command run as the wrong user, a planted link.
func lockError(err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, store.ErrWrongUser) || errors.Is(err, store.ErrUnsafeLockFile) {
		return asUsage(err)
	}
	return err
}

// cmdTick runs one scan + enqueue + deliver cycle.
func (m *Main) cmdTick(ctx context.Context, args []string) error {
	fs := m.newFlagSet("tick")
	var asOf dateFlag
	fs.Var(&asOf, "as-of", "scan as of this date (default today in schedule.timezone)")
	noDeliver := fs.Bool("no-deliver", false, "queue only; do not deliver")
	wait := fs.Duration("wait", lockWait, "how long to wait for a running scan")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := m.loadApp(ctx, false)
	if err != nil {
		return err
	}
	defer a.Close()
	cfg := a.cfg
	var d *notify.Deliverer
	if !*noDeliver {
		if d, err = m.deliverer(a); err != nil {
			return err
		}
	}
	t := m.ticker(a, d)
	at := m.Now()
	if !asOf.IsZero() {
		if asOf.After(m.today(cfg)) {
			return usageErrorf("--as-of %s is after today (%s): a tick records the date it scanned, so daily scans would stop until then; preview with backfill --dry-run", asOf.Date, m.today(cfg))
		}
		at = asOf.Time(cfg.Location())
	}
	return withScanLock(ctx, a.db, *wait, func() error {
		res, err := t.Tick(ctx, at, !*noDeliver)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "tick %s: scanned %d dates, queued %d, superseded %d, no recipients %d; delivered %d, retrying %d, failed %d\n",
			res.AsOf, res.Scan.Dates, res.Scan.Queued, res.Scan.Superseded, res.Scan.NoRecipients,
			res.Delivery.Sent, res.Delivery.Retried, res.Delivery.Failed)
		return nil
	})
}
