-- Issue 20 (the status pages): indexes so every page reads a bounded slice.
-- Outbox rows of one status in due order (the overview's rows that need an operator, the filtered
-- list, the per-status counts as index searches).
CREATE INDEX outbox_status_due ON outbox (status, due_on);
-- Active enrollments by anniversary month-day and attainment: counts of the reminders due per day and
-- the timeline's renewals of one anniversary date, without reading the table.
CREATE INDEX enrollments_md_attained ON enrollments (anniversary_md, attained_on) WHERE status = 'active';
