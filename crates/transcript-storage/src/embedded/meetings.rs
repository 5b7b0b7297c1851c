//! Meetings in the embedded store (blocking; run through the pool).

use rusqlite::{Connection, OptionalExtension, Row};
use scribe_core::{MeetingId, OrgScope};

use super::keys;
use super::sql::{id, now_ms, opt_id, uint};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::model::{Meeting, NewMeeting};
use crate::sealing::MEETING_TITLE;

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
    keys: &Keyring,
    scope: OrgScope,
    new: NewMeeting,
) -> StoreResult<Meeting> {
    new.validate()?;
    let at = now_ms();
    let meeting = Meeting::created(&scope, new, at);
    let title = keys::org_keys(conn, keys, scope.org_id())?.seal(
        MEETING_TITLE,
        &meeting.id.to_string(),
        &meeting.title,
    )?;
    // Selecting from organisations makes a missing organisation a plain NotFound; a
    // `created_by` of another organisation fails the (org_id, created_by) foreign key.
    let inserted = conn.execute(
        "INSERT INTO meetings (id, org_id, title, created_by, created_at_ms)
         SELECT ?1, id, ?3, ?4, ?5 FROM organisations WHERE id = ?2",
        (
            meeting.id.to_string(),
            meeting.org_id.to_string(),
            title,
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
    keys: &Keyring,
    scope: OrgScope,
    meeting: MeetingId,
) -> StoreResult<Meeting> {
    let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE org_id = ?1 AND id = ?2");
    let meeting = conn
        .query_row(
            &sql,
            [scope.org_id().to_string(), meeting.to_string()],
            meeting_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    open_titles(conn, keys, scope, vec![meeting]).map(|mut m| m.remove(0))
}

/// Opens the sealed titles of meetings read from the database.
fn open_titles(
    conn: &Connection,
    keys: &Keyring,
    scope: OrgScope,
    mut meetings: Vec<Meeting>,
) -> StoreResult<Vec<Meeting>> {
    if meetings.is_empty() {
        return Ok(meetings);
    }
    let org_keys = keys::org_keys(conn, keys, scope.org_id())?;
    for m in &mut meetings {
        m.title = org_keys.open(MEETING_TITLE, &m.id.to_string(), &m.title)?;
    }
    Ok(meetings)
}

pub(crate) fn list_meetings(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
) -> StoreResult<Vec<Meeting>> {
    list_meetings_where(conn, keys, scope, "?2 = ?2", "")
}

/// The scope's meetings that match `filter` (SQL where `?1` is the organisation and `?2` is
/// `arg`), oldest first.
pub(crate) fn list_meetings_where(
    conn: &mut Connection,
    keys: &Keyring,
    scope: OrgScope,
    filter: &str,
    arg: &str,
) -> StoreResult<Vec<Meeting>> {
    let sql = format!(
        "SELECT {MEETING_COLUMNS} FROM meetings WHERE org_id = ?1 AND ({filter})
         ORDER BY created_at_ms, rowid"
    );
    let meetings = {
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([scope.org_id().to_string(), arg.to_owned()], meeting_row)?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    open_titles(conn, keys, scope, meetings)
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
