use std::time::Duration;

use scribe_core::{BotId, MeetingId, OrgId, UserId};
use secrecy::ExposeSecret;

use super::*;
use crate::clock::ManualClock;

fn user() -> Principal {
    Principal::User(UserPrincipal::new(
        UserId::generate(),
        OrgId::generate(),
        Role::Viewer,
    ))
}

fn rejection(result: Result<Principal, AuthError>) -> TicketRejection {
    match result {
        Err(AuthError::InvalidTicket(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_issued_ticket_redeems_to_its_user_and_only_its_digest_is_kept() {
    let clock = ManualClock::at_unix_seconds(1_750_000_000);
    let (principal, meeting) = (user(), MeetingId::generate());
    let issued = issue_ticket(&principal, meeting, &clock).expect("issue");
    let ticket = issued.ticket.expose_secret().to_owned();
    assert_eq!(ticket.len(), 43);
    assert_eq!(issued.expires_in, TICKET_TTL);
    assert_eq!(ticket_digest(&ticket).expect("digest"), issued.grant.digest);
    let shown = format!("{:?}", issued.grant);
    assert!(!shown.contains(&ticket), "the grant holds no ticket text");
    let redeemed = redeem_grant(issued.grant, meeting, &clock).expect("redeem");
    assert_eq!(redeemed.user_id(), principal.user_id());
    assert_eq!(redeemed.role(), Some(Role::Viewer));
}

#[test]
fn tickets_expire_after_thirty_seconds_and_are_bound_to_their_meeting() {
    let clock = ManualClock::at_unix_seconds(1_750_000_000);
    let meeting = MeetingId::generate();
    let issued = issue_ticket(&user(), meeting, &clock).expect("issue");
    assert_eq!(
        rejection(redeem_grant(
            issued.grant.clone(),
            MeetingId::generate(),
            &clock
        )),
        TicketRejection::WrongMeeting
    );
    clock.advance(Duration::from_secs(29));
    assert!(redeem_grant(issued.grant.clone(), meeting, &clock).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        rejection(redeem_grant(issued.grant, meeting, &clock)),
        TicketRejection::Expired
    );
}

#[test]
fn malformed_tickets_are_refused_before_any_lookup() {
    for bad in [
        "",
        "short",
        &"a".repeat(44),
        &format!("{}%", "a".repeat(42)),
    ] {
        assert!(matches!(
            ticket_digest(bad),
            Err(AuthError::InvalidTicket(TicketRejection::Unknown))
        ));
    }
}

#[test]
fn bots_cannot_get_tickets() {
    let clock = ManualClock::at_unix_seconds(1_750_000_000);
    let bot = Principal::Bot(crate::principal::BotPrincipal::new(
        BotId::generate(),
        OrgId::generate(),
    ));
    assert!(matches!(
        issue_ticket(&bot, MeetingId::generate(), &clock),
        Err(AuthError::NotAUser)
    ));
}
