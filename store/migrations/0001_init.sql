-- Partners, their users and roles, enrollments, capability scores, the outbox and scan state.
CREATE TABLE partners (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (partner_id, email)
) STRICT;

CREATE TABLE user_roles (
    partner_id TEXT NOT NULL,
    email      TEXT NOT NULL,
    role       TEXT NOT NULL, -- as imported
    role_key   TEXT NOT NULL, -- renewal.RoleKey(role): case, spacing and aliases folded
    PRIMARY KEY (partner_id, email, role_key),
    FOREIGN KEY (partner_id, email) REFERENCES users (partner_id, email) ON DELETE CASCADE
) STRICT;
CREATE INDEX user_roles_by_key ON user_roles (partner_id, role_key);

CREATE TABLE enrollments (
    id             INTEGER PRIMARY KEY,
    partner_id     TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    specialization TEXT NOT NULL, -- canonical catalog name
    attained_on    TEXT NOT NULL, -- YYYY-MM-DD
    anniversary_md TEXT NOT NULL, -- MM-DD of attained_on, the scan key
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
    UNIQUE (partner_id, specialization, attained_on)
) STRICT;
CREATE INDEX enrollments_due ON enrollments (anniversary_md, id) WHERE status = 'active';

CREATE TABLE capability_scores (
    partner_id  TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    designation TEXT NOT NULL, -- canonical designation name
    enterprise  TEXT,          -- JSON object metric -> points, NULL when not imported
    smb         TEXT,
    PRIMARY KEY (partner_id, designation)
) STRICT;

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY,
    enrollment_id     INTEGER NOT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    anniversary_on    TEXT NOT NULL,
    renewal_year      INTEGER NOT NULL,
    manual_validation TEXT NOT NULL,
    offset_days       INTEGER NOT NULL,
    due_on            TEXT NOT NULL,
    recipient         TEXT NOT NULL DEFAULT '', -- '' for no_recipients rows (NULLs would not be unique)
    status            TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped',
                                                      'superseded', 'cancelled', 'no_recipients')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    lease_until       TEXT,
    last_error        TEXT,
    subject           TEXT,
    message_id        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    sent_at           TEXT,
    UNIQUE (enrollment_id, anniversary_on, recipient, offset_days)
) STRICT;
CREATE INDEX outbox_ready ON outbox (status, next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_due ON outbox (due_on);

CREATE TABLE scan_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    last_scanned_on TEXT NOT NULL
) STRICT;
