-- Integration settings an administrator enters that must stay secret (an alert webhook's URL,
-- which often carries a token; later SSO client secrets): sealed with the organisation's data
-- key like transcript text, never returned by the API (it only says which are set).

CREATE TABLE integrations (
    org_id        TEXT    NOT NULL REFERENCES organisations (id),
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value         TEXT    NOT NULL, -- sensitive (sealed)
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, name)
) STRICT;
