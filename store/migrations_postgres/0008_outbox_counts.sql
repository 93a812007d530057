-- Issue 20 (the status pages at 1,000,000 enrollments): the overview shows the outbox rows by
-- status. Counting them reads every index entry of the status (millions of sent and superseded
-- rows after a few years), so the counts are kept as outbox_counts (one row per status) plus the
-- changes since they were last folded in (outbox_count_deltas), written by statement triggers on
-- every insert, delete (including the cascade from enrollments) and update of the outbox.
-- The changes are appended, never updated in place: hosts claiming and marking rows at the same
-- time do not wait on (or deadlock over) a shared counter row. After each daily scan they are
-- recounted into outbox_counts (store.RecountOutbox, since 0011); a reader adds those since.
CREATE TABLE outbox_counts (
    status TEXT PRIMARY KEY,
    n      BIGINT NOT NULL
);
INSERT INTO outbox_counts (status, n) VALUES ('pending', 0), ('sending', 0), ('sent', 0), ('failed', 0),
    ('skipped', 0), ('superseded', 0), ('cancelled', 0), ('no_recipients', 0), ('expired', 0), ('suppressed', 0);
UPDATE outbox_counts SET n = (SELECT count(*) FROM outbox WHERE outbox.status = outbox_counts.status);
CREATE TABLE outbox_count_deltas (
    status TEXT NOT NULL,
    d      BIGINT NOT NULL
);
CREATE FUNCTION outbox_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_count_deltas (status, d) SELECT status, count(*) FROM new_rows GROUP BY status;
    RETURN NULL;
END;
$$;
CREATE FUNCTION outbox_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_count_deltas (status, d) SELECT status, -count(*) FROM old_rows GROUP BY status;
    RETURN NULL;
END;
$$;
CREATE FUNCTION outbox_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_count_deltas (status, d)
    SELECT status, sum(d) FROM (
        SELECT o.status, -1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status
        UNION ALL
        SELECT n.status, 1 AS d FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status
    ) c GROUP BY status;
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_counts_insert AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_counts_insert();
CREATE TRIGGER outbox_counts_delete AFTER DELETE ON outbox REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_counts_delete();
CREATE TRIGGER outbox_counts_update AFTER UPDATE ON outbox REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_counts_update();
