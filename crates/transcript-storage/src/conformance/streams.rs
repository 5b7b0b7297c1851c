//! Streams: resume lookup, acknowledged audio, closing.

use scribe_core::StreamId;

use super::{assert_not_found, final_for, new_meeting, new_org, random_token_hash, Harness};
use crate::error::StoreError;
use crate::model::NewStream;

pub async fn streams_resume_and_ack<H: Harness>(h: &H) {
    let store = h.store();
    let org = new_org(&*store, "streams").await;
    let meeting = new_meeting(&*store, &org, "Standup").await;
    let bot = store.create_bot(&org, "bot").await.expect("bot");
    let token = random_token_hash();

    let stream = store
        .open_stream(
            &org,
            NewStream {
                meeting_id: meeting.id,
                bot_id: Some(bot.id),
                resume_token_hash: token,
            },
        )
        .await
        .expect("open stream");
    assert_eq!(stream.meeting_id, meeting.id);
    assert_eq!(stream.bot_id, Some(bot.id));
    assert_eq!(stream.acked_audio_ms, 0);
    assert!(!stream.is_closed());

    // A reconnecting bot presents its token; the gateway looks the stream up by its hash.
    let found = store
        .find_stream_by_token(&org, &token)
        .await
        .expect("find")
        .expect("stream found by token");
    assert_eq!(found, stream);
    assert!(store
        .find_stream_by_token(&org, &random_token_hash())
        .await
        .expect("find")
        .is_none());
    assert_eq!(
        store.get_stream(&org, stream.id).await.expect("get"),
        stream
    );

    // Acknowledged audio only moves forward.
    assert_eq!(
        store
            .ack_stream_audio(&org, stream.id, 1_500)
            .await
            .expect("ack"),
        1_500
    );
    assert_eq!(
        store
            .ack_stream_audio(&org, stream.id, 700)
            .await
            .expect("ack"),
        1_500
    );
    // A final can carry the ack, committed with it.
    let mut with_ack = final_for(meeting.id, stream.id, "hello there", 1_000);
    with_ack.acked_audio_ms = Some(2_500);
    store.append_final(&org, with_ack).await.expect("append");
    let resumed = store
        .find_stream_by_token(&org, &token)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(
        resumed.acked_audio_ms, 2_500,
        "resume continues after the final"
    );

    // The same token cannot open a second stream.
    let dup = store
        .open_stream(
            &org,
            NewStream {
                meeting_id: meeting.id,
                bot_id: None,
                resume_token_hash: token,
            },
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));

    // Closing is idempotent; a closed stream is still found (the caller refuses to resume it)
    // and takes no more finals.
    store.close_stream(&org, stream.id).await.expect("close");
    store
        .close_stream(&org, stream.id)
        .await
        .expect("close again");
    let closed = store
        .find_stream_by_token(&org, &token)
        .await
        .expect("find")
        .expect("found");
    assert!(closed.is_closed());
    let late = store
        .append_final(&org, final_for(meeting.id, stream.id, "too late", 3_000))
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))));

    assert_not_found(
        store.get_stream(&org, StreamId::generate()).await,
        "unknown stream",
    );
    assert_not_found(
        store.close_stream(&org, StreamId::generate()).await,
        "close unknown stream",
    );
    assert_not_found(
        store
            .open_stream(
                &org,
                NewStream {
                    meeting_id: scribe_core::MeetingId::generate(),
                    bot_id: None,
                    resume_token_hash: random_token_hash(),
                },
            )
            .await,
        "stream into an unknown meeting",
    );
}
