-- Issue 20 (the status pages at 1,000,000 enrollments): the renewals at risk (every designation of
-- the specialization scored, none attained: R9) are found among a million enrollments through this
-- list, not by judging the scores of every enrollment of the window. It is derived: the scanner
-- rebuilds it (scheduler.RefreshRisks) when an import changed the data (import_state.generation) or
-- the catalog changed (renewal_risks_state.catalog, the catalog's fingerprint); the pages use it
-- only while both match, and otherwise judge every enrollment as before.
CREATE TABLE renewal_risks (
    enrollment_id  INTEGER PRIMARY KEY REFERENCES enrollments (id) ON DELETE CASCADE,
    anniversary_md TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX renewal_risks_md ON renewal_risks (anniversary_md, enrollment_id);
CREATE TABLE renewal_risks_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    catalog    TEXT NOT NULL
) STRICT;
-- Every import that writes adds one (store.ImportStream).
CREATE TABLE import_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
) STRICT;
INSERT INTO import_state (id, generation) VALUES (1, 1);
