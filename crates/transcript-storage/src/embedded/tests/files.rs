//! The data folder is owner-only, and deleted rows are really gone from the file.

use crate::conformance::test_keyring;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::conformance::{final_for, new_meeting, new_org, new_stream};
use crate::store::Store;
use crate::EmbeddedStore;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_and_files_are_owner_only() {
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("data").join("store");
    let store = EmbeddedStore::open(&dir, &test_keyring())
        .await
        .expect("open");
    // Write something so SQLite creates the -wal and -shm files.
    new_org(&store, "perms").await;

    assert_eq!(mode(&dir), 0o700, "data folder");
    let db = store.database_path().to_owned();
    assert_eq!(mode(&db), 0o600, "database file");
    for suffix in ["-wal", "-shm"] {
        let side = format!("{}{suffix}", db.display());
        assert_eq!(mode(Path::new(&side)), 0o600, "{suffix} file");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_permissions_are_tightened() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let db = dir.path().join(crate::EMBEDDED_DB_FILE);
    std::fs::write(&db, b"").expect("touch");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("open");
    new_org(&store, "perms").await;
    assert_eq!(mode(dir.path()), 0o700);
    assert_eq!(mode(&db), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_meeting_removes_its_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("open");
    let org = new_org(&store, "erase").await;
    let meeting = new_meeting(&store, &org, "Private consult").await;
    let stream = new_stream(&store, &org, meeting.id).await;
    store
        .append_final(
            &org,
            final_for(meeting.id, stream.id, "words that must go", 0),
        )
        .await
        .expect("append");
    store
        .delete_meeting(&org, meeting.id)
        .await
        .expect("delete");

    let raw = rusqlite::Connection::open(store.database_path()).expect("raw open");
    for table in ["meetings", "streams", "segments"] {
        let n: i64 = raw
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "{table} rows left after delete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_rules_not_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("open");
    let name = "Confidential Org Name";
    store.create_organisation(name).await.expect("create");
    let err = store
        .create_organisation(name)
        .await
        .expect_err("duplicate refused");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("Confidential"), "{shown}");
    assert!(!shown.to_lowercase().contains("insert"), "{shown}");
}
