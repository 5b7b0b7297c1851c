//! WebSocket tickets in the PostgreSQL store: every server sees every ticket, and redeeming
//! deletes it, so each ticket works once on any server.

use deadpool_postgres::Client;
use scribe_core::{MeetingId, OrgId, OrgScope, SessionId, UserId};

use super::sql::{id, lookup_redeeming, opt_id, scoped, to_i64, uint};
use crate::error::{StoreError, StoreResult};
use crate::model::{NewTicket, RedeemedTicket};

pub(crate) async fn put_ticket(
    client: &mut Client,
    scope: &OrgScope,
    ticket: NewTicket,
    now_ms: u64,
    max_per_user: usize,
) -> StoreResult<()> {
    let now = to_i64(now_ms)?;
    let tx = scoped(client, scope).await?;
    // Row-level security limits the purge and the count to this organisation's tickets,
    // which is where the user's are.
    tx.execute("DELETE FROM ws_tickets WHERE expires_at_ms <= $1", &[&now])
        .await?;
    // Serialises concurrent issues for one user (the count then the insert).
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&ticket.user_id.to_string()],
    )
    .await?;
    let outstanding: i64 = tx
        .query_one(
            "SELECT count(*) FROM ws_tickets WHERE user_id = $1",
            &[&ticket.user_id.as_uuid()],
        )
        .await?
        .try_get(0)?;
    if usize::try_from(outstanding).unwrap_or(usize::MAX) >= max_per_user {
        return Err(StoreError::Conflict(
            "too many outstanding tickets for this user",
        ));
    }
    tx.execute(
        "INSERT INTO ws_tickets
             (hash, org_id, user_id, meeting_id, role, expires_at_ms, session_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &ticket.hash.as_slice(),
            &scope.org_id().as_uuid(),
            &ticket.user_id.as_uuid(),
            &ticket.meeting_id.as_uuid(),
            &ticket.role,
            &to_i64(ticket.expires_at_ms)?,
            &ticket.session_id.map(|s| s.as_uuid()),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn take_ticket(
    client: &mut Client,
    hash: [u8; 32],
) -> StoreResult<Option<RedeemedTicket>> {
    let tx = lookup_redeeming(client).await?;
    let row = tx
        .query_opt(
            "DELETE FROM ws_tickets WHERE hash = $1
             RETURNING org_id, user_id, meeting_id, role, expires_at_ms, session_id",
            &[&hash.as_slice()],
        )
        .await?;
    let taken = row
        .map(|r| {
            Ok::<_, StoreError>(RedeemedTicket {
                org_id: id(&r, 0, OrgId::from_uuid)?,
                user_id: id(&r, 1, UserId::from_uuid)?,
                meeting_id: id(&r, 2, MeetingId::from_uuid)?,
                role: r.try_get(3)?,
                expires_at_ms: uint(&r, 4)?,
                session_id: opt_id(&r, 5, SessionId::from_uuid)?,
            })
        })
        .transpose()?;
    tx.commit().await?;
    Ok(taken)
}
