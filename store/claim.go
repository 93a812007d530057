package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/renewald/renewald/renewal"
)

// Claim tokens. Every claim writes a fresh random token into the rows it takes (claim_token), and
// every mark requires it (markWhere): a delivery whose lease ran out — it stalled, or its host lost
// the database for a while — and whose row another delivery has claimed since cannot mark that
// row; its mark reports ErrLeaseLost instead. Comparing the attempt number would not do: an
// operator's retry resets it, so an old claim could match a new one.
//
// The token stays inside the store: the Outbox that claimed a row remembers its token until it marks
// or releases it, so delivery (notify.Outbox) deals in row ids only. One Outbox serves one process's
// deliveries, which run one at a time; a second process has its own Outbox and its own tokens.

// newClaimToken returns 128 random bits in hex.
func newClaimToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("claim token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// hold remembers token as this Outbox's claim on the claimed reminders.
func (o *Outbox) hold(claimed []renewal.Reminder, token string) {
	if len(claimed) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.claims == nil {
		o.claims = map[int64]string{}
	}
	for _, r := range claimed {
		o.claims[r.OutboxID] = token
	}
}

// token returns the token of this Outbox's claim on row id ("" when it holds none, which matches no
// row), keeping the claim.
func (o *Outbox) token(id int64) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.claims[id]
}

// release forgets this Outbox's claim on row id and returns its token ("" when it holds none, which
// matches no row).
func (o *Outbox) release(id int64) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	token := o.claims[id]
	delete(o.claims, id)
	return token
}
