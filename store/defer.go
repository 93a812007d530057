package store

import (
	"context"
	"time"
)

// Defer returns a claimed row to pending until next, recording reason, and gives back the attempt
// the claim counted: the mail transport, not the message, held it back (a misconfigured sender, a
// throttling service). A row no longer claimed is ErrLeaseLost.
func (o *Outbox) Defer(ctx context.Context, id int64, now, next time.Time, reason string) error {
	return o.mark(ctx, id, `UPDATE outbox SET status = 'pending', attempts = `+o.DB.dialect().greatest+`(attempts - 1, 0),
		first_attempt_at = CASE WHEN attempts <= 1 THEN NULL ELSE first_attempt_at END, next_attempt_at = ?,
		last_error = ?, lease_until = NULL, claim_token = NULL, updated_at = ?`+markWhere,
		formatTime(next), reason, formatTime(now))
}
