package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/renewald/renewald/store"
)

// cmdOutbox runs "outbox list|show|retry|cancel".
func (m *Main) cmdOutbox(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErrorf("usage: renewald outbox list|show|retry|cancel")
	}
	sub, args := args[0], args[1:]
	fs := m.newFlagSet("outbox " + sub)
	var (
		asJSON   = fs.Bool("json", false, "print JSON")
		status   = fs.String("status", "", "only rows with this status")
		partner  = fs.String("partner", "", "only rows of this partner id")
		failed   = fs.Bool("failed", false, "retry: every failed row")
		limit    = fs.Int("limit", 0, "at most this many rows (0: all)")
		from, to dateFlag
	)
	fs.Var(&from, "due-from", "only rows due on or after this date")
	fs.Var(&to, "due-to", "only rows due on or before this date")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *status != "" && !slices.Contains(store.Statuses, *status) {
		return usageErrorf("--status %q is not one of %s", *status, strings.Join(store.Statuses, ", "))
	}
	_, db, err := m.loadStore(ctx, sub == "list" || sub == "show")
	if err != nil {
		return err
	}
	defer db.Close()
	id := func() (int64, error) {
		if len(pos) != 1 {
			return 0, usageErrorf("usage: renewald outbox %s ID", sub)
		}
		n, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || n < 1 {
			return 0, usageErrorf("outbox id %q is not a positive number", pos[0])
		}
		return n, nil
	}
	switch sub {
	case "list":
		rows, err := db.List(ctx, store.Filter{Status: *status, PartnerID: *partner, DueFrom: from.Date, DueTo: to.Date, Limit: *limit})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(m.Stdout, rows)
		}
		writeOutboxTable(m.Stdout, rows)
		return nil
	case "show":
		n, err := id()
		if err != nil {
			return err
		}
		row, err := db.Get(ctx, n)
		if err != nil {
			return notFoundIsUsage(err)
		}
		if *asJSON {
			return writeJSON(m.Stdout, row)
		}
		writeOutboxDetail(m.Stdout, row)
		return nil
	case "retry":
		if *failed {
			n, err := db.RetryFailed(ctx, m.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "%d failed rows back to pending\n", n)
			return nil
		}
		n, err := id()
		if err != nil {
			return err
		}
		if err := db.Retry(ctx, n, m.Now()); err != nil {
			return notFoundIsUsage(err)
		}
		fmt.Fprintf(m.Stdout, "outbox row %d back to pending\n", n)
		return nil
	case "cancel":
		n, err := id()
		if err != nil {
			return err
		}
		if err := db.Cancel(ctx, n, m.Now()); err != nil {
			return notFoundIsUsage(err)
		}
		fmt.Fprintf(m.Stdout, "outbox row %d cancelled\n", n)
		return nil
	}
	return usageErrorf("unknown outbox command %q (want list, show, retry or cancel)", sub)
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
