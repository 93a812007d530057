// Package lease holds the one error that the store and delivery share about claims: a mark made under
// a claim that is no longer held. It is a leaf (no imports of this module) so that store, which
// returns the error, and notify, which recognises it, need not import each other: store would drag in
// the mail transports, and notify never imports store (DESIGN.md §2).
package lease

import "errors"

// ErrLost is returned by a mark when the row is no longer claimed under the claim that made the mark
// (its lease expired and another delivery took it, or an operator acted on it). Check it with
// errors.Is; store.ErrLeaseLost and notify.ErrLeaseLost are this value.
var ErrLost = errors.New("claim lost: the row is no longer sending under this claim")
