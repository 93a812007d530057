package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/scheduler"
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

// cmdBackfill scans an explicit date range.
func (m *Main) cmdBackfill(ctx context.Context, args []string) error {
	fs := m.newFlagSet("backfill")
	var from, to dateFlag
	fs.Var(&from, "from", "first date to scan (required)")
	fs.Var(&to, "to", "last date to scan (required)")
	dryRun := fs.Bool("dry-run", false, "print what would be queued; write nothing")
	recordOnly := fs.Bool("record-only", false, "record what is found as skipped; never mail it")
	wait := fs.Duration("wait", lockWait, "how long to wait for a running scan")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if from.IsZero() || to.IsZero() {
		return usageErrorf("usage: renewald backfill --from DATE --to DATE [--dry-run] [--record-only]")
	}
	if to.Before(from.Date) {
		return usageErrorf("--to %s is before --from %s", to.Date, from.Date)
	}
	if from.DaysUntil(to.Date) > 3660 {
		return usageErrorf("--from %s --to %s spans more than ten years", from.Date, to.Date)
	}
	if *dryRun && *recordOnly {
		return usageErrorf("--dry-run and --record-only exclude each other")
	}
	mode := scheduler.Queue
	switch {
	case *dryRun:
		mode = scheduler.DryRun
	case *recordOnly:
		mode = scheduler.RecordOnly
	}
	a, err := m.loadApp(ctx, false)
	if err != nil {
		return err
	}
	defer a.Close()
	return withScanLock(ctx, a.db, *wait, func() error {
		if mode == scheduler.DryRun {
			fmt.Fprintln(m.Stdout, "DUE\tOFFSET\tSTATUS\tPARTNER\tSPECIALIZATION\tANNIVERSARY\tRECIPIENT")
		}
		st, err := a.scanner.Scan(ctx, from.Date, to.Date, mode, scheduler.NoScanState, m.Now())
		if err != nil {
			return err
		}
		switch mode {
		case scheduler.DryRun:
			fmt.Fprintf(m.Stdout, "dry run %s..%s: %d reminders found (keys already in the outbox are not queued again); nothing written\n",
				st.From, st.To, st.Reminders)
		default:
			fmt.Fprintf(m.Stdout, "backfill %s..%s: %d enrollments, queued %d, superseded %d, skipped %d, no recipients %d, already present %d\n",
				st.From, st.To, st.Enrollments, st.Queued, st.Superseded, st.Skipped, st.NoRecipients, st.Existing)
		}
		return nil
	})
}

// cmdDeliver delivers what is due once.
func (m *Main) cmdDeliver(ctx context.Context, args []string) error {
	if _, err := parseFlags(m.newFlagSet("deliver"), args); err != nil {
		return err
	}
	a, err := m.loadApp(ctx, false)
	if err != nil {
		return err
	}
	defer a.Close()
	d, err := m.deliverer(a)
	if err != nil {
		return err
	}
	st, err := d.Deliver(ctx)
	fmt.Fprintf(m.Stdout, "delivered %d, retrying %d, failed %d, released %d\n", st.Sent, st.Retried, st.Failed, st.Released)
	return err
}
