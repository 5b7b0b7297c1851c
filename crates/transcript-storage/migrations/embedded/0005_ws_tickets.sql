-- Single-use WebSocket tickets (PROTOCOL.md §2) live in the store, so a ticket issued by one
-- server opens the transcript socket on any other (several servers behind a load balancer).
-- Only the SHA-256 of a ticket is kept; redeeming deletes the row, so each works once anywhere.

CREATE TABLE ws_tickets (
    hash          BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    org_id        TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    meeting_id    TEXT    NOT NULL,
    role          TEXT    NOT NULL, -- the role at issue time; scribe-auth parses it fail-closed
    expires_at_ms INTEGER NOT NULL,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX ws_tickets_by_user ON ws_tickets (user_id, expires_at_ms);
CREATE INDEX ws_tickets_by_expiry ON ws_tickets (expires_at_ms);
