-- Organisations, users, bots, meetings, streams and final segments.
--
-- Every organisation-owned table carries org_id, and children reference their parent by
-- (org_id, id), so a row can never point at another organisation's parent. Ids are
-- hyphenated lower-case UUID text; times are unix milliseconds (created_at_ms, ...) or audio
-- milliseconds within a stream (start_ms, end_ms, acked_audio_ms).
--
-- Columns marked "sensitive" hold plain text today and will hold `enc:v1:` envelopes once
-- field encryption lands (issue 4); they stay TEXT and are never used in a WHERE clause.

CREATE TABLE organisations (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES organisations (id),
    email         TEXT    NOT NULL, -- sensitive: as entered
    -- Lookup key for login across organisations: the trimmed, lower-cased address today; a
    -- keyed hash (blind index) of it once email is encrypted.
    email_key     TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL, -- PHC string (argon2id), never plain text
    role          TEXT    NOT NULL, -- interpreted by scribe-auth, not here
    created_at_ms INTEGER NOT NULL,
    UNIQUE (org_id, id)
) STRICT;

CREATE TABLE bots (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES organisations (id),
    name          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    UNIQUE (org_id, id)
) STRICT;

CREATE TABLE meetings (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES organisations (id),
    title         TEXT    NOT NULL, -- sensitive
    created_by    TEXT,
    created_at_ms INTEGER NOT NULL,
    -- The last seq handed out in this meeting (finals and partials share the counter).
    last_seq      INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
) STRICT;

CREATE INDEX meetings_by_org ON meetings (org_id, created_at_ms, id);

CREATE TABLE streams (
    id                TEXT    NOT NULL PRIMARY KEY,
    org_id            TEXT    NOT NULL,
    meeting_id        TEXT    NOT NULL,
    bot_id            TEXT,
    -- SHA-256 of the resume token; the token itself is never stored.
    resume_token_hash BLOB    NOT NULL UNIQUE,
    acked_audio_ms    INTEGER NOT NULL DEFAULT 0 CHECK (acked_audio_ms >= 0),
    opened_at_ms      INTEGER NOT NULL,
    closed_at_ms      INTEGER,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, bot_id) REFERENCES bots (org_id, id)
) STRICT;

CREATE INDEX streams_by_meeting ON streams (org_id, meeting_id);

CREATE TABLE segments (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL,
    meeting_id    TEXT    NOT NULL,
    stream_id     TEXT    NOT NULL,
    seq           INTEGER NOT NULL CHECK (seq > 0),
    start_ms      INTEGER NOT NULL CHECK (start_ms >= 0),
    end_ms        INTEGER NOT NULL CHECK (end_ms >= start_ms),
    text          TEXT    NOT NULL, -- sensitive
    words         TEXT    NOT NULL, -- sensitive: JSON array of {word, start_ms, end_ms, confidence}
    speaker       TEXT,             -- sensitive
    language      TEXT,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (org_id, meeting_id, seq),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, stream_id) REFERENCES streams (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX segments_by_stream ON segments (org_id, stream_id);
