//! WebSocket tickets in the store: taken once (by any handle), bound to what they were issued
//! for, limited per user, purged when expired, never visible across organisations.

use super::{assert_not_found, new_meeting, new_org, Harness};
use crate::error::StoreError;
use crate::model::{NewTicket, NewUser};

fn ticket(
    n: u8,
    user: scribe_core::UserId,
    meeting: scribe_core::MeetingId,
    expires: u64,
) -> NewTicket {
    let mut hash = [n; 32];
    hash[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    NewTicket {
        hash,
        user_id: user,
        meeting_id: meeting,
        role: "viewer".into(),
        expires_at_ms: expires,
        // Odd tickets come from a session, even ones from before sessions were recorded.
        session_id: (n % 2 == 1).then(scribe_core::SessionId::generate),
    }
}

pub async fn tickets_are_taken_once_anywhere_and_limited<H: Harness>(h: &H) {
    let store = h.store();
    let other_handle = h.second_handle().await;
    let org = new_org(&*store, "tickets").await;
    let meeting = new_meeting(&*store, &org, "Watched").await;
    let user = store
        .create_user(
            &org,
            NewUser {
                email: format!("viewer-{}@example.org", uuid::Uuid::new_v4().simple()),
                password_hash: "$argon2id$v=19$x".into(),
                role: "viewer".into(),
            },
        )
        .await
        .expect("user");
    let now = 1_000_000;
    let t = ticket(1, user.id, meeting.id, now + 30_000);
    store
        .put_ticket(&org, t.clone(), now, 4)
        .await
        .expect("put");
    // Another handle (another server) redeems it; then it is gone everywhere.
    let taken = other_handle
        .take_ticket(&t.hash)
        .await
        .expect("take")
        .expect("found on another handle");
    assert_eq!(
        (
            taken.org_id,
            taken.user_id,
            taken.meeting_id,
            taken.role.as_str(),
            taken.expires_at_ms,
            taken.session_id,
        ),
        (
            org.org_id(),
            user.id,
            meeting.id,
            "viewer",
            now + 30_000,
            t.session_id
        )
    );
    assert_eq!(
        store.take_ticket(&t.hash).await.expect("take"),
        None,
        "single use"
    );
    assert_eq!(
        store.take_ticket(&[7; 32]).await.expect("take"),
        None,
        "unknown"
    );

    // At most `max_per_user` unexpired tickets; expired ones make room.
    for n in 0..4 {
        store
            .put_ticket(
                &org,
                ticket(n, user.id, meeting.id, now + 10 + u64::from(n)),
                now,
                4,
            )
            .await
            .expect("within the limit");
    }
    assert!(matches!(
        store
            .put_ticket(&org, ticket(9, user.id, meeting.id, now + 30_000), now, 4)
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .put_ticket(
            &org,
            ticket(9, user.id, meeting.id, now + 60_000),
            now + 20,
            4,
        )
        .await
        .expect("the expired ones were purged");

    // Only for the scope's own users and meetings.
    let other = new_org(&*store, "tickets other").await;
    assert_not_found(
        store
            .put_ticket(&other, ticket(5, user.id, meeting.id, now + 30_000), now, 4)
            .await,
        "another organisation's user and meeting",
    );
}
