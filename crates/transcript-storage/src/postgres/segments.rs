//! Final segments and the per-meeting seq counter in the PostgreSQL store.
//!
//! The counter is `meetings.last_seq`. Appending a final bumps it with `UPDATE … RETURNING`
//! and inserts the row in the same transaction: the UPDATE holds the meeting's row lock until
//! commit, so appends to one meeting take turns (across connections and server processes) and
//! seqs are gapless and monotonic; appends to different meetings do not wait for each other.

use deadpool_postgres::Client;
use scribe_core::{MeetingId, OrgScope, SegmentId, StreamId};
use tokio_postgres::Row;
use uuid::Uuid;

use super::feed;
use super::sql::{
    id, is_unique_violation, scoped, scoped_one, scoped_snapshot, to_i64, uint, Params,
};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{now_ms, FinalRead, NewFinal};
use crate::sealing::{seal_final, SealedFinal};

const SEGMENT_COLUMNS: &str = "id, meeting_id, stream_id, seq, start_ms, end_ms, text, words, \
                               speaker, language, created_at_ms";

fn segment_row(row: &Row) -> StoreResult<SealedFinal> {
    Ok(SealedFinal {
        id: id(row, 0, SegmentId::from_uuid)?,
        meeting_id: id(row, 1, MeetingId::from_uuid)?,
        stream_id: id(row, 2, StreamId::from_uuid)?,
        seq: uint(row, 3)?,
        start_ms: uint(row, 4)?,
        end_ms: uint(row, 5)?,
        text: row.try_get(6)?,
        words: row.try_get(7)?,
        speaker: row.try_get(8)?,
        language: row.try_get(9)?,
        created_at_ms: uint(row, 10)?,
    })
}

/// What one attempt at appending found.
enum Appended {
    Seq(u64),
    /// Another transaction stored the same segment id first: read its seq on a new attempt.
    Raced,
}

pub(crate) async fn append_final(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    new: NewFinal,
    node: Uuid,
) -> StoreResult<u64> {
    new.validate()?;
    // A concurrent retry of the same final can lose the insert race once; the second attempt
    // finds the stored row.
    for _ in 0..2 {
        if let Appended::Seq(seq) = try_append(client, keys, scope, &new, node).await? {
            return Ok(seq);
        }
    }
    Err(StoreError::Conflict("segment id already used"))
}

async fn try_append(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    new: &NewFinal,
    node: Uuid,
) -> StoreResult<Appended> {
    let org = scope.org_id().as_uuid();
    let meeting = new.meeting_id.as_uuid();
    let stream = new.stream_id.as_uuid();
    let segment_id = new.segment_id.as_uuid();
    let tx = scoped(client, scope).await?;

    // A retry of a final that was already stored gets its seq back and changes nothing.
    let existing = tx
        .prepare_cached("SELECT meeting_id, seq FROM segments WHERE org_id = $1 AND id = $2")
        .await?;
    if let Some(row) = tx.query_opt(&existing, &[&org, &segment_id]).await? {
        let stored_meeting: Uuid = row.try_get(0)?;
        if stored_meeting != meeting {
            return Err(StoreError::Conflict(
                "segment id already used in another meeting",
            ));
        }
        return Ok(Appended::Seq(uint(&row, 1)?));
    }

    // Lock the stream row: a concurrent close waits for this final (or this final sees the
    // close), and two appends on one stream take turns before they queue on the meeting.
    let owner = tx
        .prepare_cached(
            "SELECT meeting_id, closed_at_ms FROM streams WHERE org_id = $1 AND id = $2
             FOR NO KEY UPDATE",
        )
        .await?;
    let Some(row) = tx.query_opt(&owner, &[&org, &stream]).await? else {
        return Err(StoreError::NotFound);
    };
    let owner_meeting: Uuid = row.try_get(0)?;
    let closed: Option<i64> = row.try_get(1)?;
    if owner_meeting != meeting {
        return Err(StoreError::Invalid("stream feeds another meeting"));
    }
    if closed.is_some() {
        return Err(StoreError::Conflict("stream is closed"));
    }

    let bump = tx
        .prepare_cached(
            "UPDATE meetings SET last_seq = last_seq + 1
             WHERE org_id = $1 AND id = $2 RETURNING last_seq",
        )
        .await?;
    let row = tx
        .query_opt(&bump, &[&org, &meeting])
        .await?
        .ok_or(StoreError::NotFound)?;
    let seq: i64 = row.try_get(0)?;

    let s = &new.segment;
    let (text, words, speaker) = seal_final(
        &super::keys::org_keys(&tx, keys, scope.org_id()).await?,
        new,
    )?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO segments (id, org_id, meeting_id, stream_id, seq, start_ms, end_ms,
                                   text, words, speaker, language, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .await?;
    let inserted = tx
        .execute(
            &insert,
            &[
                &segment_id,
                &org,
                &meeting,
                &stream,
                &seq,
                &to_i64(s.start_ms)?,
                &to_i64(s.end_ms)?,
                &text,
                &words,
                &speaker,
                &new.language,
                &now_ms(),
            ],
        )
        .await;
    match inserted {
        Ok(_) => {}
        // Dropping the transaction rolls it back, the seq bump with it.
        Err(e) if is_unique_violation(&e) => return Ok(Appended::Raced),
        Err(e) => return Err(e.into()),
    }

    if let Some(acked) = new.acked_audio_ms {
        let ack = tx
            .prepare_cached(
                "UPDATE streams SET acked_audio_ms = GREATEST(acked_audio_ms, $3)
                 WHERE org_id = $1 AND id = $2",
            )
            .await?;
        tx.execute(&ack, &[&org, &stream, &to_i64(acked)?]).await?;
    }
    let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt("negative seq"))?;
    // Other servers' viewers learn of it (delivered only if this commits).
    let payload = feed::final_payload(node, scope.org_id(), new.meeting_id, seq);
    let notify = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
    tx.execute(&notify, &[&feed::CHANNEL, &payload]).await?;
    tx.commit().await?;
    Ok(Appended::Seq(seq))
}

pub(crate) async fn allocate_seq(
    client: &mut Client,
    scope: &OrgScope,
    meeting: MeetingId,
) -> StoreResult<u64> {
    let sql = "UPDATE meetings SET last_seq = last_seq + 1
               WHERE org_id = $1 AND id = $2 RETURNING last_seq";
    let params: &Params = &[&scope.org_id().as_uuid(), &meeting.as_uuid()];
    scoped_one(client, scope, sql, params, |row| uint(row, 0)).await
}

pub(crate) async fn list_finals_since(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    meeting: MeetingId,
    after_seq: u64,
) -> StoreResult<Vec<FinalRead>> {
    let org = scope.org_id().as_uuid();
    let meeting = meeting.as_uuid();
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    // REPEATABLE READ: the existence check and the rows come from one snapshot.
    let tx = scoped_snapshot(client, scope).await?;
    let exists = tx
        .prepare_cached("SELECT 1 FROM meetings WHERE org_id = $1 AND id = $2")
        .await?;
    if tx.query_opt(&exists, &[&org, &meeting]).await?.is_none() {
        return Err(StoreError::NotFound);
    }
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {SEGMENT_COLUMNS} FROM segments
             WHERE org_id = $1 AND meeting_id = $2 AND seq > $3 ORDER BY seq"
        ))
        .await?;
    let rows = tx.query(&stmt, &[&org, &meeting, &after]).await?;
    let sealed = rows
        .iter()
        .map(segment_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let finals = if sealed.is_empty() {
        Vec::new()
    } else {
        let org_keys = super::keys::org_keys(&tx, keys, scope.org_id()).await?;
        sealed.into_iter().map(|f| f.open(&org_keys)).collect()
    };
    tx.commit().await?;
    Ok(finals)
}
