-- Per-meeting grants, invitations and the organisation's access policy (issue 5).
--
-- A grant gives one user Read, Write or Admin on one meeting on top of what their role gives;
-- it is all a Guest ever has. An invitation stores only the SHA-256 of its token and the blind
-- index of the invited address (as users.email_key): whoever accepts it must give the address.
-- A password reset an Admin issues is the same kind of row, naming the user it is for.
-- Policy lists are one item per line: invitation email domains (empty = any) and the CIDR
-- ranges sign-in is allowed from (empty = anywhere).

ALTER TABLE organisations ADD COLUMN invite_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN login_networks TEXT NOT NULL DEFAULT '';

CREATE TABLE meeting_grants (
    org_id        TEXT    NOT NULL,
    meeting_id    TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    permission    TEXT    NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    granted_at_ms INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, user_id),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX meeting_grants_by_user ON meeting_grants (org_id, user_id);

CREATE TABLE invites (
    id             TEXT    NOT NULL PRIMARY KEY,
    hash           BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    org_id         TEXT    NOT NULL REFERENCES organisations (id),
    email_key      TEXT    NOT NULL, -- blind index of the invited address
    role           TEXT    NOT NULL,
    created_by     TEXT,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    accepted_at_ms INTEGER,
    -- Set for a password reset of this (existing) user rather than an invitation to join.
    user_id        TEXT,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX invites_by_org ON invites (org_id, created_at_ms);
