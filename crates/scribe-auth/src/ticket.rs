//! Single-use WebSocket tickets (PROTOCOL.md §2, `POST /api/v1/ws-tickets`): a browser trades
//! its access token for a short random ticket and puts that, not the token, in the WebSocket
//! URL, so no long-lived credential lands in URLs, proxies' logs or browser history.
//!
//! A ticket is 32 random bytes (base64url), valid 30 s, redeemable once, and only for the meeting
//! it was issued for. This module makes tickets and checks redeemed ones; what it issues is kept
//! by the caller's store as a [`TicketGrant`] — the ticket's SHA-256, never the ticket — so that
//! every server sharing the store honours it, and taking it from the store consumes it.

use std::time::{Duration, SystemTime};

use scribe_core::{MeetingId, OrgId, UserId};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::{AuthError, TicketRejection};
use crate::principal::{Principal, UserPrincipal};
use crate::random::random_url_token;
use crate::role::Role;

/// How long a ticket stays valid.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// Unexpired tickets a user may hold at once, so a flood cannot fill the store.
pub const MAX_TICKETS_PER_USER: usize = 32;

/// Random bytes per ticket (256 bits).
const TICKET_BYTES: usize = 32;
/// Length of a ticket string (base64url of 32 bytes, unpadded).
const TICKET_CHARS: usize = 43;

/// What a store keeps of a ticket: its SHA-256 and what it opens, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketGrant {
    pub digest: [u8; 32],
    pub user_id: UserId,
    pub org_id: OrgId,
    /// The role at issue time (a stored role is read back fail-closed with
    /// [`Role::from_stored`]).
    pub role: Role,
    pub meeting: MeetingId,
    pub expires: SystemTime,
}

/// A newly issued ticket. Return `ticket` to the client (never log it); store `grant`.
#[derive(Debug)]
pub struct IssuedTicket {
    /// The ticket for `?ticket=`.
    pub ticket: SecretString,
    /// How long it stays valid.
    pub expires_in: Duration,
    /// What to store.
    pub grant: TicketGrant,
}

/// Issues a ticket for `principal` (a user, who must already have Read access to `meeting`:
/// the caller checks that) to open `meeting`'s transcript socket once within 30 s.
pub fn issue_ticket(
    principal: &Principal,
    meeting: MeetingId,
    clock: &dyn Clock,
) -> Result<IssuedTicket, AuthError> {
    let Principal::User(user) = principal else {
        return Err(AuthError::NotAUser);
    };
    let ticket = random_url_token(TICKET_BYTES)?;
    let grant = TicketGrant {
        digest: digest(&ticket),
        user_id: user.user_id(),
        org_id: user.org_id(),
        role: user.role(),
        meeting,
        expires: clock.now() + TICKET_TTL,
    };
    Ok(IssuedTicket {
        ticket: SecretString::from(ticket.as_str()),
        expires_in: TICKET_TTL,
        grant,
    })
}

/// The SHA-256 under which a presented ticket is stored. A string that cannot be a ticket is
/// refused before the store is asked.
pub fn ticket_digest(ticket: &str) -> Result<[u8; 32], AuthError> {
    let well_formed = ticket.len() == TICKET_CHARS
        && ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(AuthError::InvalidTicket(TicketRejection::Unknown));
    }
    Ok(digest(ticket))
}

/// Checks a grant just taken from the store (so already consumed, whatever the outcome) for
/// `meeting`: an expired ticket, or one issued for another meeting, is refused.
pub fn redeem_grant(
    grant: TicketGrant,
    meeting: MeetingId,
    clock: &dyn Clock,
) -> Result<Principal, AuthError> {
    if clock.now() >= grant.expires {
        return Err(AuthError::InvalidTicket(TicketRejection::Expired));
    }
    if grant.meeting != meeting {
        return Err(AuthError::InvalidTicket(TicketRejection::WrongMeeting));
    }
    Ok(Principal::User(UserPrincipal::new(
        grant.user_id,
        grant.org_id,
        grant.role,
    )))
}

fn digest(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

#[cfg(test)]
mod tests;
