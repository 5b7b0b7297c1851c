//! Meetings in the PostgreSQL store.

use deadpool_postgres::Client;
use scribe_core::{MeetingId, OrgId, OrgScope, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use super::feed;
use super::sql::{id, opt_id, scoped, uint, Params};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{now_ms, Meeting, NewMeeting};
use crate::sealing::MEETING_TITLE;

pub(crate) const MEETING_COLUMNS: &str = "id, org_id, title, created_by, created_at_ms, last_seq";

fn meeting_row(row: &Row) -> StoreResult<Meeting> {
    Ok(Meeting {
        id: id(row, 0, MeetingId::from_uuid)?,
        org_id: id(row, 1, OrgId::from_uuid)?,
        title: row.try_get(2)?,
        created_by: opt_id(row, 3, UserId::from_uuid)?,
        created_at_ms: uint(row, 4)?,
        last_seq: uint(row, 5)?,
    })
}

pub(crate) async fn create_meeting(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    new: NewMeeting,
) -> StoreResult<Meeting> {
    new.validate()?;
    let at = now_ms();
    let meeting = Meeting::created(scope, new, at);
    let tx = scoped(client, scope).await?;
    let title = super::keys::org_keys(&tx, keys, scope.org_id())
        .await?
        .seal(MEETING_TITLE, &meeting.id.to_string(), &meeting.title)?;
    // Selecting from organisations makes a missing organisation a plain NotFound; a
    // `created_by` of another organisation fails the (org_id, created_by) foreign key.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO meetings (id, org_id, title, created_by, created_at_ms)
             SELECT $1, id, $3, $4, $5 FROM organisations WHERE id = $2",
        )
        .await?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &meeting.id.as_uuid(),
                &meeting.org_id.as_uuid(),
                &title,
                &meeting.created_by.map(|u| u.as_uuid()),
                &at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await?;
    Ok(meeting)
}

pub(crate) async fn get_meeting(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    meeting: MeetingId,
) -> StoreResult<Meeting> {
    let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE org_id = $1 AND id = $2");
    let params: &Params = &[&scope.org_id().as_uuid(), &meeting.as_uuid()];
    read_meetings(client, keys, scope, &sql, params)
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

pub(crate) async fn list_meetings(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
) -> StoreResult<Vec<Meeting>> {
    let sql = format!(
        "SELECT {MEETING_COLUMNS} FROM meetings WHERE org_id = $1
         ORDER BY created_at_ms, position"
    );
    read_meetings(client, keys, scope, &sql, &[&scope.org_id().as_uuid()]).await
}

/// Meetings selected by `sql`, their titles opened, in one scoped transaction.
pub(crate) async fn read_meetings(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Vec<Meeting>> {
    Ok(read_meeting_rows(client, keys, scope, sql, params)
        .await?
        .into_iter()
        .map(|(m, _)| m)
        .collect())
}

/// [`read_meetings`] with each meeting's row, for queries that select more columns after
/// the meeting's.
pub(crate) async fn read_meeting_rows(
    client: &mut Client,
    keys: &Keyring,
    scope: &OrgScope,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Vec<(Meeting, Row)>> {
    let tx = scoped(client, scope).await?;
    let stmt = tx.prepare_cached(sql).await?;
    let mut meetings = tx
        .query(&stmt, params)
        .await?
        .into_iter()
        .map(|row| Ok((meeting_row(&row)?, row)))
        .collect::<StoreResult<Vec<_>>>()?;
    if !meetings.is_empty() {
        let org_keys = super::keys::org_keys(&tx, keys, scope.org_id()).await?;
        for (m, _) in &mut meetings {
            m.title = org_keys.open(MEETING_TITLE, &m.id.to_string(), &m.title)?;
        }
    }
    tx.commit().await?;
    Ok(meetings)
}

pub(crate) async fn delete_meeting(
    client: &mut Client,
    scope: &OrgScope,
    meeting: MeetingId,
    node: Uuid,
) -> StoreResult<()> {
    let tx = scoped(client, scope).await?;
    // Streams and segments go with it (ON DELETE CASCADE).
    let delete = tx
        .prepare_cached("DELETE FROM meetings WHERE org_id = $1 AND id = $2")
        .await?;
    let deleted = tx
        .execute(&delete, &[&scope.org_id().as_uuid(), &meeting.as_uuid()])
        .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    // Other servers close this meeting's viewers (delivered only if this commits).
    let payload = feed::deleted_payload(node, scope.org_id(), meeting);
    let notify = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
    tx.execute(&notify, &[&feed::CHANNEL, &payload]).await?;
    tx.commit().await?;
    Ok(())
}
