//! Encryption at rest, seen from outside the store: the database files hold no transcript
//! text, a flipped byte makes that one final unreadable (the rest reads), and another master
//! key reads nothing.

use crate::conformance::{
    flip_one_byte, only_the_tampered_final_is_unreadable, secret_meeting, test_keyring,
    SECRET_WORDS,
};
use crate::error::StoreError;
use crate::store::Store;
use crate::{EmbeddedStore, Keyring, EMBEDDED_DB_FILE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_hold_no_text_and_a_flipped_byte_fails_only_its_final() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("open");
    let secret = secret_meeting(&store).await;
    let (org, meeting, ids) = (secret.org, secret.meeting, secret.finals);

    // Every file of the folder (database, WAL, shared memory), byte for byte.
    for entry in std::fs::read_dir(dir.path()).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            for secret in SECRET_WORDS {
                assert!(!text.contains(secret), "{secret} in {}", path.display());
            }
        }
    }

    // Flip one byte of the second final's stored text, as someone with the file could.
    let raw = rusqlite::Connection::open(dir.path().join(EMBEDDED_DB_FILE)).expect("raw open");
    let id = ids[1].to_string();
    let sealed: String = raw
        .query_row("SELECT text FROM segments WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .expect("sealed text");
    raw.execute(
        "UPDATE segments SET text = ?2 WHERE id = ?1",
        (&id, flip_one_byte(&sealed)),
    )
    .expect("tamper");
    only_the_tampered_final_is_unreadable(&store, &org, meeting.id, ids[1]).await;
    drop(store);

    // A copy of the folder opened with another master key reads nothing.
    let stranger = EmbeddedStore::open(dir.path(), &Keyring::random())
        .await
        .expect("opens: the schema is not secret");
    let err = stranger
        .get_meeting(&org, meeting.id)
        .await
        .expect_err("title");
    assert!(matches!(err, StoreError::KeyUnavailable(_)), "{err}");
    let finals = stranger.list_finals(&org, meeting.id).await.expect("list");
    assert!(finals.iter().all(Result::is_err), "nothing readable");
}

/// The documented master-key rotation: the new key with the old one as previous keeps every
/// value readable and every login working; `rewrap` moves data keys and email indexes to the
/// new key; after that the old key is not needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_rotation_keeps_data_and_logins_and_rewrap_retires_the_old_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = Keyring::new(b"the old master key, long enough", &[]).expect("old");
    let secret = {
        let store = EmbeddedStore::open(dir.path(), &old).await.expect("open");
        secret_meeting(&store).await
    };
    let check = |store: EmbeddedStore| {
        let secret = &secret;
        async move {
            let login = store
                .find_login_by_email(&secret.email)
                .await
                .expect("lookup")
                .expect("login finds the user");
            assert_eq!(login.user.email, secret.email);
            let finals = store
                .list_finals(&secret.org, secret.meeting.id)
                .await
                .expect("finals");
            assert!(finals.iter().all(Result::is_ok), "everything reads");
            store
        }
    };
    let rotating = Keyring::new(
        b"the new master key, long enough",
        &[b"the old master key, long enough"],
    )
    .expect("new with previous");
    let store = check(
        EmbeddedStore::open(dir.path(), &rotating)
            .await
            .expect("open during rotation"),
    )
    .await;
    assert!(store.rewrap_data_keys().await.expect("rewrap") >= 1);
    drop(store);
    let new = Keyring::new(b"the new master key, long enough", &[]).expect("new alone");
    check(
        EmbeddedStore::open(dir.path(), &new)
            .await
            .expect("open with the new key alone"),
    )
    .await;
}
