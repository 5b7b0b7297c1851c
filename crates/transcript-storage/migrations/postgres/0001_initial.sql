-- Organisations, users, bots, meetings, streams and final segments (PostgreSQL).
--
-- The same shape as the embedded schema: every organisation-owned table carries org_id and
-- children reference their parent by (org_id, id), so a row can never point at another
-- organisation's parent. Times are unix milliseconds (*_at_ms) or audio milliseconds within a
-- stream (start_ms, end_ms, acked_audio_ms). Columns marked "sensitive" are never used in a
-- WHERE clause, so they can hold `enc:v1:` envelopes.
--
-- Row-level security is the second wall behind the application's typed scopes: every
-- organisation-owned table only shows (and only accepts) rows of the organisation named by the
-- transaction-local setting `nexus_scribe.org_id`, which the backend sets from the OrgScope at
-- the start of every scoped transaction. FORCE makes the policies bind the table owner too (the
-- role the service connects as); only superusers and BYPASSRLS roles are exempt, so the service
-- must not connect as one. The two unscoped lookups that establish a scope (login by email, a
-- bot's organisation) set `nexus_scribe.lookup` and may read users and bots, nothing else.

CREATE TABLE organisations (
    id            uuid   NOT NULL PRIMARY KEY,
    name          text   NOT NULL,
    created_at_ms bigint NOT NULL
);

-- Names are unique without ASCII case (the embedded store's COLLATE NOCASE).
CREATE UNIQUE INDEX organisations_name_key ON organisations (lower(name));

CREATE TABLE users (
    id            uuid   NOT NULL PRIMARY KEY,
    org_id        uuid   NOT NULL REFERENCES organisations (id),
    email         text   NOT NULL, -- sensitive: as entered
    email_key     text   NOT NULL UNIQUE, -- login lookup key (trimmed, lower-cased)
    password_hash text   NOT NULL, -- PHC string (argon2id), never plain text
    role          text   NOT NULL,
    created_at_ms bigint NOT NULL,
    UNIQUE (org_id, id)
);

CREATE TABLE bots (
    id            uuid   NOT NULL PRIMARY KEY,
    org_id        uuid   NOT NULL REFERENCES organisations (id),
    name          text   NOT NULL,
    created_at_ms bigint NOT NULL,
    revoked_at_ms bigint,
    UNIQUE (org_id, id)
);

CREATE TABLE meetings (
    id            uuid   NOT NULL PRIMARY KEY,
    position      bigint GENERATED ALWAYS AS IDENTITY, -- insertion order, for listing
    org_id        uuid   NOT NULL REFERENCES organisations (id),
    title         text   NOT NULL, -- sensitive
    created_by    uuid,
    created_at_ms bigint NOT NULL,
    -- The last seq handed out in this meeting (finals and partials share the counter).
    last_seq      bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
);

CREATE INDEX meetings_by_org ON meetings (org_id, created_at_ms, position);

CREATE TABLE streams (
    id                uuid   NOT NULL PRIMARY KEY,
    org_id            uuid   NOT NULL,
    meeting_id        uuid   NOT NULL,
    bot_id            uuid,
    -- SHA-256 of the resume token; the token itself is never stored.
    resume_token_hash bytea  NOT NULL UNIQUE CHECK (length(resume_token_hash) = 32),
    acked_audio_ms    bigint NOT NULL DEFAULT 0 CHECK (acked_audio_ms >= 0),
    opened_at_ms      bigint NOT NULL,
    closed_at_ms      bigint,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, bot_id) REFERENCES bots (org_id, id)
);

CREATE INDEX streams_by_meeting ON streams (org_id, meeting_id);

CREATE TABLE segments (
    id            uuid   NOT NULL PRIMARY KEY,
    org_id        uuid   NOT NULL,
    meeting_id    uuid   NOT NULL,
    stream_id     uuid   NOT NULL,
    seq           bigint NOT NULL CHECK (seq > 0),
    start_ms      bigint NOT NULL CHECK (start_ms >= 0),
    end_ms        bigint NOT NULL CHECK (end_ms >= start_ms),
    text          text   NOT NULL, -- sensitive
    words         text   NOT NULL, -- sensitive: JSON array of {word, start_ms, end_ms, confidence}
    speaker       text,            -- sensitive
    language      text,
    created_at_ms bigint NOT NULL,
    UNIQUE (org_id, meeting_id, seq),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, stream_id) REFERENCES streams (org_id, id) ON DELETE CASCADE
);

CREATE INDEX segments_by_stream ON segments (org_id, stream_id);

-- The scope of the current transaction ('' or unset = none, which matches no row).
CREATE FUNCTION nexus_scribe_org() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('nexus_scribe.org_id', true), '')::uuid $$;

CREATE FUNCTION nexus_scribe_lookup() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce(current_setting('nexus_scribe.lookup', true), '') = 'on' $$;

ALTER TABLE users    ENABLE ROW LEVEL SECURITY;
ALTER TABLE users    FORCE ROW LEVEL SECURITY;
ALTER TABLE bots     ENABLE ROW LEVEL SECURITY;
ALTER TABLE bots     FORCE ROW LEVEL SECURITY;
ALTER TABLE meetings ENABLE ROW LEVEL SECURITY;
ALTER TABLE meetings FORCE ROW LEVEL SECURITY;
ALTER TABLE streams  ENABLE ROW LEVEL SECURITY;
ALTER TABLE streams  FORCE ROW LEVEL SECURITY;
ALTER TABLE segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE segments FORCE ROW LEVEL SECURITY;

CREATE POLICY org_scope ON users    USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON bots     USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON meetings USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON streams  USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON segments USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());

-- Login and bot authentication read across organisations, and only read.
CREATE POLICY auth_lookup ON users FOR SELECT USING (nexus_scribe_lookup());
CREATE POLICY auth_lookup ON bots  FOR SELECT USING (nexus_scribe_lookup());
