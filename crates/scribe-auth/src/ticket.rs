//! Single-use WebSocket tickets (PROTOCOL.md §2, `POST /api/v1/ws-tickets`): a browser trades
//! its access token for a short random ticket and puts that, not the token, in the WebSocket
//! URL, so no long-lived credential lands in URLs, proxies' logs or browser history.
//!
//! A ticket is 32 random bytes (base64url), valid 30 s, redeemable once, and only for the meeting
//! it was issued for. The store keeps SHA-256 hashes of tickets, never the tickets.
//!
//! Tickets live in this process's memory: with several gateway nodes behind a load balancer a
//! ticket works only on the node that issued it. The scale-out issue moves the store behind a
//! shared backend (PostgreSQL or the change feed); until then use sticky sessions or a single
//! node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use scribe_core::MeetingId;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::{AuthError, TicketRejection};
use crate::principal::{Principal, UserPrincipal};
use crate::random::random_url_token;

/// How long a ticket stays valid.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// Random bytes per ticket (256 bits).
const TICKET_BYTES: usize = 32;
/// Length of a ticket string (base64url of 32 bytes, unpadded).
const TICKET_CHARS: usize = 43;
/// Outstanding tickets allowed per user, and in total, so a flood cannot exhaust memory.
const MAX_PER_USER: usize = 32;
const MAX_TOTAL: usize = 100_000;

/// A newly issued ticket. Return `ticket` to the client; never log it.
#[derive(Debug)]
pub struct IssuedTicket {
    /// The ticket for `?ticket=`.
    pub ticket: SecretString,
    /// How long it stays valid.
    pub expires_in: Duration,
}

struct Entry {
    user: UserPrincipal,
    meeting: MeetingId,
    expires: SystemTime,
}

/// The in-memory ticket store.
pub struct TicketStore {
    clock: Arc<dyn Clock>,
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl std::fmt::Debug for TicketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketStore")
            .field("ttl", &self.ttl)
            .field("outstanding", &self.len())
            .finish()
    }
}

impl TicketStore {
    /// A store whose tickets live [`TICKET_TTL`] by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            ttl: TICKET_TTL,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Issues a ticket for `principal` (a user, who must already have Read access to `meeting`:
    /// the caller checks that) to open `meeting`'s transcript socket once within 30 s.
    pub fn issue(
        &self,
        principal: &Principal,
        meeting: MeetingId,
    ) -> Result<IssuedTicket, AuthError> {
        let Principal::User(user) = principal else {
            return Err(AuthError::NotAUser);
        };
        let now = self.clock.now();
        let ticket = random_url_token(TICKET_BYTES)?;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, e| e.expires > now);
        let mine = entries
            .values()
            .filter(|e| e.user.user_id() == user.user_id())
            .count();
        if mine >= MAX_PER_USER || entries.len() >= MAX_TOTAL {
            return Err(AuthError::TooManyTickets);
        }
        entries.insert(
            digest(&ticket),
            Entry {
                user: user.clone(),
                meeting,
                expires: now + self.ttl,
            },
        );
        Ok(IssuedTicket {
            ticket: SecretString::from(ticket.as_str()),
            expires_in: self.ttl,
        })
    }

    /// Redeems `ticket` for `meeting`. The ticket is consumed by any attempt, successful or
    /// not; a second use, an expired ticket, or one issued for another meeting is refused.
    pub fn redeem(&self, ticket: &str, meeting: MeetingId) -> Result<Principal, AuthError> {
        let reject = |r| Err(AuthError::InvalidTicket(r));
        if ticket.len() != TICKET_CHARS {
            return reject(TicketRejection::Unknown);
        }
        let now = self.clock.now();
        let entry = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&digest(ticket));
        let Some(entry) = entry else {
            return reject(TicketRejection::Unknown);
        };
        if now >= entry.expires {
            return reject(TicketRejection::Expired);
        }
        if entry.meeting != meeting {
            return reject(TicketRejection::WrongMeeting);
        }
        Ok(Principal::User(entry.user))
    }

    /// Drops expired tickets (issuing does this too); returns how many were dropped.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|_, e| e.expires > now);
        before - entries.len()
    }

    /// Tickets outstanding (including expired ones not yet purged).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no tickets are outstanding.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn digest(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

#[cfg(test)]
mod tests;
