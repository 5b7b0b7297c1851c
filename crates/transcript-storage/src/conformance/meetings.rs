//! Meetings, and the wall between organisations.

use scribe_core::MeetingId;

use super::readable;
use super::{assert_not_found, final_for, new_meeting, new_org, random_token_hash, Harness};
use crate::model::{NewMeeting, NewStream, NewUser};

pub async fn meetings_create_get_list_delete<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "meetings").await;
    assert!(store.list_meetings(&org).await.expect("list").is_empty());

    let creator = store
        .create_user(
            &org,
            NewUser {
                email: format!("chair.{}@example.org", uuid::Uuid::new_v4().simple()),
                password_hash: "$argon2id$x".into(),
                role: "member".into(),
            },
        )
        .await
        .expect("create user");
    let first = store
        .create_meeting(
            &org,
            NewMeeting {
                title: "Council, 3 March".into(),
                created_by: Some(creator.id),
            },
        )
        .await
        .expect("create meeting");
    assert_eq!(first.org_id, org.org_id());
    assert_eq!(first.title, "Council, 3 March");
    assert_eq!(first.created_by, Some(creator.id));
    assert_eq!(first.last_seq, 0);
    let second = new_meeting(&*store, &org, "Ward round").await;

    assert_eq!(store.get_meeting(&org, first.id).await.expect("get"), first);

    let listed = store.list_meetings(&org).await.expect("list");
    let ids: Vec<MeetingId> = listed.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![first.id, second.id], "oldest first");

    store.delete_meeting(&org, first.id).await.expect("delete");
    assert_not_found(store.get_meeting(&org, first.id).await, "deleted meeting");
    assert_not_found(
        store.delete_meeting(&org, first.id).await,
        "delete a deleted meeting",
    );
    let listed = store.list_meetings(&org).await.expect("list");
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![second.id]
    );

    assert_not_found(
        store.get_meeting(&org, MeetingId::generate()).await,
        "unknown meeting",
    );
}

/// Organisation B must see A's rows exactly as rows that do not exist, and must not be able to
/// change them.
pub async fn cross_org_isolation<H: Harness>(h: &H) {
    let store = h.store();
    let a = new_org(&*store, "isolation a").await;
    let b = new_org(&*store, "isolation b").await;

    let meeting_a = new_meeting(&*store, &a, "A's board meeting").await;
    let token_a = random_token_hash();
    let stream_a = store
        .open_stream(
            &a,
            NewStream {
                meeting_id: meeting_a.id,
                bot_id: None,
                resume_token_hash: token_a,
            },
        )
        .await
        .expect("open stream");
    let seq = store
        .append_final(&a, final_for(meeting_a.id, stream_a.id, "A only", 0))
        .await
        .expect("append");
    assert_eq!(seq, 1);
    let bot_a = store.create_bot(&a, "A's bot").await.expect("bot");
    let user_a = store
        .create_user(
            &a,
            NewUser {
                email: format!("a.{}@example.org", uuid::Uuid::new_v4().simple()),
                password_hash: "$argon2id$x".into(),
                role: "admin".into(),
            },
        )
        .await
        .expect("user");
    let meeting_b = new_meeting(&*store, &b, "B's own meeting").await;

    // Reads.
    assert_not_found(store.get_meeting(&b, meeting_a.id).await, "get A's meeting");
    let listed = store.list_meetings(&b).await.expect("list");
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![meeting_b.id]
    );
    assert_not_found(store.list_finals(&b, meeting_a.id).await, "A's finals");
    assert_not_found(
        store.list_finals_since(&b, meeting_a.id, 0).await,
        "A's finals since 0",
    );
    assert_not_found(store.get_stream(&b, stream_a.id).await, "A's stream");
    assert!(store
        .find_stream_by_token(&b, &token_a)
        .await
        .expect("find")
        .is_none());
    assert_not_found(store.get_bot(&b, bot_a.id).await, "A's bot");
    assert_not_found(store.is_bot_revoked(&b, bot_a.id).await, "A's bot state");
    assert_not_found(store.get_user(&b, user_a.id).await, "A's user");

    // Writes.
    assert_not_found(
        store.delete_meeting(&b, meeting_a.id).await,
        "delete A's meeting",
    );
    assert_not_found(
        store
            .append_final(&b, final_for(meeting_a.id, stream_a.id, "B writes", 0))
            .await,
        "append to A's meeting",
    );
    // Even through B's own meeting, A's stream is not usable.
    assert_not_found(
        store
            .append_final(&b, final_for(meeting_b.id, stream_a.id, "B writes", 0))
            .await,
        "append through A's stream",
    );
    assert_not_found(
        store.allocate_seq(&b, meeting_a.id).await,
        "seq of A's meeting",
    );
    assert_not_found(
        store
            .open_stream(
                &b,
                NewStream {
                    meeting_id: meeting_a.id,
                    bot_id: None,
                    resume_token_hash: random_token_hash(),
                },
            )
            .await,
        "stream into A's meeting",
    );
    assert_not_found(
        store
            .open_stream(
                &b,
                NewStream {
                    meeting_id: meeting_b.id,
                    bot_id: Some(bot_a.id),
                    resume_token_hash: random_token_hash(),
                },
            )
            .await,
        "B's meeting fed by A's bot",
    );
    assert_not_found(
        store.ack_stream_audio(&b, stream_a.id, 99_000).await,
        "ack A's stream",
    );
    assert_not_found(
        store.close_stream(&b, stream_a.id).await,
        "close A's stream",
    );
    assert_not_found(store.revoke_bot(&b, bot_a.id).await, "revoke A's bot");
    assert_not_found(
        store
            .create_meeting(
                &b,
                NewMeeting {
                    title: "x".into(),
                    created_by: Some(user_a.id),
                },
            )
            .await,
        "B's meeting created by A's user",
    );

    // A's data is untouched.
    let still = store
        .get_meeting(&a, meeting_a.id)
        .await
        .expect("A's meeting");
    assert_eq!(still.last_seq, 1);
    let finals = readable(
        store
            .list_finals(&a, meeting_a.id)
            .await
            .expect("A's finals"),
    );
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0].segment.text, "A only");
    let stream = store.get_stream(&a, stream_a.id).await.expect("A's stream");
    assert_eq!(stream.acked_audio_ms, 0);
    assert!(!stream.is_closed());
    assert!(!store.is_bot_revoked(&a, bot_a.id).await.expect("state"));

    // And A cannot see B's meeting either.
    assert_not_found(
        store.get_meeting(&a, meeting_b.id).await,
        "B's meeting from A",
    );
}
