package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/renewald/renewald/store"
)

// cmdOutbox runs "outbox list|show|retry|cancel". Each subcommand has its own flags: a flag that
// does not apply to it is a usage error.
func (m *Main) cmdOutbox(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErrorf("usage: renewald outbox list|show|retry|cancel")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		return m.outboxList(ctx, args)
	case "show":
		return m.outboxShow(ctx, args)
	case "retry":
		return m.outboxRetry(ctx, args)
	case "cancel":
		return m.outboxCancel(ctx, args)
	}
	return usageErrorf("unknown outbox command %q (want list, show, retry or cancel)", sub)
}

// outboxList runs "outbox list [--status S] [--partner ID] [--due-from D] [--due-to D] [--limit N] [--json]".
func (m *Main) outboxList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("outbox list")
	var (
		asJSON   = fs.Bool("json", false, "print JSON")
		status   = fs.String("status", "", "only rows with this status")
		partner  = fs.String("partner", "", "only rows of this partner id")
		limit    = fs.Int("limit", 0, "at most this many rows (0: all)")
		from, to dateFlag
	)
	fs.Var(&from, "due-from", "only rows due on or after this date")
	fs.Var(&to, "due-to", "only rows due on or before this date")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErrorf("usage: renewald outbox list [--status S] [--partner ID] [--due-from D] [--due-to D] [--limit N] [--json]")
	}
	if *status != "" && !slices.Contains(store.Statuses, *status) {
		return usageErrorf("--status %q is not one of %s", *status, strings.Join(store.Statuses, ", "))
	}
	ob, err := m.loadOutbox(ctx, true)
	if err != nil {
		return err
	}
	defer ob.DB.Close()
	rows, err := ob.List(ctx, store.Filter{Status: *status, PartnerID: *partner, DueFrom: from.Date, DueTo: to.Date, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(m.Stdout, rows)
	}
	writeOutboxTable(m.Stdout, rows)
	return nil
}

// outboxShow runs "outbox show ID [--json]".
func (m *Main) outboxShow(ctx context.Context, args []string) error {
	fs := m.newFlagSet("outbox show")
	asJSON := fs.Bool("json", false, "print JSON")
	id, err := parseID(fs, args)
	if err != nil {
		return err
	}
	ob, err := m.loadOutbox(ctx, true)
	if err != nil {
		return err
	}
	defer ob.DB.Close()
	row, err := ob.Get(ctx, id)
	if err != nil {
		return notFoundIsUsage(err)
	}
	if *asJSON {
		return writeJSON(m.Stdout, row)
	}
	writeOutboxDetail(m.Stdout, row)
	return nil
}

// outboxRetry runs "outbox retry ID" and "outbox retry --failed".
func (m *Main) outboxRetry(ctx context.Context, args []string) error {
	fs := m.newFlagSet("outbox retry")
	failed := fs.Bool("failed", false, "every failed row")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	var id int64
	if *failed {
		if len(pos) != 0 {
			return usageErrorf("usage: renewald outbox retry ID, or renewald outbox retry --failed")
		}
	} else if id, err = outboxID(fs.Name(), pos); err != nil {
		return err
	}
	ob, err := m.loadOutbox(ctx, false)
	if err != nil {
		return err
	}
	defer ob.DB.Close()
	if *failed {
		n, err := ob.RetryFailed(ctx, m.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "%d failed rows back to pending\n", n)
		return nil
	}
	if err := ob.Retry(ctx, id, m.Now()); err != nil {
		return notFoundIsUsage(err)
	}
	fmt.Fprintf(m.Stdout, "outbox row %d back to pending\n", id)
	return nil
}

// outboxCancel runs "outbox cancel ID".
func (m *Main) outboxCancel(ctx context.Context, args []string) error {
	id, err := parseID(m.newFlagSet("outbox cancel"), args)
	if err != nil {
		return err
	}
	ob, err := m.loadOutbox(ctx, false)
	if err != nil {
		return err
	}
	defer ob.DB.Close()
	if err := ob.Cancel(ctx, id, m.Now()); err != nil {
		return notFoundIsUsage(err)
	}
	fmt.Fprintf(m.Stdout, "outbox row %d cancelled\n", id)
	return nil
}

// parseID parses the flags of a command that takes one outbox ID, and the ID.
func parseID(fs *flag.FlagSet, args []string) (int64, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return 0, err
	}
	return outboxID(fs.Name(), pos)
}

// outboxID is the one positional argument of the command called name ("renewald outbox show").
func outboxID(name string, pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, usageErrorf("usage: %s ID", name)
	}
	n, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || n < 1 {
		return 0, usageErrorf("outbox id %q is not a positive number", pos[0])
	}
	return n, nil
}

func notFoundIsUsage(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrWrongState) {
		return asUsage(err)
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// writeOutboxTable prints rows in at most 120 columns.
func writeOutboxTable(w io.Writer, rows []store.OutboxRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDUE\tOFF\tSTATUS\tATT\tPARTNER\tSPECIALIZATION\tRECIPIENT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%+d\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.DueOn, r.OffsetDays, r.Status, r.Attempts,
			truncate(r.PartnerName, 16), truncate(r.Specialization, 26), truncate(deref(r.Recipient), 24))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d rows\n", len(rows))
}

func writeOutboxDetail(w io.Writer, r store.OutboxRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"id", strconv.FormatInt(r.ID, 10)},
		{"partner", r.PartnerName + " (" + r.PartnerID + ")"},
		{"specialization", r.Specialization},
		{"attained on", r.AttainedOn},
		{"anniversary", r.AnniversaryOn},
		{"renewal year", strconv.Itoa(r.RenewalYear)},
		{"manual validation", r.ManualValidation},
		{"offset", fmt.Sprintf("%+d days", r.OffsetDays)},
		{"due on", r.DueOn},
		{"recipient", deref(r.Recipient)},
		{"status", r.Status},
		{"attempts", strconv.Itoa(r.Attempts)},
		{"next attempt at", deref(r.NextAttemptAt)},
		{"lease until", deref(r.LeaseUntil)},
		{"last error", deref(r.LastError)},
		{"subject", deref(r.Subject)},
		{"message id", r.MessageID},
		{"created at", r.CreatedAt},
		{"sent at", deref(r.SentAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
}
