package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/renewald/renewald/internal/lease"
	"github.com/renewald/renewald/renewal"
)

// Outbox is what delivery needs of the store: claims with a lease and marks. store.Outbox satisfies it.
// A mark of a row no longer under this Outbox's claim returns an error that is ErrLeaseLost.
type Outbox interface {
	// Claim takes up to limit rows due on or before today; rows that fail the re-check (enrollment
	// removed, recipient without a recipient role) are cancelled and counted instead of returned, and
	// rows still waiting whose renewal's grace period ended before today (expiry, R13 on today) are
	// marked expired and counted. The reminders carry what the rows store: the window and grace dates
	// are the caller's to work out (renewal.Rules.Complete).
	Claim(ctx context.Context, now time.Time, today renewal.Date, limit int, expiry renewal.Expiry) (claimed []renewal.Reminder, cancelled, expired int, err error)
	MarkSent(ctx context.Context, id int64, now time.Time, subject string) error
	// MarkDigestSent records the rows of one digest as sent, together, under the digest's Message-ID.
	MarkDigestSent(ctx context.Context, ids []int64, now time.Time, subject, messageID string) error
	// MarkExpired records that a claimed row was not sent because its grace period had ended.
	MarkExpired(ctx context.Context, id int64, now time.Time, reason string) error
	MarkRetry(ctx context.Context, id int64, now, next time.Time, reason string) error
	MarkFailed(ctx context.Context, id int64, now time.Time, reason string) error
	Release(ctx context.Context, id int64, now time.Time) error
	// Renew extends the lease of claimed rows still waiting in the batch (a batch longer than a lease)
	// and returns the ids among them whose claim another delivery has taken since.
	Renew(ctx context.Context, ids []int64, now time.Time) (lost []int64, err error)
	// Suppress puts an address the server reported as not existing on the suppression list: later
	// rows to it end suppressed at claim time without contacting the server.
	Suppress(ctx context.Context, address, reply string, now time.Time) error
	// Defer returns a claimed row to pending until next with reason, giving back the attempt the
	// claim counted: the transport, not the message, held it back (SendError.NoAttempt, StopBatch).
	Defer(ctx context.Context, id int64, now, next time.Time, reason string) error
}

// QuotaStore is what sending quotas need of the store, counted from the outbox so that every
// process delivering from one database shares them. store.Outbox satisfies it.
type QuotaStore interface {
	// LockQuota serialises counting and claiming between deliverers (processes included).
	LockQuota(ctx context.Context) (unlock func(), err error)
	// CountSentSince counts rows sent at or after since plus rows claimed under a live lease at now.
	CountSentSince(ctx context.Context, since, now time.Time) (int, error)
	// DeferDue puts every row due at now off until until, with reason, counting no attempt.
	DeferDue(ctx context.Context, now, until time.Time, reason string) (int, error)
}

// Quota caps sending per calendar day (in Location) and per minute; zero means unlimited.
type Quota struct {
	PerDay    int
	PerMinute int
	Location  *time.Location // the day of PerDay; nil: UTC
	Store     QuotaStore
}

func (q *Quota) active() bool { return q != nil && q.Store != nil && (q.PerDay > 0 || q.PerMinute > 0) }

// Stats counts a delivery run.
type Stats struct {
	Claimed   int
	Sent      int
	Retried   int // temporary failures put back with backoff
	Failed    int // permanent failures or attempts exhausted
	Released  int // claimed but not sent because the run was stopped
	Cancelled int // cancelled at claim time: enrollment removed, recipient no longer an admin, renewal recorded, address suppressed
	Expired   int // not sent: the renewal's grace period ended before it could be (R13)
	// RenderErrors counts reminders that could not be rendered (also counted in Retried or Failed): a
	// defect of renewald or its templates, never of the recipient.
	RenderErrors int
	// Deferred counts due reminders put off to the next day because the daily quota was reached.
	Deferred int
}

// Outcomes of one message's delivery attempt, as told to an Observer.
const (
	OutcomeSent    = "sent"    // delivered
	OutcomeRetried = "retried" // temporary failure, put back with backoff
	OutcomeFailed  = "failed"  // permanent failure or attempts exhausted
)

// Observer is told what delivery does, message by message, on whichever path delivers (a tick,
// the poll between ticks, the deliver command), so what is counted from it misses no delivery.
// metrics.Metrics satisfies it.
type Observer interface {
	// SMTPSend is one message's SMTP transaction: outcome "sent" or "error", and how long it took.
	SMTPSend(outcome string, d time.Duration)
	// Delivered is one message's outcome: OutcomeSent, OutcomeRetried or OutcomeFailed.
	Delivered(outcome string)
	// RenderFailed is one reminder that could not be rendered: a defect of ours, not the recipient's.
	RenderFailed()
	// QuotaDeferred is n due reminders put off to the next day by the daily quota.
	QuotaDeferred(n int)
}

// TransportErrorObserver is an Observer that is also told each transport failure that is not the
// recipient's, by SendError.Kind (KindConfig, KindThrottled, KindDefect). metrics.Metrics satisfies it.
type TransportErrorObserver interface {
	TransportError(kind string)
}

// Deliverer sends what is due in the outbox.
type Deliverer struct {
	Outbox      Outbox
	Transport   Transport
	Renderer    *Renderer
	Now         func() time.Time
	BatchSize   int
	MaxAttempts int
	// Lease is how long a claim holds (mail.lease_seconds): a batch renews the lease of its rows still
	// waiting every third of it. Zero: no renewal.
	Lease time.Duration
	// GiveUpAfter: a temporary failure ends failed only once MaxAttempts is reached and the first
	// attempt is older than this (mail.give_up_after_hours); zero: at MaxAttempts.
	GiveUpAfter time.Duration
	BackoffBase time.Duration
	BackoffCap  time.Duration  // default 6 h
	Limiter     *rate.Limiter  // nil: unlimited
	Jitter      func() float64 // in [0, 1); nil: no jitter
	Logger      *slog.Logger
	// Observer, when set, is told every send and every outcome (metrics).
	Observer Observer
	// Digest sends the reminders due to one recipient on one day as one message (mail.digest); the
	// Outbox must then claim such groups whole.
	Digest bool
	// Quota, when set, caps how many messages go out per day and per minute.
	Quota *Quota
	// Sleep waits d or until ctx ends, while the per-minute quota is spent (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error

	// The time before which nothing is sent, after a transport stopped a batch (misconfigured,
	// throttled), and how many such stops came in a row (they back off like attempts).
	holdMu     sync.Mutex
	holdUntil  time.Time
	holdStreak int
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
// flight, marks it, releases the rest of the batch and returns. With a quota it claims no more than
// the quota allows, waits while the minute's allowance is spent, and puts the rest of the day's due
// messages off to the next day once the daily allowance is.
func (d *Deliverer) Deliver(ctx context.Context) (Stats, error) {
	var st Stats
	batch := max(d.BatchSize, 1)
	for ctx.Err() == nil {
		if until, held := d.heldUntil(); held {
			d.Logger.Debug("mail transport on hold: nothing is sent before", "until", until.UTC().Format(time.RFC3339))
			return st, nil
		}
		limit, unlock, stop, err := d.allowance(ctx, batch, &st)
		if err != nil || stop {
			if err == nil {
				err = ctx.Err() // nil unless stopped while waiting for the minute's allowance
			}
			return st, err
		}
		if limit == 0 {
			continue // waited for the minute's allowance
		}
		now := d.Now()
		today := renewal.DateOf(now, d.Renderer.Location)
		rems, cancelled, expired, err := d.Outbox.Claim(ctx, now, today, limit, d.Renderer.Rules.ExpiryOn(today))
		unlock() // the claimed rows now count as in flight for other deliverers
		if err != nil {
			return st, err
		}
		d.Renderer.Rules.CompleteAll(rems)
		st.Cancelled += cancelled
		st.Expired += expired
		if expired > 0 {
			d.Logger.Info("reminders expired: their grace period ended before they could be sent", "expired", expired)
		}
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
		if len(rems)+cancelled < limit {
			return st, nil
		}
	}
	return st, ctx.Err()
}

// allowance returns how many rows the next claim may take, holding the quota lock (unlock releases
// it once the claim is made). limit 0 means it waited for the minute's allowance and the caller
// should ask again; stop means the day's allowance is spent and the due rows were put off.
func (d *Deliverer) allowance(ctx context.Context, batch int, st *Stats) (limit int, unlock func(), stop bool, err error) {
	q := d.Quota
	if !q.active() {
		return batch, func() {}, false, nil
	}
	unlock, err = q.Store.LockQuota(ctx)
	if err != nil {
		return 0, nil, false, fmt.Errorf("quota: %w", err)
	}
	now := d.Now()
	limit = batch
	if q.PerDay > 0 {
		loc := q.Location
		if loc == nil {
			loc = time.UTC
		}
		local := now.In(loc)
		dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
		used, err := q.Store.CountSentSince(ctx, dayStart, now)
		if err != nil {
			unlock()
			return 0, nil, false, fmt.Errorf("quota: %w", err)
		}
		if used >= q.PerDay {
			next := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc)
			n, err := q.Store.DeferDue(ctx, now, next, fmt.Sprintf("daily quota of %d reached (mail.max_per_day)", q.PerDay))
			unlock()
			if err != nil {
				return 0, nil, false, fmt.Errorf("quota: %w", err)
			}
			if n > 0 {
				st.Deferred += n
				if d.Observer != nil {
					d.Observer.QuotaDeferred(n)
				}
				d.Logger.Warn("daily quota reached; due messages wait for the next day", "max_per_day", q.PerDay,
					"deferred", n, "next_attempt_at", next.UTC().Format(time.RFC3339))
			}
			return 0, nil, true, nil
		}
		limit = min(limit, q.PerDay-used)
	}
	if q.PerMinute > 0 {
		used, err := q.Store.CountSentSince(ctx, now.Add(-time.Minute), now)
		if err != nil {
			unlock()
			return 0, nil, false, fmt.Errorf("quota: %w", err)
		}
		if used >= q.PerMinute {
			unlock()
			wait := max(time.Minute/time.Duration(q.PerMinute), time.Second)
			if err := d.sleep(ctx, wait); err != nil {
				return 0, nil, true, nil // stopped while waiting: nothing claimed, nothing to release
			}
			return 0, nil, false, nil
		}
		limit = min(limit, q.PerMinute-used)
	}
	return limit, unlock, false, nil
}

func (d *Deliverer) sleep(ctx context.Context, wait time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rendered is one message made ready to send by the rendering stage: one reminder, or with Digest
// the reminders due to one recipient on one day.
type rendered struct {
	rems    []renewal.Reminder // sent as one message
	expired []renewal.Reminder // not sent: their grace period ended before they could be (R13)
	env     *Envelope
	subject string
	err     error
	on      renewal.Date // the day it was worded for
}

// units splits a claimed batch into messages: one per reminder, or with Digest one per recipient
// and due date (the store claims such groups whole), in the order of the batch.
func (d *Deliverer) units(rems []renewal.Reminder) [][]renewal.Reminder {
	if !d.Digest {
		out := make([][]renewal.Reminder, len(rems))
		for i := range rems {
			out[i] = rems[i : i+1]
		}
		return out
	}
	type key struct {
		rcpt string
		due  renewal.Date
	}
	index := map[key]int{}
	var out [][]renewal.Reminder
	for _, r := range rems {
		k := key{strings.ToLower(r.Recipient), r.Milestone.DueOn}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// render words a message for today; reminders whose grace period has ended are set aside as expired.
func (d *Deliverer) render(unit []renewal.Reminder) rendered {
	now := d.Now()
	on := renewal.DateOf(now, d.Renderer.Location)
	out := rendered{on: on}
	for _, r := range unit {
		if r.Milestone.Ended(on) {
			// Claimed before midnight, reached after the last day of grace: too late to be true.
			out.expired = append(out.expired, r)
			continue
		}
		out.rems = append(out.rems, r)
	}
	switch len(out.rems) {
	case 0:
	case 1:
		out.env, out.subject, out.err = d.Renderer.Envelope(out.rems[0], now)
	default:
		ids := make([]int64, len(out.rems))
		for i, r := range out.rems {
			ids[i] = r.OutboxID
		}
		id := DigestMessageID(out.rems[0].Recipient, out.rems[0].Milestone.DueOn, ids, d.Renderer.messageIDDomain())
		out.env, out.subject, out.err = d.Renderer.DigestEnvelope(out.rems, id, now)
	}
	return out
}

// sendBatch renders the batch in one goroutine while it sends and marks in this one, so both cores
// work: rendering costs about as much as sending. Whatever way it returns, what it claimed and did not
// attempt goes back to pending.
func (d *Deliverer) sendBatch(ctx context.Context, rems []renewal.Reminder, st *Stats) (err error) {
	// Marks must land even when ctx is cancelled mid-batch.
	markCtx := context.WithoutCancel(ctx)
	units := d.units(rems)
	sess, oerr := d.Transport.Open(ctx)
	if oerr != nil {
		se := classify(oerr)
		d.Logger.Warn("mail transport unavailable", "err", se.Reply)
		for i, u := range units {
			if err := d.failUnit(markCtx, u, se, st); err != nil {
				return err
			}
			if se.StopBatch {
				return d.holdRest(markCtx, flatten(units[i+1:]), se, st)
			}
		}
		return nil
	}
	defer sess.Close()

	done := 0                   // units attempted or given up on
	dropped := map[int64]bool{} // rows another delivery holds now: not ours to send or release
	defer func() {
		// Stopped, or an error: give back what was claimed but not attempted.
		for _, u := range units[min(done, len(units)):] {
			var mine []renewal.Reminder
			for _, r := range u {
				if !dropped[r.OutboxID] {
					mine = append(mine, r)
				}
			}
			if rerr := d.release(markCtx, mine, st); rerr != nil && err == nil {
				err = rerr
			}
		}
	}()
	// renew extends the claim on the rows not yet sent; rows whose claim is gone (another delivery
	// took them after a lapse) are dropped from the batch, never sent by this one.
	renewed := d.Now()
	renew := func() error {
		var ids []int64
		for _, r := range keep(flatten(units[min(done, len(units)):]), dropped) {
			ids = append(ids, r.OutboxID)
		}
		lost, err := d.Outbox.Renew(markCtx, ids, d.Now())
		if err != nil {
			return err
		}
		for _, id := range lost {
			dropped[id] = true
		}
		if len(lost) > 0 {
			d.Logger.Warn("claims lost to another delivery while this batch ran: those rows are left to it", "rows", len(lost))
		}
		renewed = d.Now()
		return nil
	}

	stop := make(chan struct{})
	ready := make(chan rendered, 16)
	go func() {
		defer close(ready)
		for _, u := range units {
			select {
			case ready <- d.render(u):
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)

	for item := range ready {
		if d.Lease > 0 && d.Now().Sub(renewed) >= d.Lease/3 && ctx.Err() == nil {
			// A slow batch (rate limits, a slow server) keeps its claim on what it has not sent yet.
			if err := renew(); err != nil {
				return err
			}
		}
		if ctx.Err() == nil && item.on != renewal.DateOf(d.Now(), d.Renderer.Location) {
			item = d.render(units[done]) // rendered before midnight, sent after: word it for the send day (R12)
		}
		if ctx.Err() != nil {
			break
		}
		if item.rems = keep(item.rems, dropped); len(item.rems) == 0 && len(keep(item.expired, dropped)) == 0 {
			done++
			continue
		}
		for _, r := range keep(item.expired, dropped) {
			if err := markErr(d.Outbox.MarkExpired(markCtx, r.OutboxID, d.Now(), renewal.ExpiredReason(r.Milestone.GraceEnds))); err != nil {
				return err
			}
			st.Expired++
		}
		if len(item.rems) == 0 {
			done++
			continue
		}
		if d.Limiter != nil {
			_ = d.Limiter.Wait(ctx)
		}
		if ctx.Err() != nil {
			// Stopped while waiting: the expired ones are marked, the rest goes back.
			if err := d.release(markCtx, item.rems, st); err != nil {
				return err
			}
			done++
			break
		}
		done++
		if item.err != nil {
			// Our defect, not the recipient's: said loudly, and retried with backoff (a fixed template
			// or catalog picks it up) rather than failed at once like a 550.
			st.RenderErrors++
			if d.Observer != nil {
				d.Observer.RenderFailed()
			}
			d.Logger.Error("cannot render reminder: a defect of renewald or its templates, not of the recipient",
				"outbox_id", item.rems[0].OutboxID, "reminders", len(item.rems), "attempt", item.rems[0].Attempts, "err", item.err)
			se := &SendError{Temporary: true, Reply: "render: " + item.err.Error(), Err: item.err}
			if err := d.failUnit(markCtx, item.rems, se, st); err != nil {
				return err
			}
			continue
		}
		start := d.Now()
		err := sess.Send(ctx, item.rems[0].OutboxID, item.env)
		elapsed := d.Now().Sub(start)
		if err != nil {
			d.observeSend("error", elapsed)
			se := classify(err)
			if err := d.failUnit(markCtx, item.rems, se, st); err != nil {
				return err
			}
			if se.StopBatch {
				rest := flatten(units[done:])
				done = len(units) // held, not released
				return d.holdRest(markCtx, keep(rest, dropped), se, st)
			}
			continue
		}
		d.observeSend("sent", elapsed)
		d.sentOK()
		if err := d.markSent(ctx, markCtx, item, renew); err != nil {
			return err
		}
		for range item.rems {
			st.Sent++
			d.observeOutcome(OutcomeSent)
		}
		d.Logger.Debug("sent", "outbox_id", item.rems[0].OutboxID, "reminders", len(item.rems), "message_id", item.env.MessageID)
	}
	return nil
}

// flatten lists the rows of units.
func flatten(units [][]renewal.Reminder) []renewal.Reminder {
	var out []renewal.Reminder
	for _, u := range units {
		out = append(out, u...)
	}
	return out
}

// keep returns the reminders not in drop.
func keep(rems []renewal.Reminder, drop map[int64]bool) []renewal.Reminder {
	if len(drop) == 0 {
		return rems
	}
	var out []renewal.Reminder
	for _, r := range rems {
		if !drop[r.OutboxID] {
			out = append(out, r)
		}
	}
	return out
}

// markSent records a sent message: one row, or every row of a digest (with the digest's Message-ID).
// The server has accepted it, so the mark must not be lost (a lost mark sends it again once the lease
// runs out): it is retried, with its own growing wait, until it lands or stop ends (the process is
// told to stop, then it gets a few more tries), as when a long import holds the database; meanwhile
// renew keeps the claim on the rest of the batch.
func (d *Deliverer) markSent(stop, ctx context.Context, item rendered, renew func() error) error {
	mark := func() error {
		if len(item.rems) == 1 {
			return markErr(d.Outbox.MarkSent(ctx, item.rems[0].OutboxID, d.Now(), item.subject))
		}
		ids := make([]int64, len(item.rems))
		for i, r := range item.rems {
			ids[i] = r.OutboxID
		}
		return markErr(d.Outbox.MarkDigestSent(ctx, ids, d.Now(), item.subject, item.env.MessageID))
	}
	wait := 250 * time.Millisecond
	graceTries := 3 // after a stop
	for attempt := 1; ; attempt++ {
		err := mark()
		if err == nil {
			if attempt > 1 {
				d.Logger.Info("mark of a sent message landed", "outbox_id", item.rems[0].OutboxID, "attempts", attempt)
			}
			return nil
		}
		if stop.Err() != nil {
			if graceTries--; graceTries < 0 {
				return fmt.Errorf("stopped before the mark of sent outbox row %d landed: %w", item.rems[0].OutboxID, err)
			}
		}
		d.Logger.Warn("cannot mark a sent message yet; retrying until it lands", "outbox_id", item.rems[0].OutboxID,
			"attempt", attempt, "retry_in", wait, "err", err)
		if stop.Err() != nil {
			time.Sleep(wait) // the process is stopping: a short, bounded grace for the mark
		} else if d.sleep(stop, wait) != nil {
			continue
		}
		if d.Lease > 0 {
			if err := renew(); err != nil {
				d.Logger.Warn("cannot renew the batch's claims either", "err", err)
			}
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// release gives claimed rows back to pending.
func (d *Deliverer) release(ctx context.Context, rems []renewal.Reminder, st *Stats) error {
	for _, r := range rems {
		if err := markErr(d.Outbox.Release(ctx, r.OutboxID, d.Now())); err != nil {
			return err
		}
		st.Released++
	}
	return nil
}

func (d *Deliverer) observeSend(outcome string, dur time.Duration) {
	if d.Observer != nil {
		d.Observer.SMTPSend(outcome, dur)
	}
}

func (d *Deliverer) observeOutcome(outcome string) {
	if d.Observer != nil {
		d.Observer.Delivered(outcome)
	}
}

// failUnit marks a failed attempt of one message — a reminder, or every row of a digest, decided
// once for the message so its rows stay together: back to pending with backoff when temporary and
// attempts remain, failed otherwise. A failure that stops the batch puts the deliverer on hold; one
// that says nothing about the message (NoAttempt) gives its attempt back and is logged as an error.
func (d *Deliverer) failUnit(ctx context.Context, rems []renewal.Reminder, se *SendError, st *Stats) error {
	now := d.Now()
	r := rems[0] // the message's attempts and first attempt: the rows of a digest are claimed together
	if se.Kind != "" {
		if o, ok := d.Observer.(TransportErrorObserver); ok {
			o.TransportError(se.Kind)
		}
	}
	if se.Kind == KindDefect {
		st.RenderErrors++
		if d.Observer != nil {
			d.Observer.RenderFailed()
		}
		d.Logger.Error("mail service refused a request of ours: a defect of renewald, not of the recipient",
			"outbox_id", r.OutboxID, "reminders", len(rems), "attempt", r.Attempts, "err", se.Reply)
	}
	var until time.Time
	if se.StopBatch || se.NoAttempt {
		until = d.setHold(now, se, r.Attempts)
	}
	each := func(outcome string, mark func(id int64) error) error {
		for _, x := range rems {
			if err := markErr(mark(x.OutboxID)); err != nil {
				return err
			}
			d.observeOutcome(outcome)
		}
		return nil
	}
	if se.NoAttempt {
		d.Logger.Error("mail transport refused: its configuration is wrong, not the recipient; the batch stays pending, no attempt counted",
			"outbox_id", r.OutboxID, "reminders", len(rems), "next_attempt_at", until.UTC().Format(time.RFC3339), "err", se.Reply)
		st.Retried += len(rems)
		return each(OutcomeRetried, func(id int64) error { return d.Outbox.Defer(ctx, id, now, until, se.Reply) })
	}
	// A temporary failure gives up only when the attempts are spent and the first one is older than
	// GiveUpAfter: a relay down over a weekend must not lose reminders.
	if se.Temporary && (r.Attempts < d.MaxAttempts || (!r.FirstAttemptAt.IsZero() && now.Sub(r.FirstAttemptAt) < d.GiveUpAfter)) {
		next := now.Add(d.Backoff(r.Attempts))
		if until.After(next) {
			next = until
		}
		if se.RetryAfter.After(next) {
			next = se.RetryAfter
		}
		d.Logger.Info("temporary delivery failure; will retry", "outbox_id", r.OutboxID, "reminders", len(rems), "attempt", r.Attempts,
			"next_attempt_at", next.UTC().Format(time.RFC3339), "err", se.Reply)
		st.Retried += len(rems)
		return each(OutcomeRetried, func(id int64) error { return d.Outbox.MarkRetry(ctx, id, now, next, se.Reply) })
	}
	reason := se.Reply
	if se.Temporary {
		reason = fmt.Sprintf("gave up after %d attempts over %s: %s", r.Attempts, now.Sub(r.FirstAttemptAt).Round(time.Minute), se.Reply)
	}
	if se.MailboxUnknown {
		if err := d.Outbox.Suppress(ctx, r.Recipient, se.Reply, now); err != nil {
			return fmt.Errorf("suppress %s: %w", r.Recipient, err)
		}
		d.Logger.Warn("the server says the mailbox does not exist: address suppressed", "outbox_id", r.OutboxID, "err", se.Reply)
	}
	d.Logger.Warn("delivery failed", "outbox_id", r.OutboxID, "reminders", len(rems), "attempt", r.Attempts, "err", reason)
	st.Failed += len(rems)
	return each(OutcomeFailed, func(id int64) error { return d.Outbox.MarkFailed(ctx, id, now, reason) })
}

// holdRest gives the unsent rest of a stopped batch back to pending until the hold ends, with their
// attempts as they were before the claim.
func (d *Deliverer) holdRest(ctx context.Context, rest []renewal.Reminder, se *SendError, st *Stats) error {
	until, _ := d.heldUntil()
	now := d.Now()
	for _, r := range rest {
		if err := markErr(d.Outbox.Defer(ctx, r.OutboxID, now, until, "not tried: "+se.Reply)); err != nil {
			return err
		}
		st.Released++
	}
	if len(rest) > 0 {
		d.Logger.Warn("mail transport stopped the batch; the rest waits, no attempt counted", "released", len(rest),
			"next_attempt_at", until.UTC().Format(time.RFC3339))
	}
	return nil
}

// setHold puts the deliverer on hold after a failure that stops the batch: until the service's
// Retry-After, and at least the backoff of the attempt, or of the stops in a row when more.
func (d *Deliverer) setHold(now time.Time, se *SendError, attempts int) time.Time {
	d.holdMu.Lock()
	defer d.holdMu.Unlock()
	d.holdStreak++
	until := now.Add(d.Backoff(max(attempts, d.holdStreak)))
	if se.RetryAfter.After(until) {
		until = se.RetryAfter
	}
	d.holdUntil = until
	return until
}

// heldUntil returns the end of the hold, and whether it is still on.
func (d *Deliverer) heldUntil() (time.Time, bool) {
	d.holdMu.Lock()
	until := d.holdUntil
	d.holdMu.Unlock()
	return until, d.Now().Before(until)
}

// sentOK ends a run of stops: the next one backs off from the start.
func (d *Deliverer) sentOK() {
	d.holdMu.Lock()
	d.holdStreak = 0
	d.holdMu.Unlock()
}

// ErrLeaseLost is what an Outbox mark returns (wrapped or not) for a row no longer under its claim:
// the lease expired and another delivery took the row, or an operator acted on it. It is
// lease.ErrLost, the value store.ErrLeaseLost also names; check it with errors.Is.
var ErrLeaseLost = lease.ErrLost

// markErr passes mark errors on, except a lost claim: the row's lease expired and another delivery
// took it over, which at-least-once delivery allows.
func markErr(err error) error {
	if err == nil || errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return fmt.Errorf("mark: %w", err)
}
