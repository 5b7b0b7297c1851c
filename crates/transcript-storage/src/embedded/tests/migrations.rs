//! Migrations: recorded once, applied on open, safe when several processes open at once, and
//! the list in code matches the files.

use crate::conformance::new_org;
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
        let store = EmbeddedStore::open(dir.path()).await.expect("open");
        new_org(&store, "reopen").await
    };
    let store = EmbeddedStore::open(dir.path()).await.expect("reopen");
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
        tokio::spawn(async move { EmbeddedStore::open(path).await })
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
    let path = EmbeddedStore::open(dir.path())
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
    match EmbeddedStore::open(dir.path()).await {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 9999);
            assert_eq!(supported, latest_version());
        }
        other => panic!("expected SchemaTooNew, got {:?}", other.map(|_| ())),
    }
}
