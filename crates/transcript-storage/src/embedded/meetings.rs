//! Meetings in the embedded store (blocking; run through the pool).

use rusqlite::{Connection, OptionalExtension, Row};
use scribe_core::{MeetingId, OrgScope};

use super::sql::{id, now_ms, opt_id, uint};
use crate::error::{StoreError, StoreResult};
use crate::model::{Meeting, NewMeeting};

const MEETING_COLUMNS: &str = "id, org_id, title, created_by, created_at_ms, last_seq";

fn meeting_row(row: &Row<'_>) -> rusqlite::Result<Meeting> {
    Ok(Meeting {
        id: id(row, 0)?,
        org_id: id(row, 1)?,
        title: row.get(2)?,
        created_by: opt_id(row, 3)?,
        created_at_ms: uint(row, 4)?,
        last_seq: uint(row, 5)?,
    })
}

pub(crate) fn create_meeting(
    conn: &mut Connection,
    scope: OrgScope,
    new: NewMeeting,
) -> StoreResult<Meeting> {
    new.validate()?;
    let at = now_ms();
    let meeting = Meeting::created(&scope, new, at);
    // Selecting from organisations makes a missing organisation a plain NotFound; a
    // `created_by` of another organisation fails the (org_id, created_by) foreign key.
    let inserted = conn.execute(
        "INSERT INTO meetings (id, org_id, title, created_by, created_at_ms)
         SELECT ?1, id, ?3, ?4, ?5 FROM organisations WHERE id = ?2",
        (
            meeting.id.to_string(),
            meeting.org_id.to_string(),
            &meeting.title,
            meeting.created_by.map(|u| u.to_string()),
            at,
        ),
    )?;
    if inserted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(meeting)
}

pub(crate) fn get_meeting(
    conn: &mut Connection,
    scope: OrgScope,
    meeting: MeetingId,
) -> StoreResult<Meeting> {
    let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE org_id = ?1 AND id = ?2");
    conn.query_row(
        &sql,
        [scope.org_id().to_string(), meeting.to_string()],
        meeting_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub(crate) fn list_meetings(conn: &mut Connection, scope: OrgScope) -> StoreResult<Vec<Meeting>> {
    let sql = format!(
        "SELECT {MEETING_COLUMNS} FROM meetings WHERE org_id = ?1
         ORDER BY created_at_ms, rowid"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([scope.org_id().to_string()], meeting_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn delete_meeting(
    conn: &mut Connection,
    scope: OrgScope,
    meeting: MeetingId,
) -> StoreResult<()> {
    // Streams and segments go with it (ON DELETE CASCADE; foreign_keys is on per connection).
    let deleted = conn.execute(
        "DELETE FROM meetings WHERE org_id = ?1 AND id = ?2",
        [scope.org_id().to_string(), meeting.to_string()],
    )?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
