-- Recorded renewal outcomes: an anniversary renewed (from Partner Center) gets no further reminders.
CREATE TABLE renewal_outcomes (
    enrollment_id  BIGINT NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    anniversary_on TEXT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('renewed')),
    renewed_on     TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (enrollment_id, anniversary_on)
);
