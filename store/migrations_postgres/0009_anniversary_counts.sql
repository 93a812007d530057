-- Issue 20 (the status pages at 1,000,000 enrollments).
-- The scan's and the timeline's walk of one anniversary month-day reads every column it needs from
-- the index (partner, specialization, attainment), not one table row per enrollment.
DROP INDEX enrollments_due;
CREATE INDEX enrollments_due ON enrollments (anniversary_md, id, partner_id, specialization, attained_on) WHERE status = 'active';
-- The active enrollments per attainment month-day and year: the overview's reminders due per day
-- come from these few thousand rows, not from counting the enrollments index (half a million entries
-- for 30 days at 1,000,000 enrollments). Every write of enrollments (an import, a copy) rebuilds it
-- in its own transaction (store.refreshAnniversaryCounts).
CREATE TABLE anniversary_counts (
    anniversary_md TEXT NOT NULL,
    attained_year  INTEGER NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (anniversary_md, attained_year)
);
INSERT INTO anniversary_counts (anniversary_md, attained_year, n)
    SELECT anniversary_md, CAST(substr(attained_on, 1, 4) AS INTEGER), count(*) FROM enrollments
    WHERE status = 'active' GROUP BY anniversary_md, substr(attained_on, 1, 4);
