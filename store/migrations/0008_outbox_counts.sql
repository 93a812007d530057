-- Issue 20 (the status pages at 1,000,000 enrollments): the overview shows the outbox rows by
-- status. Counting them through outbox_status_due reads every index entry of the status (millions
-- of sent and superseded rows after a few years), so the counts are kept in outbox_counts by
-- triggers on every insert, delete (including the cascade from enrollments) and status change:
-- one row per status, read in one step. A later migration that rebuilds the outbox table must
-- create these triggers again (dropping a table drops its triggers).
CREATE TABLE outbox_counts (
    status TEXT PRIMARY KEY,
    n      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO outbox_counts (status, n) VALUES ('pending', 0), ('sending', 0), ('sent', 0), ('failed', 0),
    ('skipped', 0), ('superseded', 0), ('cancelled', 0), ('no_recipients', 0), ('expired', 0), ('suppressed', 0);
UPDATE outbox_counts SET n = (SELECT count(*) FROM outbox WHERE outbox.status = outbox_counts.status);
CREATE TRIGGER outbox_counts_insert AFTER INSERT ON outbox BEGIN
    UPDATE outbox_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER outbox_counts_delete AFTER DELETE ON outbox BEGIN
    UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER outbox_counts_update AFTER UPDATE OF status ON outbox WHEN OLD.status <> NEW.status BEGIN
    UPDATE outbox_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE outbox_counts SET n = n + 1 WHERE status = NEW.status;
END;
