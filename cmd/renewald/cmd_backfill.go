package main

import (
	"context"
	"fmt"

	"github.com/renewald/renewald/scheduler"
)

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
		st, err := a.scanner.Scan(ctx, from.Date, to.Date, mode, m.Now())
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
