-- Emails sealed like the other sensitive fields (AES-256-GCM under the organisation's data key)
-- and looked up by a keyed blind index: users.email_key becomes "bi1:" + HMAC-SHA256 of the
-- trimmed, lower-cased address under a key derived from the master key. The store rewrites the
-- existing rows when it applies this migration (no schema change is needed here).

-- Login's lookup opens the found user's email with its organisation's data key, so it may read
-- (only read) the wrapped data keys, which are useless without the master key.
CREATE POLICY auth_lookup ON org_keys FOR SELECT USING (nexus_scribe_lookup());
