package main

import (
	"context"
	"fmt"
	"strconv"
)

// cmdPreview renders the email of one outbox row to stdout.
func (m *Main) cmdPreview(ctx context.Context, args []string) error {
	fs := m.newFlagSet("preview")
	raw := fs.Bool("eml", false, "print the raw MIME message instead of the readable parts")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("usage: renewald preview ID")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id < 1 {
		return usageErrorf("outbox id %q is not a positive number", pos[0])
	}
	a, err := m.loadApp(ctx, true)
	if err != nil {
		return err
	}
	defer a.Close()
	rem, err := a.outbox.Reminder(ctx, id, a.rules)
	if err != nil {
		return notFoundIsUsage(err)
	}
	if rem.Recipient == "" {
		return usageErrorf("outbox row %d has no recipient (status no_recipients): nothing to render", id)
	}
	now := m.Now()
	if *raw {
		msg, _, err := a.renderer.Message(rem, now)
		if err != nil {
			return err
		}
		_, err = msg.WriteTo(m.Stdout)
		return err
	}
	out, err := a.renderer.Render(rem, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "From: %s\nTo: %s\nSubject: %s\nMessage-ID: %s\nAuto-Submitted: auto-generated\n\n%s\n--- text/html ---\n%s\n--- text/calendar ---\n%s",
		a.renderer.From, rem.Recipient, out.Subject, rem.MessageID, out.Text, out.HTML, a.renderer.ICS(rem, now))
	return nil
}
