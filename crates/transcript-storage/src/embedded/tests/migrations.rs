//! Migrations: recorded once, applied on open, safe when several processes open at once, and
//! the list in code matches the files.

use crate::conformance::new_org;
use crate::conformance::test_keyring;
use crate::embedded::migrate::{latest_version, MIGRATIONS};
use crate::error::StoreError;
use crate::store::Store;
use crate::EmbeddedStore;

fn recorded(store: &EmbeddedStore) -> Vec<(i64, String)> {
    let raw = rusqlite::Connection::open(store.database_path()).expect("raw open");
    let mut stmt = raw
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

#[test]
fn files_match_the_list() {
    crate::migration::assert_files_match("embedded", MIGRATIONS);
    assert_eq!(EmbeddedStore::schema_version(), latest_version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_data_and_applies_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let org = {
        let store = EmbeddedStore::open(dir.path(), &test_keyring())
            .await
            .expect("open");
        new_org(&store, "reopen").await
    };
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("reopen");
    store
        .get_organisation(org.org_id())
        .await
        .expect("still there");
    let expected: Vec<(i64, String)> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    assert_eq!(recorded(&store), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_opens_migrate_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let opens = (0..4).map(|_| {
        let path = dir.path().to_owned();
        tokio::spawn(async move { EmbeddedStore::open(path, &test_keyring()).await })
    });
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.expect("task").expect("open"));
    }
    assert_eq!(recorded(&stores[0]).len(), MIGRATIONS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("open")
        .database_path()
        .to_owned();
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.execute(
        "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (9999, 'future', 0)",
        [],
    )
    .expect("insert");
    drop(raw);
    match EmbeddedStore::open(dir.path(), &test_keyring()).await {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 9999);
            assert_eq!(supported, latest_version());
        }
        other => panic!("expected SchemaTooNew, got {:?}", other.map(|_| ())),
    }
}

/// A folder written before encryption (schema version 1, text in clear) is sealed by the
/// migration that introduced encryption, and reads back the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_a_pre_encryption_folder_seals_its_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(crate::EMBEDDED_DB_FILE);
    let legacy = crate::conformance::legacy_rows(&format!("x'{:064x}'", 1));
    {
        let raw = rusqlite::Connection::open(&path).expect("raw");
        raw.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY,
             name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT;",
        )
        .expect("history table");
        raw.execute_batch(MIGRATIONS[0].sql).expect("version 1");
        raw.execute_batch(&legacy.sql).expect("plain rows");
    }
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("migrates");
    crate::conformance::legacy_rows_read_back(&store, legacy.org, legacy.meeting).await;
    let raw = rusqlite::Connection::open(&path).expect("raw");
    let stored = raw
        .query_row(crate::conformance::LEGACY_RAW_COLUMNS, [], |r| {
            Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
        })
        .expect("raw row");
    crate::conformance::assert_legacy_sealed(stored);
}
