package store

import (
	"context"
	"time"
)

// Defer returns a claimed row to pending until next, recording reason, and gives back the attempt
// the claim counted: the mail transport, not the message, held it back (a misconfigured sender, a
// throttling service). A row no longer claimed is ErrLeaseLost.
func (o *Outbox) Defer(ctx context.Context, id int64, now, next time.Time, reason string) error {
	return o.mark(ctx, id, `UPDATE outbox SET status = 'pending', attempts = max(attempts - 1, 0), next_attempt_at = ?,
		last_error = ?, lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'sending'`,
		formatTime(next), reason, formatTime(now), id)
}
