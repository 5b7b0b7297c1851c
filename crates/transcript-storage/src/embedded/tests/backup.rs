//! Backups taken while the store is in use restore to the same transcripts; a restore never
//! runs under a user of the folder, never takes an unsound file, and keeps what it replaced.

use crate::conformance::test_keyring;
use std::os::unix::fs::PermissionsExt;

use crate::conformance::readable;
use crate::conformance::{final_for, new_meeting, new_org, new_stream};
use crate::store::Store;
use crate::{check_backup, restore_backup, EmbeddedStore, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_holds_exactly_what_was_backed_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("open");
    let org = new_org(&store, "clinic").await;
    let meeting = new_meeting(&store, &org, "Ward round").await;
    let stream = new_stream(&store, &org, meeting.id).await;
    for (i, text) in ["good morning", "bed four is stable", "next patient"]
        .iter()
        .enumerate()
    {
        store
            .append_final(
                &org,
                final_for(meeting.id, stream.id, text, i as u64 * 2_000),
            )
            .await
            .expect("final");
    }
    let before = readable(store.list_finals(&org, meeting.id).await.expect("finals"));

    let out = tempfile::tempdir().expect("out dir");
    let file = out.path().join("nightly.sqlite3");
    let summary = store.backup(&file).await.expect("backup while open");
    assert_eq!((summary.meetings, summary.segments), (1, 3));
    assert_eq!(
        std::fs::metadata(&file).expect("file").permissions().mode() & 0o777,
        0o600,
        "a backup holds every transcript: owner-only"
    );
    assert!(
        matches!(store.backup(&file).await, Err(StoreError::Conflict(_))),
        "an existing file is never overwritten"
    );

    // Life goes on after the backup: more words, a deleted meeting.
    store
        .append_final(
            &org,
            final_for(meeting.id, stream.id, "after the backup", 9_000),
        )
        .await
        .expect("final");
    store
        .delete_meeting(&org, meeting.id)
        .await
        .expect("delete");

    // Not while the folder is open.
    let busy = restore_backup(dir.path(), &file, &test_keyring());
    assert!(matches!(busy, Err(StoreError::Conflict(_))), "{busy:?}");
    drop(store);

    // Not without the master key the backup was written under: refused, nothing replaced.
    let stranger = restore_backup(dir.path(), &file, &crate::Keyring::random());
    match stranger {
        Err(StoreError::KeyUnavailable(why)) => assert!(why.contains("master_key"), "{why}"),
        other => panic!("expected KeyUnavailable, got {other:?}"),
    }

    let outcome = restore_backup(dir.path(), &file, &test_keyring()).expect("restore");
    assert_eq!(outcome.summary, summary);
    let previous = outcome.previous.expect("the replaced database is kept");
    assert!(previous.exists());

    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("reopen");
    let after = readable(store.list_finals(&org, meeting.id).await.expect("finals"));
    assert_eq!(
        after, before,
        "the same finals, seqs and ids as at backup time"
    );

    // The replaced database is intact: it still has the later state.
    let old = tempfile::tempdir().expect("old dir");
    std::fs::copy(&previous, old.path().join(crate::EMBEDDED_DB_FILE)).expect("copy");
    let old_store = EmbeddedStore::open(old.path(), &test_keyring())
        .await
        .expect("open old");
    assert!(matches!(
        old_store.get_meeting(&org, meeting.id).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsound_backups_are_refused_before_anything_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = EmbeddedStore::open(dir.path(), &test_keyring())
            .await
            .expect("open");
        new_org(&store, "kept").await;
    }
    let db = dir.path().join(crate::EMBEDDED_DB_FILE);
    let original = std::fs::read(&db).expect("db");
    let junk = tempfile::tempdir().expect("junk dir");

    let text = junk.path().join("notes.txt");
    std::fs::write(&text, "not a database at all, just some words").expect("write");
    assert!(matches!(
        check_backup(&text, &test_keyring()),
        Err(StoreError::Corrupt(_))
    ));

    let empty_sqlite = junk.path().join("other.sqlite3");
    rusqlite::Connection::open(&empty_sqlite)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);"))
        .expect("other db");
    assert!(matches!(
        check_backup(&empty_sqlite, &test_keyring()),
        Err(StoreError::Corrupt(_))
    ));

    let missing = junk.path().join("missing.sqlite3");
    for bad in [&text, &empty_sqlite, &missing] {
        assert!(
            restore_backup(dir.path(), bad, &test_keyring()).is_err(),
            "{}",
            bad.display()
        );
    }
    assert_eq!(std::fs::read(&db).expect("db"), original, "nothing changed");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("before-restore") && !n.contains("restoring")),
        "{names:?}"
    );
}
