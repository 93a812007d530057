package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Suppression is an address the mail server reported as not existing.
type Suppression struct {
	Address      string `db:"address" json:"address"`
	Reply        string `db:"reply" json:"reply"`
	SuppressedAt string `db:"suppressed_at" json:"suppressed_at"`
}

// SuppressedReason is the last_error of a row not sent because its address is suppressed.
func SuppressedReason(reply, since string) string {
	return fmt.Sprintf("address suppressed since %s: %s", since, reply)
}

// Suppress puts address on the suppression list with the server's reply (a later report replaces
// the reply and time). Rows to it end suppressed at claim time.
func (o *Outbox) Suppress(ctx context.Context, address, reply string, now time.Time) error {
	if _, err := o.DB.db.ExecContext(ctx, `INSERT INTO suppressions (address, reply, suppressed_at) VALUES (?, ?, ?)
		ON CONFLICT (address) DO UPDATE SET reply = excluded.reply, suppressed_at = excluded.suppressed_at`,
		strings.ToLower(address), reply, formatTime(now)); err != nil {
		return fmt.Errorf("suppress %s: %w", address, err)
	}
	return nil
}

// Suppressions lists the suppressed addresses in address order.
func (o *Outbox) Suppressions(ctx context.Context) ([]Suppression, error) {
	out := []Suppression{}
	if err := o.DB.db.SelectContext(ctx, &out, `SELECT address, reply, suppressed_at FROM suppressions ORDER BY address`); err != nil {
		return nil, fmt.Errorf("list suppressions: %w", err)
	}
	return out, nil
}

// Unsuppress removes an address from the suppression list; ErrNotFound when it is not on it. Rows
// already suppressed stay so until an operator retries them.
func (o *Outbox) Unsuppress(ctx context.Context, address string) error {
	r, err := o.DB.db.ExecContext(ctx, `DELETE FROM suppressions WHERE address = ?`, strings.ToLower(strings.TrimSpace(address)))
	if err != nil {
		return fmt.Errorf("remove suppression: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("address %s is not suppressed: %w", address, ErrNotFound)
	}
	return nil
}
