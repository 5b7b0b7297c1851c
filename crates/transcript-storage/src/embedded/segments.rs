//! Final segments and the per-meeting seq counter in the embedded store (blocking; run
//! through the pool).
//!
//! The counter is `meetings.last_seq`. Appending a final bumps it and inserts the row in one
//! `BEGIN IMMEDIATE` transaction: SQLite admits one writer at a time across every connection
//! and process, so seqs are gapless and monotonic however many writers there are.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};
use scribe_core::{MeetingId, OrgScope};

use super::keys;
use super::sql::{id, now_ms, to_i64, uint};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{FinalRead, NewFinal};
use crate::sealing::{seal_final, SealedFinal};

const SEGMENT_COLUMNS: &str = "id, meeting_id, stream_id, seq, start_ms, end_ms, text, words, \
                               speaker, language, created_at_ms";

fn segment_row(row: &Row<'_>) -> rusqlite::Result<SealedFinal> {
    Ok(SealedFinal {
        id: id(row, 0)?,
        meeting_id: id(row, 1)?,
        stream_id: id(row, 2)?,
        seq: uint(row, 3)?,
        start_ms: uint(row, 4)?,
        end_ms: uint(row, 5)?,
        text: row.get(6)?,
        words: row.get(7)?,
        speaker: row.get(8)?,
        language: row.get(9)?,
        created_at_ms: uint(row, 10)?,
    })
}

pub(crate) fn append_final(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    new: NewFinal,
) -> StoreResult<u64> {
    new.validate()?;
    let org = scope.org_id().to_string();
    let meeting = new.meeting_id.to_string();
    let stream = new.stream_id.to_string();
    let segment_id = new.segment_id.to_string();

    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (text, words, speaker) = seal_final(&keys::org_keys(&tx, keys, scope.org_id())?, &new)?;

    // A retry of a final that was already stored gets its seq back and changes nothing.
    let existing: Option<(String, i64)> = tx
        .query_row(
            "SELECT meeting_id, seq FROM segments WHERE org_id = ?1 AND id = ?2",
            [&org, &segment_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((stored_meeting, seq)) = existing {
        if stored_meeting != meeting {
            return Err(StoreError::Conflict(
                "segment id already used in another meeting",
            ));
        }
        return u64::try_from(seq).map_err(|_| StoreError::Corrupt("negative seq"));
    }

    let owner: Option<(String, Option<i64>)> = tx
        .query_row(
            "SELECT meeting_id, closed_at_ms FROM streams WHERE org_id = ?1 AND id = ?2",
            [&org, &stream],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match owner {
        None => return Err(StoreError::NotFound),
        Some((owner_meeting, _)) if owner_meeting != meeting => {
            return Err(StoreError::Invalid("stream feeds another meeting"))
        }
        Some((_, Some(_closed))) => return Err(StoreError::Conflict("stream is closed")),
        Some(_) => {}
    }

    let seq: i64 = tx
        .query_row(
            "UPDATE meetings SET last_seq = last_seq + 1
             WHERE org_id = ?1 AND id = ?2 RETURNING last_seq",
            [&org, &meeting],
            |row| row.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;

    let s = &new.segment;
    tx.execute(
        "INSERT INTO segments (id, org_id, meeting_id, stream_id, seq, start_ms, end_ms,
                               text, words, speaker, language, created_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        rusqlite::params![
            segment_id,
            org,
            meeting,
            stream,
            seq,
            to_i64(s.start_ms)?,
            to_i64(s.end_ms)?,
            text,
            words,
            speaker,
            new.language,
            now_ms(),
        ],
    )?;

    if let Some(acked) = new.acked_audio_ms {
        tx.execute(
            "UPDATE streams SET acked_audio_ms = MAX(acked_audio_ms, ?3)
             WHERE org_id = ?1 AND id = ?2",
            (&org, &stream, to_i64(acked)?),
        )?;
    }
    tx.commit()?;
    u64::try_from(seq).map_err(|_| StoreError::Corrupt("negative seq"))
}

pub(crate) fn allocate_seq(
    conn: &mut Connection,
    scope: OrgScope,
    meeting: MeetingId,
) -> StoreResult<u64> {
    let seq: i64 = conn
        .query_row(
            "UPDATE meetings SET last_seq = last_seq + 1
             WHERE org_id = ?1 AND id = ?2 RETURNING last_seq",
            [scope.org_id().to_string(), meeting.to_string()],
            |row| row.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    u64::try_from(seq).map_err(|_| StoreError::Corrupt("negative seq"))
}

pub(crate) fn list_finals_since(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    meeting: MeetingId,
    after_seq: u64,
) -> StoreResult<Vec<FinalRead>> {
    let org = scope.org_id().to_string();
    let meeting = meeting.to_string();
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    // One read transaction: the existence check and the rows come from the same snapshot.
    let tx = conn.transaction()?;
    let exists = tx
        .query_row(
            "SELECT 1 FROM meetings WHERE org_id = ?1 AND id = ?2",
            [&org, &meeting],
            |_| Ok(()),
        )
        .optional()?;
    if exists.is_none() {
        return Err(StoreError::NotFound);
    }
    let sql = format!(
        "SELECT {SEGMENT_COLUMNS} FROM segments
         WHERE org_id = ?1 AND meeting_id = ?2 AND seq > ?3 ORDER BY seq"
    );
    let sealed = {
        let mut stmt = tx.prepare(&sql)?;
        let rows = stmt.query_map((&org, &meeting, after), segment_row)?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    let finals = if sealed.is_empty() {
        Vec::new()
    } else {
        let org_keys = keys::org_keys(&tx, keys, scope.org_id())?;
        sealed.into_iter().map(|f| f.open(&org_keys)).collect()
    };
    tx.commit()?;
    Ok(finals)
}
