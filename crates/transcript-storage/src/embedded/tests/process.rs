//! A second *process* on the same data folder: this test binary re-runs itself to execute
//! `child_writer`, which appends finals to the same meeting while the parent does. Unlike
//! two handles in one process, this goes through SQLite's cross-process file locks and the
//! shared WAL index.
//!
//! Each writer commits every final together with its stream's acknowledged audio (a running
//! count), so each can see the other's progress. A writer stops only after it has seen a
//! final of the other committed and then written one more: so the two runs must interleave.

use crate::conformance::test_keyring;
use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use scribe_core::{MeetingId, OrgId, OrgScope, StreamId};

use crate::conformance::readable;
use crate::conformance::{final_for, new_meeting, new_org, new_stream};
use crate::store::Store;
use crate::EmbeddedStore;

/// Tells the child what to do: `dir|org|meeting|its stream|the parent's stream`.
const CHILD_ENV: &str = "TRANSCRIPT_STORAGE_TEST_CHILD";
/// Finals each writer writes at least.
const AT_LEAST: u64 = 50;
/// A writer that has not seen the other by then gives up.
const AT_MOST: u64 = 5_000;

/// The stream's acknowledged audio: 1 = ready, 1 + n = n finals written.
async fn progress(store: &EmbeddedStore, org: OrgScope, stream: StreamId) -> u64 {
    store
        .get_stream(&org, stream)
        .await
        .map_or(0, |s| s.acked_audio_ms)
}

/// Polls until `stream` reports at least `at_least`, for up to ten seconds.
async fn wait_for(store: &EmbeddedStore, org: OrgScope, stream: StreamId, at_least: u64) {
    for _ in 0..10_000 {
        if progress(store, org, stream).await >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for the other process");
}

/// Appends finals on `mine` until it has written `AT_LEAST` and, after seeing a final of
/// `theirs` committed, one more. Returns the seqs it was given.
async fn write_until_overlap(
    store: &EmbeddedStore,
    org: OrgScope,
    meeting: MeetingId,
    mine: StreamId,
    theirs: StreamId,
    label: &str,
) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut saw_theirs = false;
    for n in 1..=AT_MOST {
        let mut new = final_for(meeting, mine, &format!("{label} {n}"), n);
        new.acked_audio_ms = Some(1 + n);
        seqs.push(store.append_final(&org, new).await.expect("append"));
        if saw_theirs && n >= AT_LEAST {
            return seqs;
        }
        saw_theirs = progress(store, org, theirs).await >= 2;
    }
    panic!("{label}: the other process never wrote");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_writes_the_same_meeting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("open");
    let org = new_org(&store, "two processes").await;
    let meeting = new_meeting(&store, &org, "Shared").await;
    let mine = new_stream(&store, &org, meeting.id).await;
    let theirs = new_stream(&store, &org, meeting.id).await;

    let exe = std::env::current_exe().expect("test binary");
    let spec = format!(
        "{}|{}|{}|{}|{}",
        dir.path().display(),
        org.org_id(),
        meeting.id,
        theirs.id,
        mine.id
    );
    // `output()` blocks until the child exits, so it runs on a blocking thread.
    let child = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args([
                "embedded::tests::process::child_writer",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, spec)
            .env(
                "TRANSCRIPT_STORAGE_TEST_MASTER_KEY",
                crate::conformance::test_master_key(),
            )
            .output()
    });

    // Start together: the child marks its stream ready, the parent answers on its own.
    wait_for(&store, org, theirs.id, 1).await;
    store.ack_stream_audio(&org, mine.id, 1).await.expect("go");
    let my_seqs = write_until_overlap(&store, org, meeting.id, mine.id, theirs.id, "parent").await;

    let out = child.await.expect("join").expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    assert!(stdout.contains("1 passed"), "child ran no test: {stdout}");

    let finals = readable(store.list_finals(&org, meeting.id).await.expect("list"));
    let seqs: Vec<u64> = finals.iter().map(|f| f.seq).collect();
    assert_eq!(
        seqs,
        (1..=finals.len() as u64).collect::<Vec<_>>(),
        "gapless"
    );
    let switches = finals
        .windows(2)
        .filter(|w| w[0].stream_id != w[1].stream_id)
        .count();
    assert!(switches >= 2, "the writers did not interleave");

    let mine_stored: HashSet<u64> = finals
        .iter()
        .filter(|f| f.stream_id == mine.id)
        .map(|f| f.seq)
        .collect();
    assert_eq!(mine_stored, my_seqs.into_iter().collect());
    let from_child = finals.iter().filter(|f| f.stream_id == theirs.id).count() as u64;
    assert!(from_child >= AT_LEAST);
    // Every final the child committed is here, and its acknowledgement matches them.
    assert_eq!(progress(&store, org, theirs.id).await, 1 + from_child);

    // The child also created a meeting; this process lists it.
    let titles: Vec<String> = store
        .list_meetings(&org)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.title)
        .collect();
    assert!(
        titles.iter().any(|t| t == "made by the child"),
        "{titles:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by another_process_writes_the_same_meeting"]
async fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [dir, org, meeting, stream, parent] = parts[..] else {
        panic!("bad child spec");
    };
    let org = OrgScope::for_org(org.parse::<OrgId>().expect("org id"));
    let meeting: MeetingId = meeting.parse().expect("meeting id");
    let stream: StreamId = stream.parse().expect("stream id");
    let parent: StreamId = parent.parse().expect("parent stream id");

    let store = EmbeddedStore::open(dir, &test_keyring())
        .await
        .expect("open in child");
    // The parent's meeting is visible here.
    store
        .get_meeting(&org, meeting)
        .await
        .expect("parent's meeting");
    store
        .create_meeting(
            &org,
            crate::NewMeeting {
                title: "made by the child".into(),
                created_by: None,
            },
        )
        .await
        .expect("create");
    store
        .ack_stream_audio(&org, stream, 1)
        .await
        .expect("ready");
    wait_for(&store, org, parent, 1).await;
    write_until_overlap(&store, org, meeting, stream, parent, "child").await;
}
