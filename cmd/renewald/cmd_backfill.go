package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/scheduler"
)

// cmdBackfill scans an explicit date range.
func (m *Main) cmdBackfill(ctx context.Context, args []string) error {
	fs := m.newFlagSet("backfill")
	var from, to dateFlag
	fs.Var(&from, "from", "first date to scan (required)")
	fs.Var(&to, "to", "last date to scan (required)")
	dryRun := fs.Bool("dry-run", false, "print the rows the backfill would write, with the status each would get; write nothing")
	asJSON := fs.Bool("json", false, "with --dry-run: print the rows as a JSON array")
	recordOnly := fs.Bool("record-only", false, "record what is found as skipped; never mail it")
	wait := fs.Duration("wait", lockWait, "how long to wait for a running scan")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if from.IsZero() || to.IsZero() {
		return usageErrorf("usage: renewald backfill --from DATE --to DATE [--dry-run [--json]] [--record-only]")
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
	if *asJSON && !*dryRun {
		return usageErrorf("--json goes with --dry-run")
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
		if *asJSON {
			return m.backfillPlanJSON(ctx, a.scanner, from.Date, to.Date)
		}
		if mode == scheduler.DryRun {
			fmt.Fprintln(m.Stdout, "DUE\tOFFSET\tSTATUS\tPARTNER\tSPECIALIZATION\tANNIVERSARY\tRECIPIENT")
		}
		st, err := a.scanner.Scan(ctx, from.Date, to.Date, mode, m.Now())
		if err != nil {
			return err
		}
		switch mode {
		case scheduler.DryRun:
			fmt.Fprintf(m.Stdout, "dry run %s..%s: %d reminders found, %d rows would be written (queued %d, superseded %d, cancelled %d, expired %d, no recipients %d; already present %d); nothing written\n",
				st.From, st.To, st.Reminders, st.Queued+st.Superseded+st.Renewed+st.Expired+st.NoRecipients,
				st.Queued, st.Superseded, st.Renewed, st.Expired, st.NoRecipients, st.Existing)
		default:
			fmt.Fprintf(m.Stdout, "backfill %s..%s: %d enrollments, queued %d, superseded %d, cancelled %d, expired %d, skipped %d, no recipients %d, already present %d\n",
				st.From, st.To, st.Enrollments, st.Queued, st.Superseded, st.Renewed, st.Expired, st.Skipped, st.NoRecipients, st.Existing)
		}
		return nil
	})
}

// backfillPlanJSON prints, as one JSON array streamed row by row, the rows a backfill of [from, to]
// would write, each with the status the real run records.
func (m *Main) backfillPlanJSON(ctx context.Context, sc *scheduler.Scanner, from, to renewal.Date) error {
	plan := *sc
	n := 0
	plan.Planned = func(p scheduler.PlannedRow) error {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		sep := ",\n  "
		if n == 0 {
			sep = "[\n  "
		}
		n++
		_, err = fmt.Fprintf(m.Stdout, "%s%s", sep, b)
		return err
	}
	if _, err := plan.Scan(ctx, from, to, scheduler.DryRun, m.Now()); err != nil {
		return err
	}
	if n == 0 {
		_, err := fmt.Fprintln(m.Stdout, "[]")
		return err
	}
	_, err := fmt.Fprintln(m.Stdout, "\n]")
	return err
}
