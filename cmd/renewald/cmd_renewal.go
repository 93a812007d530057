package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
)

// cmdRenewal runs "renewal record|clear --partner ID --specialization NAME --anniversary DATE [--on DATE]":
// operators record from Partner Center that a renewal is done, which stops its later reminders.
func (m *Main) cmdRenewal(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "record" && args[0] != "clear") {
		return usageErrorf("usage: renewald renewal record|clear --partner ID --specialization NAME --anniversary DATE [--on DATE]")
	}
	sub := args[0]
	fs := m.newFlagSet("renewal " + sub)
	partner := fs.String("partner", "", "partner id")
	specName := fs.String("specialization", "", "specialization name (catalog name or alias)")
	var ann, on dateFlag
	fs.Var(&ann, "anniversary", "the anniversary renewed (YYYY-MM-DD)")
	if sub == "record" {
		fs.Var(&on, "on", "the day it was renewed (default today)")
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 || *partner == "" || *specName == "" || ann.IsZero() {
		return usageErrorf("usage: renewald renewal %s --partner ID --specialization NAME --anniversary DATE%s", sub,
			map[string]string{"record": " [--on DATE]", "clear": ""}[sub])
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	cat, err := cfg.Catalog()
	if err != nil {
		return asUsage(err)
	}
	spec, err := cat.Lookup(*specName)
	if err != nil {
		return usageErrorf("--specialization: %w", err)
	}
	if on.IsZero() {
		on.Date = m.today(cfg)
	}
	db, err := m.openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	o := renewal.Outcome{PartnerID: *partner, Specialization: spec.Name, Anniversary: ann.Date, RenewedOn: on.Date}
	if sub == "clear" {
		removed, err := db.ClearRenewal(ctx, o)
		if errors.Is(err, store.ErrInput) {
			return asUsage(err)
		}
		if err != nil {
			return err
		}
		if !removed {
			fmt.Fprintf(m.Stdout, "no outcome was recorded for %s of partner %s on %s; nothing changed\n", spec.Name, *partner, ann.Date)
			return nil
		}
		fmt.Fprintf(m.Stdout, "cleared the outcome of %s of partner %s on %s: later reminders will be queued again\n", spec.Name, *partner, ann.Date)
		return nil
	}
	n, err := db.RecordRenewal(ctx, o, m.Now())
	if errors.Is(err, store.ErrInput) {
		return asUsage(err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "recorded %s of partner %s on %s as renewed on %s; %d queued reminders cancelled\n",
		spec.Name, *partner, ann.Date, on.Date, n)
	return nil
}
