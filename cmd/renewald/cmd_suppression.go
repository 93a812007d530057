package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

// cmdSuppression runs "suppression list [--json]" and "suppression remove ADDRESS": the addresses the
// mail server reported as not existing, which are not mailed again.
func (m *Main) cmdSuppression(ctx context.Context, args []string) error {
	const usage = "usage: renewald suppression list [--json] | suppression remove ADDRESS"
	if len(args) == 0 {
		return usageErrorf(usage)
	}
	sub := args[0]
	fs := m.newFlagSet("suppression " + sub)
	var asJSON *bool
	switch sub {
	case "list":
		asJSON = fs.Bool("json", false, "print JSON")
	case "remove":
	default:
		return usageErrorf(usage)
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if (sub == "list" && len(pos) != 0) || (sub == "remove" && len(pos) != 1) {
		return usageErrorf(usage)
	}
	ob, err := m.loadOutbox(ctx, sub == "list")
	if err != nil {
		return err
	}
	defer ob.DB.Close()
	if sub == "remove" {
		if err := ob.Unsuppress(ctx, pos[0]); err != nil {
			return notFoundIsUsage(err)
		}
		fmt.Fprintf(m.Stdout, "%s is no longer suppressed; its suppressed rows go out again after renewald outbox retry ID\n", pos[0])
		return nil
	}
	list, err := ob.Suppressions(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(m.Stdout, list)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSINCE\tREPLY")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Address, s.SuppressedAt, truncate(s.Reply, 70))
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "%d suppressed addresses\n", len(list))
	return nil
}
