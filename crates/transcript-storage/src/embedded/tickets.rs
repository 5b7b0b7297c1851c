//! WebSocket tickets in the embedded store (blocking; run through the pool).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use scribe_core::OrgScope;

use super::sql::{id, opt_id, to_i64, uint};
use crate::error::{StoreError, StoreResult};
use crate::model::{NewTicket, RedeemedTicket};

pub(crate) fn put_ticket(
    conn: &mut Connection,
    scope: OrgScope,
    ticket: NewTicket,
    now_ms: u64,
    max_per_user: usize,
) -> StoreResult<()> {
    let now = to_i64(now_ms)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM ws_tickets WHERE expires_at_ms <= ?1", [now])?;
    let outstanding: i64 = tx.query_row(
        "SELECT count(*) FROM ws_tickets WHERE user_id = ?1",
        [ticket.user_id.to_string()],
        |r| r.get(0),
    )?;
    if usize::try_from(outstanding).unwrap_or(usize::MAX) >= max_per_user {
        return Err(StoreError::Conflict(
            "too many outstanding tickets for this user",
        ));
    }
    tx.execute(
        "INSERT INTO ws_tickets
             (hash, org_id, user_id, meeting_id, role, expires_at_ms, session_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            ticket.hash.as_slice(),
            scope.org_id().to_string(),
            ticket.user_id.to_string(),
            ticket.meeting_id.to_string(),
            ticket.role,
            to_i64(ticket.expires_at_ms)?,
            ticket.session_id.map(|s| s.to_string()),
        ],
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn take_ticket(
    conn: &mut Connection,
    hash: [u8; 32],
) -> StoreResult<Option<RedeemedTicket>> {
    Ok(conn
        .query_row(
            "DELETE FROM ws_tickets WHERE hash = ?1
             RETURNING org_id, user_id, meeting_id, role, expires_at_ms, session_id",
            [hash.as_slice()],
            |r| {
                Ok(RedeemedTicket {
                    org_id: id(r, 0)?,
                    user_id: id(r, 1)?,
                    meeting_id: id(r, 2)?,
                    role: r.get(3)?,
                    expires_at_ms: uint(r, 4)?,
                    session_id: opt_id(r, 5)?,
                })
            },
        )
        .optional()?)
}
