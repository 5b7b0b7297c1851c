-- Integration settings an administrator enters that must stay secret (an alert webhook's URL,
-- which often carries a token; later SSO client secrets): sealed with the organisation's data
-- key like transcript text, never returned by the API (it only says which are set).

CREATE TABLE integrations (
    org_id        uuid   NOT NULL REFERENCES organisations (id),
    name          text   NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value         text   NOT NULL, -- sensitive (sealed)
    updated_at_ms bigint NOT NULL,
    PRIMARY KEY (org_id, name)
);

ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY org_scope ON integrations USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
