//! The storage conformance suite: behaviour every [`Store`] backend must show, written once.
//!
//! A backend implements [`Harness`] (a fresh, empty store per test, and a second independent
//! handle on the same data) and instantiates every test with
//! `transcript_storage::store_conformance_suite!(MyHarness);` inside a test module (the
//! calling crate needs `tokio` with the `macros` and `rt-multi-thread` features). Other crates
//! get this module through the `conformance` cargo feature.
//!
//! Names and emails are made unique per test, so a harness may share one database (e.g. one
//! PostgreSQL schema) between tests.

mod access;
mod identity;
mod jobs;
mod keys;
mod meetings;
pub mod postgres;
mod segments;
mod sessions;
mod sharing;
mod streams;
mod tickets;

use std::sync::Arc;

use async_trait::async_trait;
use scribe_core::{MeetingId, OrgScope, Segment, SegmentId, StreamId, Word};

use crate::model::{
    FinalRead, Meeting, NewFinal, NewMeeting, NewStream, ResumeTokenHash, StoredFinal, Stream,
};
use crate::store::Store;

pub use access::{
    grants_give_and_take_meeting_access, integrations_are_sealed_per_organisation,
    invites_are_bound_single_use_and_expire, org_policy_round_trips_and_reaches_login,
};
pub use identity::{bots_create_and_revoke, organisations_create_get_find, users_create_and_login};
pub use jobs::jobs_queue_progress_and_finish;
pub use keys::{
    assert_legacy_sealed, data_keys_rotate_and_reencrypt, flip_one_byte, legacy_rows,
    legacy_rows_read_back, only_the_tampered_final_is_unreadable, secret_meeting, LegacyRows,
    SecretMeeting, LEGACY_EMAIL, LEGACY_RAW_COLUMNS, SECRET_WORDS,
};
pub use meetings::{cross_org_isolation, meetings_create_get_list_delete};
pub use segments::{
    append_final_retry_is_idempotent, delete_meeting_removes_its_finals,
    finals_follow_stream_rules, list_finals_since_seq, partials_share_the_seq_counter,
    seq_gapless_under_concurrent_appends, unicode_text_round_trips,
};
pub use sessions::{
    disabling_a_user_ends_every_session, lockout_counters_and_second_factor,
    sessions_rotate_detect_reuse_and_end,
};
pub use sharing::{two_handles_append_concurrently, two_handles_see_each_others_writes};
pub use streams::streams_resume_and_ack;
pub use tickets::tickets_are_taken_once_anywhere_and_limited;

/// What a backend provides to run the suite.
#[async_trait]
pub trait Harness: Send + Sync + Sized + 'static {
    /// A fresh store (its own folder or database).
    async fn start() -> Self;
    /// The store under test.
    fn store(&self) -> Arc<dyn Store>;
    /// A second, independent handle on the same data, as another process would open it.
    async fn second_handle(&self) -> Arc<dyn Store>;
}

/// Instantiates every conformance test as a `#[tokio::test]` for the given [`Harness`] type.
#[macro_export]
macro_rules! store_conformance_suite {
    ($harness:ty) => {
        $crate::store_conformance_suite!(@tests $harness;
            organisations_create_get_find,
            users_create_and_login,
            bots_create_and_revoke,
            meetings_create_get_list_delete,
            cross_org_isolation,
            streams_resume_and_ack,
            seq_gapless_under_concurrent_appends,
            list_finals_since_seq,
            append_final_retry_is_idempotent,
            partials_share_the_seq_counter,
            finals_follow_stream_rules,
            unicode_text_round_trips,
            delete_meeting_removes_its_finals,
            two_handles_see_each_others_writes,
            two_handles_append_concurrently,
            data_keys_rotate_and_reencrypt,
            jobs_queue_progress_and_finish,
            tickets_are_taken_once_anywhere_and_limited,
            sessions_rotate_detect_reuse_and_end,
            disabling_a_user_ends_every_session,
            lockout_counters_and_second_factor,
            grants_give_and_take_meeting_access,
            invites_are_bound_single_use_and_expire,
            org_policy_round_trips_and_reaches_login,
            integrations_are_sealed_per_organisation,
        );
    };
    (@tests $harness:ty; $($test:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let harness = <$harness as $crate::conformance::Harness>::start().await;
                $crate::conformance::$test(&harness).await;
            }
        )+
    };
}

/// A new organisation with a unique name, as its scope.
pub async fn new_org(store: &dyn Store, label: &str) -> OrgScope {
    let name = format!("{label} {}", uuid::Uuid::new_v4());
    let org = store
        .create_organisation(&name)
        .await
        .expect("create organisation");
    OrgScope::for_org(org.id)
}

/// A new meeting of `scope`.
pub async fn new_meeting(store: &dyn Store, scope: &OrgScope, title: &str) -> Meeting {
    store
        .create_meeting(
            scope,
            NewMeeting {
                title: title.into(),
                created_by: None,
            },
        )
        .await
        .expect("create meeting")
}

/// The master key of this test process: `TRANSCRIPT_STORAGE_TEST_MASTER_KEY` when a parent
/// test process handed it down (another process on the same data), else random.
pub fn test_master_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        std::env::var("TRANSCRIPT_STORAGE_TEST_MASTER_KEY").unwrap_or_else(|_| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        })
    })
}

/// The keyring of this test process (every store a test opens shares it, as the processes of
/// one deployment share the master key).
pub fn test_keyring() -> crate::Keyring {
    static RING: std::sync::OnceLock<crate::Keyring> = std::sync::OnceLock::new();
    RING.get_or_init(|| {
        crate::Keyring::new(test_master_key().as_bytes(), &[]).expect("test keyring")
    })
    .clone()
}

/// A random resume-token hash.
pub fn random_token_hash() -> ResumeTokenHash {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    ResumeTokenHash(bytes)
}

/// A new bot-less stream into `meeting`, with a random resume token.
pub async fn new_stream(store: &dyn Store, scope: &OrgScope, meeting: MeetingId) -> Stream {
    store
        .open_stream(
            scope,
            NewStream {
                meeting_id: meeting,
                bot_id: None,
                resume_token_hash: random_token_hash(),
            },
        )
        .await
        .expect("open stream")
}

/// A final with one word per whitespace-separated token of `text`, starting at `start_ms`.
pub fn final_for(meeting: MeetingId, stream: StreamId, text: &str, start_ms: u64) -> NewFinal {
    let words: Vec<Word> = text
        .split_whitespace()
        .zip(0u64..)
        .map(|(w, i)| Word {
            word: w.into(),
            start_ms: start_ms + i * 100,
            end_ms: start_ms + i * 100 + 90,
            confidence: 0.5,
        })
        .collect();
    let end_ms = start_ms + 100 * words.len() as u64;
    NewFinal {
        segment_id: SegmentId::generate(),
        meeting_id: meeting,
        stream_id: stream,
        segment: Segment {
            start_ms,
            end_ms,
            text: text.into(),
            words,
        },
        speaker: None,
        language: Some("en".into()),
        acked_audio_ms: None,
    }
}

/// The finals of a listing, every one of which must be readable.
#[track_caller]
pub fn readable(finals: Vec<FinalRead>) -> Vec<StoredFinal> {
    finals
        .into_iter()
        .map(|f| f.unwrap_or_else(|u| panic!("final {} unreadable: {}", u.id, u.reason)))
        .collect()
}

/// Asserts that `result` failed with `NotFound`.
#[track_caller]
pub fn assert_not_found<T>(result: crate::StoreResult<T>, what: &str) {
    match result {
        Err(crate::StoreError::NotFound) => {}
        Err(other) => panic!("{what}: expected NotFound, got {other}"),
        Ok(_) => panic!("{what}: expected NotFound, got a value"),
    }
}
