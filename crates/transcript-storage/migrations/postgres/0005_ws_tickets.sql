-- Single-use WebSocket tickets (PROTOCOL.md §2) live in the store, so a ticket issued by one
-- server opens the transcript socket on any other (several servers behind a load balancer).
-- Only the SHA-256 of a ticket is kept; redeeming deletes the row, so each works once anywhere.

CREATE TABLE ws_tickets (
    hash          bytea  NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    org_id        uuid   NOT NULL,
    user_id       uuid   NOT NULL,
    meeting_id    uuid   NOT NULL,
    role          text   NOT NULL, -- the role at issue time; scribe-auth parses it fail-closed
    expires_at_ms bigint NOT NULL,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE
);

CREATE INDEX ws_tickets_by_user ON ws_tickets (user_id, expires_at_ms);
CREATE INDEX ws_tickets_by_expiry ON ws_tickets (expires_at_ms);

ALTER TABLE ws_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE ws_tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY org_scope ON ws_tickets USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
-- Redeeming a ticket establishes the scope: the lookup may find and delete one by its hash.
CREATE POLICY ticket_redeem_read ON ws_tickets FOR SELECT USING (nexus_scribe_lookup());
CREATE POLICY ticket_redeem ON ws_tickets FOR DELETE USING (nexus_scribe_lookup());
