-- Suppression: an address the mail server reported as not existing is not mailed again; its rows end
-- 'suppressed' at claim time (see the SQLite migration). PostgreSQL changes the CHECK in place.
CREATE TABLE suppressions (
    address       TEXT PRIMARY KEY,
    reply         TEXT NOT NULL,
    suppressed_at TEXT NOT NULL
);
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped',
                      'superseded', 'cancelled', 'no_recipients', 'expired', 'suppressed'));
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL; -- the sending quotas count from it
