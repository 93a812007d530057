-- Suppression: an address the mail server reported as not existing (5.1.1 and kin at RCPT) is not
-- mailed again; its rows end 'suppressed' at claim time. SQLite cannot change the outbox status CHECK in
-- place, so the table is rebuilt with the new status.
CREATE TABLE suppressions (
    address       TEXT PRIMARY KEY,   -- as stored on users and outbox rows (lower case)
    reply         TEXT NOT NULL,      -- what the server said
    suppressed_at TEXT NOT NULL
) STRICT;

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
                                                      'superseded', 'cancelled', 'no_recipients', 'expired',
                                                      'suppressed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    lease_until       TEXT,
    last_error        TEXT,
    subject           TEXT,
    message_id        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    sent_at           TEXT,
    claim_token       TEXT,
    UNIQUE (enrollment_id, anniversary_on, recipient, offset_days)
) STRICT;
INSERT INTO outbox_new SELECT id, enrollment_id, anniversary_on, renewal_year, manual_validation, offset_days,
    due_on, recipient, status, attempts, next_attempt_at, lease_until, last_error, subject, message_id,
    created_at, updated_at, sent_at, claim_token FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_ready ON outbox (status, next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_due ON outbox (due_on);

CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL; -- the sending quotas count from it
