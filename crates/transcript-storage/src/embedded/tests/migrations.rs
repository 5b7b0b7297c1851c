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
    let (user, email, key) = (
        scribe_core::UserId::generate(),
        crate::conformance::LEGACY_EMAIL,
        crate::conformance::LEGACY_EMAIL.to_lowercase(),
    );
    let (org, meeting, stream, segment) = (
        scribe_core::OrgId::generate(),
        scribe_core::MeetingId::generate(),
        scribe_core::StreamId::generate(),
        scribe_core::SegmentId::generate(),
    );
    {
        let raw = rusqlite::Connection::open(&path).expect("raw");
        raw.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY,
             name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT;",
        )
        .expect("history table");
        raw.execute_batch(MIGRATIONS[0].sql).expect("version 1");
        raw.execute_batch(&format!(
            "INSERT INTO schema_migrations VALUES (1, 'initial', 0);
             INSERT INTO organisations VALUES ('{org}', 'Old Clinic', 0);
             INSERT INTO users (id, org_id, email, email_key, password_hash, role, created_at_ms)
                 VALUES ('{user}', '{org}', '{email}', '{key}', '$argon2id$v=19$x', 'admin', 0);
             INSERT INTO meetings (id, org_id, title, created_at_ms, last_seq)
                 VALUES ('{meeting}', '{org}', 'Ward round with Jane Roe', 0, 1);
             INSERT INTO streams (id, org_id, meeting_id, resume_token_hash, opened_at_ms)
                 VALUES ('{stream}', '{org}', '{meeting}', x'{:064x}', 0);
             INSERT INTO segments (id, org_id, meeting_id, stream_id, seq, start_ms, end_ms,
                                   text, words, speaker, language, created_at_ms)
                 VALUES ('{segment}', '{org}', '{meeting}', '{stream}', 1, 0, 900,
                         'the zygomatic arch', '[]', 'Dr Quixotic', 'en', 0);",
            1
        ))
        .expect("plain rows");
    }
    let store = EmbeddedStore::open(dir.path(), &test_keyring())
        .await
        .expect("migrates");
    crate::conformance::legacy_rows_read_back(&store, org, meeting).await;
    let raw = rusqlite::Connection::open(&path).expect("raw");
    let stored: (String, String, String, String, String) = raw
        .query_row(
            "SELECT m.title, s.text, s.speaker, u.email, u.email_key FROM meetings m
             JOIN segments s ON s.meeting_id = m.id JOIN users u ON u.org_id = m.org_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect("raw row");
    for value in [stored.0, stored.1, stored.2, stored.3] {
        assert!(value.starts_with("enc:v1:1:"), "{value}");
    }
    assert!(stored.4.starts_with("bi1:"), "{}", stored.4);
}
