//! Streams (resumable bot connections) in the embedded store (blocking; run through the pool).

use rusqlite::{Connection, OptionalExtension, Row};
use scribe_core::{OrgScope, StreamId};

use super::sql::{id, is_unique_violation, now_ms, opt_id, opt_uint, to_i64, uint};
use crate::error::{StoreError, StoreResult};
use crate::model::{check_audio_ms, NewStream, ResumeTokenHash, Stream};

const STREAM_COLUMNS: &str =
    "id, org_id, meeting_id, bot_id, acked_audio_ms, opened_at_ms, closed_at_ms";

fn stream_row(row: &Row<'_>) -> rusqlite::Result<Stream> {
    Ok(Stream {
        id: id(row, 0)?,
        org_id: id(row, 1)?,
        meeting_id: id(row, 2)?,
        bot_id: opt_id(row, 3)?,
        acked_audio_ms: uint(row, 4)?,
        opened_at_ms: uint(row, 5)?,
        closed_at_ms: opt_uint(row, 6)?,
    })
}

pub(crate) fn open_stream(
    conn: &mut Connection,
    scope: OrgScope,
    new: NewStream,
) -> StoreResult<Stream> {
    let at = now_ms();
    let stream = Stream::opened(&scope, &new, at);
    // The meeting must be the scope's (else no row is selected); a bot of another
    // organisation fails the (org_id, bot_id) foreign key and maps to NotFound.
    let inserted = conn.execute(
        "INSERT INTO streams (id, org_id, meeting_id, bot_id, resume_token_hash, opened_at_ms)
         SELECT ?1, org_id, id, ?4, ?5, ?6 FROM meetings WHERE org_id = ?2 AND id = ?3",
        (
            stream.id.to_string(),
            stream.org_id.to_string(),
            stream.meeting_id.to_string(),
            stream.bot_id.map(|b| b.to_string()),
            new.resume_token_hash.0.as_slice(),
            at,
        ),
    );
    match inserted {
        Ok(0) => Err(StoreError::NotFound),
        Ok(_) => Ok(stream),
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::Conflict("resume token already in use"))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn get_stream(
    conn: &mut Connection,
    scope: OrgScope,
    stream: StreamId,
) -> StoreResult<Stream> {
    let sql = format!("SELECT {STREAM_COLUMNS} FROM streams WHERE org_id = ?1 AND id = ?2");
    conn.query_row(
        &sql,
        [scope.org_id().to_string(), stream.to_string()],
        stream_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub(crate) fn find_stream_by_token(
    conn: &mut Connection,
    scope: OrgScope,
    hash: ResumeTokenHash,
) -> StoreResult<Option<Stream>> {
    let sql = format!(
        "SELECT {STREAM_COLUMNS} FROM streams WHERE org_id = ?1 AND resume_token_hash = ?2"
    );
    Ok(conn
        .query_row(
            &sql,
            (scope.org_id().to_string(), hash.0.as_slice()),
            stream_row,
        )
        .optional()?)
}

pub(crate) fn ack_stream_audio(
    conn: &mut Connection,
    scope: OrgScope,
    stream: StreamId,
    acked_audio_ms: u64,
) -> StoreResult<u64> {
    check_audio_ms(acked_audio_ms)?;
    let stored: Option<i64> = conn
        .query_row(
            "UPDATE streams SET acked_audio_ms = MAX(acked_audio_ms, ?3)
             WHERE org_id = ?1 AND id = ?2 RETURNING acked_audio_ms",
            (
                scope.org_id().to_string(),
                stream.to_string(),
                to_i64(acked_audio_ms)?,
            ),
            |row| row.get(0),
        )
        .optional()?;
    let stored = stored.ok_or(StoreError::NotFound)?;
    u64::try_from(stored).map_err(|_| StoreError::Corrupt("negative acknowledged audio"))
}

pub(crate) fn close_stream(
    conn: &mut Connection,
    scope: OrgScope,
    stream: StreamId,
) -> StoreResult<()> {
    let found = conn.execute(
        "UPDATE streams SET closed_at_ms = COALESCE(closed_at_ms, ?3)
         WHERE org_id = ?1 AND id = ?2",
        (scope.org_id().to_string(), stream.to_string(), now_ms()),
    )?;
    if found == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
