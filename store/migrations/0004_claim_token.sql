-- A claim's token: a mark applies only to the claim that holds the row, so a delivery whose lease
-- ran out cannot mark a row that another delivery has claimed since.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
