-- The one writer that inserts outbox rows, the enqueue (store.enqueue), appends what it inserted to
-- outbox_count_deltas once per transaction (store.addCounts), and a copy appends the counts of the
-- rows it copied; the statement trigger of 0008 fired once per inserted row, since the enqueue
-- inserts row by row. Deletes and status changes stay counted by the triggers.
DROP TRIGGER outbox_counts_insert ON outbox;
DROP FUNCTION outbox_counts_insert();
