package store

import (
	"context"
	"fmt"
	"time"
)

// Sending quotas (mail.max_per_day, mail.max_per_minute) are counted from the outbox itself, so
// every process delivering from one database shares them. A deliverer holds the quota lock while it
// counts and claims, so two deliverers cannot both spend the same allowance.

// LockQuota takes the quota lock of the database, waiting while another process holds it, until ctx
// ends. The returned function releases it.
func (o *Outbox) LockQuota(ctx context.Context) (unlock func(), err error) {
	l, err := WaitFor(ctx, o.DB.Locker(), LockQuota, 20*time.Millisecond)
	if err != nil {
		return nil, err
	}
	return func() { l.Unlock() }, nil
}

// CountSentSince returns how many messages count against a quota window starting at since: rows
// sent at or after it (sent_at is kept to the second, so the window is rounded outwards), plus rows
// claimed for sending under a lease still running at now, which may be sent any moment.
func (o *Outbox) CountSentSince(ctx context.Context, since, now time.Time) (int, error) {
	var n int
	err := o.DB.db.GetContext(ctx, &n, `SELECT
		(SELECT count(*) FROM outbox WHERE status = 'sent' AND sent_at >= ?) +
		(SELECT count(*) FROM outbox WHERE status = 'sending' AND lease_until > ?)`,
		formatTime(since), formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("count sent since %s: %w", formatTime(since), err)
	}
	return n, nil
}

// DeferDue puts off every row that is due at now — pending and past its next attempt time, or left
// sending by a crashed delivery whose lease has run out — until until, as pending, recording
// reason, without counting an attempt: the quota, not the message, held it back. It returns how
// many rows it deferred.
func (o *Outbox) DeferDue(ctx context.Context, now, until time.Time, reason string) (int, error) {
	ts := formatTime(now)
	// Only pending rows: a row left sending under a lapsed lease may be in flight at a slow deliverer
	// whose mark must still land; the next claim takes it back if it was abandoned.
	r, err := o.DB.db.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ?, last_error = ?, updated_at = ?
		WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND due_on <= ?`,
		formatTime(until), reason, ts, ts, now.UTC().Format("2006-01-02"))
	if err != nil {
		return 0, fmt.Errorf("defer due rows to %s: %w", formatTime(until), err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
