-- A ticket remembers the session it was issued from, so a viewer that opened a socket with it is
-- closed when that session ends (sign-out, revocation), not only when the account is disabled.
-- Tickets live 30 s: older rows simply have no session and are checked by account instead.

ALTER TABLE ws_tickets ADD COLUMN session_id TEXT;
