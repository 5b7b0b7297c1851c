-- Background jobs: an uploaded recording transcribed into a meeting. Its finals go into the
-- job's own stream (bot-less), like a bot's; the job tracks state and progress. The uploaded
-- file lives in the data folder only until the job ends; nothing of its name is stored.

CREATE TABLE jobs (
    id            uuid   NOT NULL PRIMARY KEY,
    org_id        uuid   NOT NULL,
    meeting_id    uuid   NOT NULL,
    stream_id     uuid   NOT NULL,
    state         text   NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    format        text   NOT NULL, -- the container sniffed from the bytes: wav, flac, mp3, ogg
    bytes         bigint NOT NULL CHECK (bytes > 0),
    duration_ms   bigint CHECK (duration_ms >= 0),
    progress_ms   bigint NOT NULL DEFAULT 0 CHECK (progress_ms >= 0),
    error         text,            -- why it failed, for people; never transcript text
    created_by    uuid,
    created_at_ms bigint NOT NULL,
    updated_at_ms bigint NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, stream_id) REFERENCES streams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
);

CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running');

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY org_scope ON jobs USING (org_id = nexus_scribe_org()) WITH CHECK (org_id = nexus_scribe_org());
-- A starting server finds the jobs to resume across organisations (read only).
CREATE POLICY recovery_lookup ON jobs FOR SELECT USING (nexus_scribe_lookup());
