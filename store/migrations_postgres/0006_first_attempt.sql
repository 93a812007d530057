-- A temporary failure gives up only when max_attempts is reached and the first attempt is older than
-- mail.give_up_after_hours: the outbox records when a row was first attempted.
ALTER TABLE outbox ADD COLUMN first_attempt_at TEXT;
UPDATE outbox SET first_attempt_at = updated_at WHERE attempts > 0;
