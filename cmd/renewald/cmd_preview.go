package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/renewald/renewald/notify"
	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/store"
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
	rem, err := a.outbox.Reminder(ctx, id)
	if err != nil {
		return notFoundIsUsage(err)
	}
	rem = a.rules.Complete(rem)
	if rem.Recipient == "" {
		return usageErrorf("outbox row %d has no recipient (status no_recipients): nothing to render", id)
	}
	row, err := a.outbox.Get(ctx, id)
	if err != nil {
		return notFoundIsUsage(err)
	}
	// A row due later reads as it will on its due date: reminders go out on their due dates (R13),
	// worded from the day they are sent (R12). A sent row reads as it went out: its send time and
	// Message-ID (a digest's, when it went in one).
	now := m.Now()
	if due := rem.Milestone.DueOn.Time(a.renderer.Location); now.Before(due) {
		now = due
	}
	status := row.Status
	if row.Status == store.StatusSent && row.SentAt != nil {
		if sent, err := time.Parse(time.RFC3339, *row.SentAt); err == nil {
			now = sent
		}
		status = "sent at " + *row.SentAt + " (shown as it went out)"
		rem.MessageID = row.MessageID
		if strings.HasPrefix(row.MessageID, "<digest.") {
			group, err := a.outbox.SentTogether(ctx, row.MessageID)
			if err != nil {
				return err
			}
			a.rules.CompleteAll(group)
			if len(group) > 1 {
				if !*raw {
					fmt.Fprintf(m.Stdout, "Status: %s\n", status)
				}
				return m.previewDigest(a, group, *raw, now)
			}
		}
	} else if row.Status != store.StatusPending && row.Status != store.StatusSending {
		status += " (not sent; shown as it would read if sent now)"
	}
	if !*raw {
		fmt.Fprintf(m.Stdout, "Status: %s\n", status)
	}
	if a.cfg.Mail.Digest && (row.Status == store.StatusPending || row.Status == store.StatusSending) {
		group, err := a.outbox.DigestGroup(ctx, id)
		if err != nil {
			return err
		}
		a.rules.CompleteAll(group)
		if len(group) > 1 {
			return m.previewDigest(a, group, *raw, now)
		}
	}
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

// previewDigest prints the digest a row goes out in (mail.digest): every waiting reminder to its
// recipient due the same day, in one message.
func (m *Main) previewDigest(a *app, group []renewal.Reminder, raw bool, now time.Time) error {
	ids := make([]int64, len(group))
	for i, r := range group {
		ids[i] = r.OutboxID
	}
	id := notify.DigestMessageID(group[0].Recipient, group[0].Milestone.DueOn, ids, a.scanner.MessageIDDomain)
	env, subject, err := a.renderer.DigestEnvelope(group, id, now)
	if err != nil {
		return err
	}
	if raw {
		_, err = m.Stdout.Write(env.Data)
		return err
	}
	out, err := a.renderer.RenderDigest(group, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "From: %s\nTo: %s\nSubject: %s\nMessage-ID: %s\nAuto-Submitted: auto-generated\n(a digest of outbox rows %v)\n\n%s\n--- text/html ---\n%s\n--- text/calendar ---\n%s",
		a.renderer.From, group[0].Recipient, subject, id, ids, out.Text, out.HTML, a.renderer.ICSAll(group, now))
	return nil
}
