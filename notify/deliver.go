package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/renewald/renewald/renewal"
)

// Outbox is what delivery needs of the store: claims with a lease and marks. store.Outbox satisfies it.
type Outbox interface {
	// Claim takes up to limit due rows; rows that fail the re-check (enrollment removed, recipient
	// without a recipient role) are cancelled and counted instead of returned.
	Claim(ctx context.Context, now time.Time, limit int, rules renewal.Rules) (claimed []renewal.Reminder, cancelled int, err error)
	MarkSent(ctx context.Context, id int64, now time.Time, subject string) error
	MarkRetry(ctx context.Context, id int64, now, next time.Time, reason string) error
	MarkFailed(ctx context.Context, id int64, now time.Time, reason string) error
	Release(ctx context.Context, id int64, now time.Time) error
}

// Stats counts a delivery run.
type Stats struct {
	Claimed   int
	Sent      int
	Retried   int // temporary failures put back with backoff
	Failed    int // permanent failures or attempts exhausted
	Released  int // claimed but not sent because the run was stopped
	Cancelled int // cancelled at claim time: enrollment removed or recipient no longer an admin
	// RenderErrors counts reminders that could not be rendered (also counted in Retried or Failed): a
	// defect of renewald or its templates, never of the recipient.
	RenderErrors int
}

// Deliverer sends what is due in the outbox.
type Deliverer struct {
	Outbox      Outbox
	Transport   Transport
	Renderer    *Renderer
	Now         func() time.Time
	BatchSize   int
	MaxAttempts int
	BackoffBase time.Duration
	BackoffCap  time.Duration  // default 6 h
	Limiter     *rate.Limiter  // nil: unlimited
	Jitter      func() float64 // in [0, 1); nil: no jitter
	Logger      *slog.Logger
	// Observe, when set, is told each send's outcome and duration (metrics).
	Observe func(outcome string, d time.Duration)
	// RenderFailed, when set, is told of each reminder that could not be rendered (metrics).
	RenderFailed func()
}

// Backoff returns the wait after the attempt-th failed attempt: base·2^(attempt−1), scaled by a
// jitter factor in [0.5, 1.5), capped.
func (d *Deliverer) Backoff(attempt int) time.Duration {
	limit := d.BackoffCap
	if limit <= 0 {
		limit = 6 * time.Hour
	}
	w := float64(d.BackoffBase) * math.Pow(2, float64(max(attempt, 1)-1))
	if d.Jitter != nil {
		w *= 0.5 + d.Jitter()
	}
	if w > float64(limit) || math.IsInf(w, 0) {
		w = float64(limit)
	}
	return time.Duration(w)
}

// Deliver claims and sends batches until nothing is due. When ctx ends it finishes the message in
// flight, marks it, releases the rest of the batch and returns.
func (d *Deliverer) Deliver(ctx context.Context) (Stats, error) {
	var st Stats
	batch := max(d.BatchSize, 1)
	for ctx.Err() == nil {
		rems, cancelled, err := d.Outbox.Claim(ctx, d.Now(), batch, d.Renderer.Rules)
		if err != nil {
			return st, err
		}
		st.Cancelled += cancelled
		if len(rems) == 0 {
			if cancelled > 0 {
				continue // the whole batch was cancelled; more may be due
			}
			return st, nil
		}
		st.Claimed += len(rems)
		if err := d.sendBatch(ctx, rems, &st); err != nil {
			return st, err
		}
		if len(rems)+cancelled < batch {
			return st, nil
		}
	}
	return st, ctx.Err()
}

// rendered is a reminder made ready to send by the rendering stage.
type rendered struct {
	r       renewal.Reminder
	env     *Envelope
	subject string
	err     error
}

// sendBatch renders the batch in one goroutine while it sends and marks in this one, so both cores
// work: rendering costs about as much as sending.
func (d *Deliverer) sendBatch(ctx context.Context, rems []renewal.Reminder, st *Stats) error {
	// Marks must land even when ctx is cancelled mid-batch.
	markCtx := context.WithoutCancel(ctx)
	sess, err := d.Transport.Open(ctx)
	if err != nil {
		se := classify(err)
		d.Logger.Warn("mail transport unavailable", "err", se.Reply)
		for _, r := range rems {
			if err := d.fail(markCtx, r, se, st); err != nil {
				return err
			}
		}
		return nil
	}
	defer sess.Close()

	stop := make(chan struct{})
	ready := make(chan rendered, 16)
	go func() {
		defer close(ready)
		for _, r := range rems {
			env, subject, err := d.Renderer.Envelope(r, d.Now())
			select {
			case ready <- rendered{r: r, env: env, subject: subject, err: err}:
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)

	done := 0
	for item := range ready {
		if ctx.Err() == nil && d.Limiter != nil {
			_ = d.Limiter.Wait(ctx)
		}
		if ctx.Err() != nil {
			break
		}
		done++
		r := item.r
		if item.err != nil {
			// Our defect, not the recipient's: said loudly, and retried with backoff (a fixed template
			// or catalog picks it up) rather than failed at once like a 550.
			st.RenderErrors++
			if d.RenderFailed != nil {
				d.RenderFailed()
			}
			d.Logger.Error("cannot render reminder: a defect of renewald or its templates, not of the recipient",
				"outbox_id", r.OutboxID, "attempt", r.Attempts, "err", item.err)
			se := &SendError{Temporary: true, Reply: "render: " + item.err.Error(), Err: item.err}
			if err := d.fail(markCtx, r, se, st); err != nil {
				return err
			}
			continue
		}
		start := d.Now()
		err := sess.Send(ctx, r.OutboxID, item.env)
		elapsed := d.Now().Sub(start)
		if err != nil {
			d.observe("error", elapsed)
			if err := d.fail(markCtx, r, classify(err), st); err != nil {
				return err
			}
			continue
		}
		d.observe("sent", elapsed)
		if err := markErr(d.Outbox.MarkSent(markCtx, r.OutboxID, d.Now(), item.subject)); err != nil {
			return err
		}
		st.Sent++
		d.Logger.Debug("sent", "outbox_id", r.OutboxID, "message_id", r.MessageID)
	}
	// Stopped: give back what was claimed but not attempted.
	for _, rest := range rems[done:] {
		if err := markErr(d.Outbox.Release(markCtx, rest.OutboxID, d.Now())); err != nil {
			return err
		}
		st.Released++
	}
	return nil
}

func (d *Deliverer) observe(outcome string, dur time.Duration) {
	if d.Observe != nil {
		d.Observe(outcome, dur)
	}
}

// fail marks a failed attempt: back to pending with backoff when temporary and attempts remain,
// failed otherwise.
func (d *Deliverer) fail(ctx context.Context, r renewal.Reminder, se *SendError, st *Stats) error {
	now := d.Now()
	if se.Temporary && r.Attempts < d.MaxAttempts {
		next := now.Add(d.Backoff(r.Attempts))
		d.Logger.Info("temporary delivery failure; will retry", "outbox_id", r.OutboxID, "attempt", r.Attempts,
			"next_attempt_at", next.UTC().Format(time.RFC3339), "err", se.Reply)
		st.Retried++
		return markErr(d.Outbox.MarkRetry(ctx, r.OutboxID, now, next, se.Reply))
	}
	reason := se.Reply
	if se.Temporary {
		reason = fmt.Sprintf("gave up after %d attempts: %s", r.Attempts, se.Reply)
	}
	d.Logger.Warn("delivery failed", "outbox_id", r.OutboxID, "attempt", r.Attempts, "err", reason)
	st.Failed++
	return markErr(d.Outbox.MarkFailed(ctx, r.OutboxID, now, reason))
}

// markErr passes mark errors on, except a lost claim: the row's lease expired and another delivery
// took it over, which at-least-once delivery allows.
func markErr(err error) error {
	var ll interface{ LeaseLost() bool }
	if err == nil || (errors.As(err, &ll) && ll.LeaseLost()) {
		return nil
	}
	return fmt.Errorf("mark: %w", err)
}
