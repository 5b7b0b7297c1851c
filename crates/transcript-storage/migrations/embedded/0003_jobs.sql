-- Background jobs: an uploaded recording transcribed into a meeting. Its finals go into the
-- job's own stream (bot-less), like a bot's; the job tracks state and progress. The uploaded
-- file lives in the data folder only until the job ends; nothing of its name is stored.

CREATE TABLE jobs (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL,
    meeting_id    TEXT    NOT NULL,
    stream_id     TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    format        TEXT    NOT NULL, -- the container sniffed from the bytes: wav, flac, mp3, ogg
    bytes         INTEGER NOT NULL CHECK (bytes > 0),
    duration_ms   INTEGER CHECK (duration_ms >= 0),
    progress_ms   INTEGER NOT NULL DEFAULT 0 CHECK (progress_ms >= 0),
    error         TEXT,             -- why it failed, for people; never transcript text
    created_by    TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, meeting_id) REFERENCES meetings (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, stream_id) REFERENCES streams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
) STRICT;

CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running');
