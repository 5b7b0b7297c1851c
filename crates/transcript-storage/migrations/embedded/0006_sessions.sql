-- Sign-in sessions, token revocation, account lockout and MFA (issue 5).
--
-- A session is one login; each use of its refresh token rotates it (the old token's hash is
-- kept, marked used, so presenting it again is recognised as reuse and ends the session).
-- Only SHA-256 hashes of tokens are stored. The denylist holds hashes of access tokens ended
-- early (logout, admin revocation) until they would have expired anyway.

ALTER TABLE organisations ADD COLUMN mfa_required INTEGER NOT NULL DEFAULT 0 CHECK (mfa_required IN (0, 1));

ALTER TABLE users ADD COLUMN disabled_at_ms  INTEGER;
-- Lockout state (scribe-auth's LoginAttempts): failures since the last lockout or success,
-- lockouts since the last success, and the end of the current lockout.
ALTER TABLE users ADD COLUMN failed_logins   INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0);
ALTER TABLE users ADD COLUMN lockouts        INTEGER NOT NULL DEFAULT 0 CHECK (lockouts >= 0);
ALTER TABLE users ADD COLUMN locked_until_ms INTEGER;
ALTER TABLE users ADD COLUMN mfa_secret      TEXT; -- sensitive: the TOTP secret (sealed)
ALTER TABLE users ADD COLUMN mfa_enabled     INTEGER NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1));
-- The last TOTP time step accepted: a code of that step or an earlier one is never accepted again.
ALTER TABLE users ADD COLUMN mfa_last_step   INTEGER;

CREATE TABLE sessions (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX sessions_by_user ON sessions (org_id, user_id);

CREATE TABLE refresh_tokens (
    hash          BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    org_id        TEXT    NOT NULL,
    session_id    TEXT    NOT NULL,
    used_at_ms    INTEGER,
    FOREIGN KEY (org_id, session_id) REFERENCES sessions (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE revoked_tokens (
    hash          BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    org_id        TEXT    NOT NULL REFERENCES organisations (id),
    expires_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at_ms);

CREATE TABLE mfa_backup_codes (
    org_id     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    used_at_ms INTEGER,
    PRIMARY KEY (user_id, hash),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
) STRICT;
