use std::sync::Arc;
use std::time::Duration;

use scribe_core::{BotId, OrgId, UserId};
use secrecy::ExposeSecret;

use super::*;
use crate::clock::ManualClock;
use crate::role::Role;

struct Fixture {
    clock: Arc<ManualClock>,
    store: TicketStore,
    user: Principal,
    meeting: MeetingId,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::at_unix_seconds(1_750_000_000));
    let store = TicketStore::new(clock.clone());
    let user = Principal::User(UserPrincipal::new(
        UserId::generate(),
        OrgId::generate(),
        Role::Viewer,
    ));
    Fixture {
        clock,
        store,
        user,
        meeting: MeetingId::generate(),
    }
}

impl Fixture {
    fn issue(&self) -> String {
        let issued = self.store.issue(&self.user, self.meeting).expect("issue");
        assert_eq!(issued.expires_in, TICKET_TTL);
        issued.ticket.expose_secret().to_owned()
    }
}

fn rejection(result: Result<Principal, AuthError>) -> TicketRejection {
    match result {
        Err(AuthError::InvalidTicket(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_ticket_redeems_once_to_its_user() {
    let f = fixture();
    let ticket = f.issue();
    assert_eq!(ticket.len(), 43);
    assert!(ticket
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_eq!(
        f.store.redeem(&ticket, f.meeting).expect("first use"),
        f.user
    );
    assert_eq!(
        rejection(f.store.redeem(&ticket, f.meeting)),
        TicketRejection::Unknown
    );
    assert!(f.store.is_empty());
}

#[test]
fn tickets_expire_after_thirty_seconds() {
    let f = fixture();
    let early = f.issue();
    let late = f.issue();
    f.clock.advance(Duration::from_secs(29));
    assert!(f.store.redeem(&early, f.meeting).is_ok());
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(
        rejection(f.store.redeem(&late, f.meeting)),
        TicketRejection::Expired
    );
    // Expired means consumed too.
    assert_eq!(
        rejection(f.store.redeem(&late, f.meeting)),
        TicketRejection::Unknown
    );
}

#[test]
fn a_ticket_is_bound_to_its_meeting_and_burnt_by_a_wrong_one() {
    let f = fixture();
    let ticket = f.issue();
    let other = MeetingId::generate();
    assert_eq!(
        rejection(f.store.redeem(&ticket, other)),
        TicketRejection::WrongMeeting
    );
    assert_eq!(
        rejection(f.store.redeem(&ticket, f.meeting)),
        TicketRejection::Unknown
    );
}

#[test]
fn unknown_and_malformed_tickets_are_refused() {
    let f = fixture();
    let _ = f.issue();
    for ticket in ["", "short", &"A".repeat(43), &"A".repeat(10_000)] {
        assert_eq!(
            rejection(f.store.redeem(ticket, f.meeting)),
            TicketRejection::Unknown
        );
    }
    let err = f.store.redeem("nope", f.meeting).expect_err("refused");
    assert_eq!(err.code(), scribe_core::ErrorCode::Unauthenticated);
}

#[test]
fn bots_cannot_get_tickets() {
    let f = fixture();
    let bot = Principal::Bot(crate::principal::BotPrincipal::new(
        BotId::generate(),
        OrgId::generate(),
    ));
    assert!(matches!(
        f.store.issue(&bot, f.meeting),
        Err(AuthError::NotAUser)
    ));
}

#[test]
fn outstanding_tickets_per_user_are_capped_and_expiry_frees_them() {
    let f = fixture();
    for _ in 0..MAX_PER_USER {
        let _ = f.issue();
    }
    assert!(matches!(
        f.store.issue(&f.user, f.meeting),
        Err(AuthError::TooManyTickets)
    ));
    f.clock.advance(TICKET_TTL);
    assert_eq!(f.store.purge_expired(), MAX_PER_USER);
    assert!(f.store.issue(&f.user, f.meeting).is_ok());
}

#[test]
fn the_store_holds_no_ticket_text() {
    let f = fixture();
    let issued = f.store.issue(&f.user, f.meeting).expect("issue");
    let ticket = issued.ticket.expose_secret().to_owned();
    let debug = format!("{:?} {issued:?}", f.store);
    assert!(!debug.contains(&ticket), "{debug}");
}
