-- Sign-in sessions, token revocation, account lockout and MFA (issue 5).
--
-- A session is one login; each use of its refresh token rotates it (the old token's hash is
-- kept, marked used, so presenting it again is recognised as reuse and ends the session).
-- Only SHA-256 hashes of tokens are stored. The denylist holds hashes of access tokens ended
-- early (logout, admin revocation) until they would have expired anyway.

ALTER TABLE organisations ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;

ALTER TABLE users ADD COLUMN disabled_at_ms  bigint;
-- Lockout state (scribe-auth's LoginAttempts): failures since the last lockout or success,
-- lockouts since the last success, and the end of the current lockout.
ALTER TABLE users ADD COLUMN failed_logins   integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0);
ALTER TABLE users ADD COLUMN lockouts        integer NOT NULL DEFAULT 0 CHECK (lockouts >= 0);
ALTER TABLE users ADD COLUMN locked_until_ms bigint;
ALTER TABLE users ADD COLUMN mfa_secret      text; -- sensitive: the TOTP secret (sealed)
ALTER TABLE users ADD COLUMN mfa_enabled     boolean NOT NULL DEFAULT false;
-- The last TOTP time step accepted: a code of that step or an earlier one is never accepted again.
ALTER TABLE users ADD COLUMN mfa_last_step   bigint;

CREATE TABLE sessions (
    id            uuid   NOT NULL PRIMARY KEY,
    org_id        uuid   NOT NULL,
    user_id       uuid   NOT NULL,
    created_at_ms bigint NOT NULL,
    expires_at_ms bigint NOT NULL,
    revoked_at_ms bigint,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

CREATE INDEX sessions_by_user ON sessions (org_id, user_id);

CREATE TABLE refresh_tokens (
    hash          bytea  NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    org_id        uuid   NOT NULL,
    session_id    uuid   NOT NULL,
    used_at_ms    bigint,
    FOREIGN KEY (org_id, session_id) REFERENCES sessions (org_id, id) ON DELETE CASCADE
);

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE revoked_tokens (
    hash          bytea  NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    org_id        uuid   NOT NULL REFERENCES organisations (id),
    expires_at_ms bigint NOT NULL
);

CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at_ms);

CREATE TABLE mfa_backup_codes (
    org_id     uuid   NOT NULL,
    user_id    uuid   NOT NULL,
    hash       bytea  NOT NULL CHECK (length(hash) = 32),
    used_at_ms bigint,
    PRIMARY KEY (user_id, hash),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

ALTER TABLE sessions         ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions         FORCE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens   ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens   FORCE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens   ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens   FORCE ROW LEVEL SECURITY;
ALTER TABLE mfa_backup_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_backup_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY org_scope ON sessions         USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON refresh_tokens   USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON revoked_tokens   USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON mfa_backup_codes USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
