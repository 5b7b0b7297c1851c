-- Encryption at rest: each organisation's data keys, wrapped by the key-encryption key derived
-- from the master key ("kek:v1:<kek id>:<base64url>"). The newest version seals new values;
-- older ones stay until `keys reencrypt` has rewritten everything under the newest.
--
-- When this migration is applied to a database written before encryption, the store seals the
-- existing titles and segment text, words and speakers in the same transaction.

CREATE TABLE org_keys (
    org_id        uuid    NOT NULL REFERENCES organisations (id),
    version       integer NOT NULL CHECK (version > 0),
    wrapped       text    NOT NULL,
    created_at_ms bigint  NOT NULL,
    PRIMARY KEY (org_id, version)
);

ALTER TABLE org_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY org_scope ON org_keys USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
