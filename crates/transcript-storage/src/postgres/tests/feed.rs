//! The change feed between two handles (as two servers would hold) on one database.

use std::time::Duration;

use tokio::sync::broadcast::Receiver;

use super::PostgresHarness;
use crate::change::Change;
use crate::conformance::{final_for, new_meeting, new_org, new_stream, Harness};
use crate::store::Store;

/// The next change of `meeting` (other tests share the database and write meanwhile).
async fn next_change(
    rx: &mut Receiver<Change>,
    meeting: scribe_core::MeetingId,
    within: Duration,
) -> Option<Change> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let change = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .ok()?
            .ok()?;
        match change {
            Change::Final { meeting_id, .. } | Change::Deleted { meeting_id, .. }
                if meeting_id == meeting =>
            {
                return Some(change)
            }
            _ => {}
        }
    }
}

/// Appends finals through `writer` until `rx` has seen one: the listener's LISTEN has taken
/// effect (it starts in the background). Returns the last seq written.
async fn until_listening(
    writer: &dyn Store,
    rx: &mut Receiver<Change>,
    scope: &scribe_core::OrgScope,
    meeting: scribe_core::MeetingId,
    stream: scribe_core::StreamId,
) {
    for i in 0..100 {
        writer
            .append_final(scope, final_for(meeting, stream, "warm up", i * 1000))
            .await
            .expect("append");
        if next_change(rx, meeting, Duration::from_millis(100))
            .await
            .is_some()
        {
            while rx.try_recv().is_ok() {}
            return;
        }
    }
    panic!("the change feed never delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_handle_hears_committed_finals_and_deletions_only() {
    let harness = PostgresHarness::start().await;
    let a = harness.store();
    let b = harness.second_handle().await;
    let (mut a_rx, mut b_rx) = (
        a.changes().expect("postgres has a feed"),
        b.changes().expect("postgres has a feed"),
    );
    let scope = new_org(&*a, "feed").await;
    let meeting = new_meeting(&*a, &scope, "shared").await;
    let stream = new_stream(&*a, &scope, meeting.id).await;
    until_listening(&*a, &mut b_rx, &scope, meeting.id, stream.id).await;
    until_listening(&*b, &mut a_rx, &scope, meeting.id, stream.id).await;

    // A final stored through A reaches B with its seq, and not A itself.
    let seq = a
        .append_final(
            &scope,
            final_for(meeting.id, stream.id, "hello there", 500_000),
        )
        .await
        .expect("append");
    let heard = next_change(&mut b_rx, meeting.id, Duration::from_secs(5)).await;
    assert_eq!(
        heard,
        Some(Change::Final {
            org_id: scope.org_id(),
            meeting_id: meeting.id,
            seq
        })
    );
    assert_eq!(
        next_change(&mut a_rx, meeting.id, Duration::from_millis(300)).await,
        None,
        "own change echoed"
    );

    // A rolled-back write announces nothing: the next change is the next committed one.
    let closed = new_stream(&*a, &scope, meeting.id).await;
    a.close_stream(&scope, closed.id).await.expect("close");
    a.append_final(&scope, final_for(meeting.id, closed.id, "too late", 0))
        .await
        .expect_err("closed stream");
    let seq = a
        .append_final(
            &scope,
            final_for(meeting.id, stream.id, "committed", 600_000),
        )
        .await
        .expect("append");
    let heard = next_change(&mut b_rx, meeting.id, Duration::from_secs(5)).await;
    assert!(
        matches!(heard, Some(Change::Final { seq: s, .. }) if s == seq),
        "{heard:?}"
    );

    // Deleting the meeting is announced.
    a.delete_meeting(&scope, meeting.id).await.expect("delete");
    let heard = next_change(&mut b_rx, meeting.id, Duration::from_secs(5)).await;
    assert_eq!(
        heard,
        Some(Change::Deleted {
            org_id: scope.org_id(),
            meeting_id: meeting.id
        })
    );
}
