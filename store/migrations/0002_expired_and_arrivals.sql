-- R13: an outbox row whose grace period ended before it could be sent ends 'expired'. SQLite cannot
-- change a CHECK constraint in place, so the outbox table is rebuilt with the new status.
CREATE TABLE outbox_new (
    id                INTEGER PRIMARY KEY,
    enrollment_id     INTEGER NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    anniversary_on    TEXT NOT NULL,
    renewal_year      INTEGER NOT NULL,
    manual_validation TEXT NOT NULL,
    offset_days       INTEGER NOT NULL,
    due_on            TEXT NOT NULL,
    recipient         TEXT NOT NULL DEFAULT '', -- '' for no_recipients rows (NULLs would not be unique)
    status            TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped',
                                                      'superseded', 'cancelled', 'no_recipients', 'expired')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    lease_until       TEXT,
    last_error        TEXT,
    subject           TEXT,
    message_id        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    sent_at           TEXT,
    UNIQUE (enrollment_id, anniversary_on, recipient, offset_days)
) STRICT;
INSERT INTO outbox_new SELECT id, enrollment_id, anniversary_on, renewal_year, manual_validation, offset_days,
    due_on, recipient, status, attempts, next_attempt_at, lease_until, last_error, subject, message_id,
    created_at, updated_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_ready ON outbox (status, next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_due ON outbox (due_on);

-- R14: an enrollment that has not yet been through a daily scan is 'arriving': the next tick queues
-- the latest reminder of its current anniversary that has already fallen due. Enrollments of a
-- database that has been scanned before this migration have been seen; those of a database never
-- scanned arrive with the first tick.
ALTER TABLE enrollments ADD COLUMN arriving INTEGER NOT NULL DEFAULT 1 CHECK (arriving IN (0, 1));
UPDATE enrollments SET arriving = 0 WHERE EXISTS (SELECT 1 FROM scan_state);
CREATE INDEX enrollments_arriving ON enrollments (id) WHERE arriving = 1;
