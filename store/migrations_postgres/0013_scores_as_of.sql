-- Issue 26: capability scores carry the day they describe (the JSON import's as_of; an entry without
-- one records the day of the import). Scores imported before this column existed have NULL: their
-- day is unknown, and a reminder counts them as old (renewal.scores_stale_days), so it does not call
-- a designation attained or at risk on them.
ALTER TABLE capability_scores ADD COLUMN as_of TEXT;
