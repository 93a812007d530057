-- R13: an outbox row whose grace period ended before it could be sent ends 'expired'. PostgreSQL
-- changes the CHECK constraint in place (SQLite rebuilds the table).
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped',
                      'superseded', 'cancelled', 'no_recipients', 'expired'));

-- R14: an enrollment that has not yet been through a daily scan is 'arriving' (see the SQLite
-- migration). INTEGER 0/1 as on SQLite, so the queries are the same.
ALTER TABLE enrollments ADD COLUMN arriving INTEGER NOT NULL DEFAULT 1 CHECK (arriving IN (0, 1));
UPDATE enrollments SET arriving = 0 WHERE EXISTS (SELECT 1 FROM scan_state);
CREATE INDEX enrollments_arriving ON enrollments (id) WHERE arriving = 1;
