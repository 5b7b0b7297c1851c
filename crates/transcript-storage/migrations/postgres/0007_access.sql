-- Per-meeting grants, invitations and the organisation's access policy (issue 5).
--
-- A grant gives one user Read, Write or Admin on one meeting on top of what their role gives;
-- it is all a Guest ever has. An invitation stores only the SHA-256 of its token and the blind
-- index of the invited address (as users.email_key): whoever accepts it must give the address.
-- A password reset an Admin issues is the same kind of row, naming the user it is for.
-- Policy lists are one item per line: invitation email domains (empty = any) and the CIDR
-- ranges sign-in is allowed from (empty = anywhere).

ALTER TABLE organisations ADD COLUMN invite_domains text NOT NULL DEFAULT '';
ALTER TABLE organisations ADD COLUMN login_networks text NOT NULL DEFAULT '';

CREATE TABLE meeting_grants (
    org_id        uuid   NOT NULL,
    meeting_id    uuid   NOT NULL,
    user_id       uuid   NOT NULL,
    permission    text   NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    granted_at_ms bigint NOT NULL,
    PRIMARY KEY (meeting_id, user_id),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

CREATE INDEX meeting_grants_by_user ON meeting_grants (org_id, user_id);

CREATE TABLE invites (
    id             uuid   NOT NULL PRIMARY KEY,
    hash           bytea  NOT NULL UNIQUE CHECK (length(hash) = 32),
    org_id         uuid   NOT NULL REFERENCES organisations (id),
    email_key      text   NOT NULL, -- blind index of the invited address
    role           text   NOT NULL,
    created_by     uuid,
    created_at_ms  bigint NOT NULL,
    expires_at_ms  bigint NOT NULL,
    accepted_at_ms bigint,
    -- Set for a password reset of this (existing) user rather than an invitation to join.
    user_id        uuid,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

CREATE INDEX invites_by_org ON invites (org_id, created_at_ms);

ALTER TABLE meeting_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE meeting_grants FORCE ROW LEVEL SECURITY;
ALTER TABLE invites        ENABLE ROW LEVEL SECURITY;
ALTER TABLE invites        FORCE ROW LEVEL SECURITY;
CREATE POLICY org_scope ON meeting_grants USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
CREATE POLICY org_scope ON invites        USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
-- Accepting an invitation establishes the scope: the lookup may read one by its hash.
CREATE POLICY invite_lookup ON invites FOR SELECT USING (nexus_scribe_lookup());
