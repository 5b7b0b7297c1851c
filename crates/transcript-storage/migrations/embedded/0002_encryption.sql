-- Encryption at rest: each organisation's data keys, wrapped by the key-encryption key derived
-- from the master key ("kek:v1:<kek id>:<base64url>"). The newest version seals new values;
-- older ones stay until `keys reencrypt` has rewritten everything under the newest.
--
-- When this migration is applied to a database written before encryption, the store seals the
-- existing titles and segment text, words and speakers in the same transaction.

CREATE TABLE org_keys (
    org_id        TEXT    NOT NULL REFERENCES organisations (id),
    version       INTEGER NOT NULL CHECK (version > 0),
    wrapped       TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, version)
) STRICT;
