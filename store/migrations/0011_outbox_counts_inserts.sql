-- The per-row insert trigger of 0008 cost the backfill a third of its rate (SQLite opens a statement
-- journal for every insert that fires a trigger). The one writer that inserts outbox rows, the
-- enqueue (store.enqueue), adds what it inserted to outbox_counts once per transaction instead
-- (store.addCounts); deletes and status changes stay counted by the triggers.
DROP TRIGGER outbox_counts_insert;
