-- The scan state remembers the zone it was recorded under and the instant of the tick that recorded
-- it, so a change of schedule.timezone westwards (the recorded date is then after today in the new
-- zone) is told apart from a clock that was wrong once (the recorded instant is after now).
ALTER TABLE scan_state ADD COLUMN zone TEXT;
ALTER TABLE scan_state ADD COLUMN scanned_at TEXT;
