//! Streams (resumable bot connections) in the PostgreSQL store.

use deadpool_postgres::Client;
use scribe_core::{BotId, MeetingId, OrgId, OrgScope, StreamId};
use tokio_postgres::Row;

use super::sql::{
    id, is_unique_violation, opt_id, opt_uint, scoped, scoped_one, scoped_rows, scoped_touch,
    to_i64, uint, Params,
};
use crate::error::{StoreError, StoreResult};
use crate::model::{check_audio_ms, now_ms, NewStream, ResumeTokenHash, Stream};

const STREAM_COLUMNS: &str =
    "id, org_id, meeting_id, bot_id, acked_audio_ms, opened_at_ms, closed_at_ms";

fn stream_row(row: &Row) -> StoreResult<Stream> {
    Ok(Stream {
        id: id(row, 0, StreamId::from_uuid)?,
        org_id: id(row, 1, OrgId::from_uuid)?,
        meeting_id: id(row, 2, MeetingId::from_uuid)?,
        bot_id: opt_id(row, 3, BotId::from_uuid)?,
        acked_audio_ms: uint(row, 4)?,
        opened_at_ms: uint(row, 5)?,
        closed_at_ms: opt_uint(row, 6)?,
    })
}

pub(crate) async fn open_stream(
    client: &mut Client,
    scope: &OrgScope,
    new: NewStream,
) -> StoreResult<Stream> {
    let at = now_ms();
    let stream = Stream::opened(scope, &new, at);
    let tx = scoped(client, scope).await?;
    // The meeting must be the scope's (else no row is selected); a bot of another
    // organisation fails the (org_id, bot_id) foreign key and maps to NotFound.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO streams (id, org_id, meeting_id, bot_id, resume_token_hash, opened_at_ms)
             SELECT $1, org_id, id, $4, $5, $6 FROM meetings WHERE org_id = $2 AND id = $3",
        )
        .await?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &stream.id.as_uuid(),
                &stream.org_id.as_uuid(),
                &stream.meeting_id.as_uuid(),
                &stream.bot_id.map(|b| b.as_uuid()),
                &new.resume_token_hash.0.as_slice(),
                &at,
            ],
        )
        .await;
    match inserted {
        Ok(0) => Err(StoreError::NotFound),
        Ok(_) => {
            tx.commit().await?;
            Ok(stream)
        }
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::Conflict("resume token already in use"))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn get_stream(
    client: &mut Client,
    scope: &OrgScope,
    stream: StreamId,
) -> StoreResult<Stream> {
    let sql = format!("SELECT {STREAM_COLUMNS} FROM streams WHERE org_id = $1 AND id = $2");
    let params: &Params = &[&scope.org_id().as_uuid(), &stream.as_uuid()];
    scoped_one(client, scope, &sql, params, stream_row).await
}

pub(crate) async fn find_stream_by_token(
    client: &mut Client,
    scope: &OrgScope,
    hash: ResumeTokenHash,
) -> StoreResult<Option<Stream>> {
    let sql = format!(
        "SELECT {STREAM_COLUMNS} FROM streams WHERE org_id = $1 AND resume_token_hash = $2"
    );
    let params: &Params = &[&scope.org_id().as_uuid(), &hash.0.as_slice()];
    Ok(scoped_rows(client, scope, &sql, params, stream_row)
        .await?
        .into_iter()
        .next())
}

pub(crate) async fn ack_stream_audio(
    client: &mut Client,
    scope: &OrgScope,
    stream: StreamId,
    acked_audio_ms: u64,
) -> StoreResult<u64> {
    check_audio_ms(acked_audio_ms)?;
    let sql = "UPDATE streams SET acked_audio_ms = GREATEST(acked_audio_ms, $3)
               WHERE org_id = $1 AND id = $2 RETURNING acked_audio_ms";
    let acked = to_i64(acked_audio_ms)?;
    let params: &Params = &[&scope.org_id().as_uuid(), &stream.as_uuid(), &acked];
    scoped_one(client, scope, sql, params, |row| uint(row, 0)).await
}

pub(crate) async fn close_stream(
    client: &mut Client,
    scope: &OrgScope,
    stream: StreamId,
) -> StoreResult<()> {
    let sql = "UPDATE streams SET closed_at_ms = COALESCE(closed_at_ms, $3)
               WHERE org_id = $1 AND id = $2";
    let params: &Params = &[&scope.org_id().as_uuid(), &stream.as_uuid(), &now_ms()];
    scoped_touch(client, scope, sql, params).await
}
