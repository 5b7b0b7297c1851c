//! Migrations on PostgreSQL: listed files, explicit `migrate`, refusal when behind or ahead,
//! several servers starting at once.

use crate::conformance::postgres::fresh_database;
use crate::conformance::test_keyring;
use crate::error::StoreError;
use crate::postgres::migrate::{latest_version, MIGRATIONS};
use crate::postgres::{PostgresOptions, PostgresStore};

#[test]
fn files_match_the_list() {
    crate::migration::assert_files_match("postgres", MIGRATIONS);
    assert_eq!(PostgresStore::schema_version(), latest_version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_once_and_opening_checks_the_version() {
    let mut options = PostgresOptions::new(fresh_database("migrations"));
    options.migrate = false;
    let behind = PostgresStore::connect(&options, &test_keyring())
        .await
        .expect_err("an empty database is behind");
    assert!(
        matches!(behind, StoreError::SchemaBehind { found: 0, .. }),
        "{behind}"
    );
    assert!(
        behind.to_string().contains("nexus-scribe migrate"),
        "{behind}"
    );

    let first = PostgresStore::migrate(&options, &test_keyring())
        .await
        .expect("migrate");
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(first.newly_applied, all);
    assert_eq!(first.applied, latest_version());
    let again = PostgresStore::migrate(&options, &test_keyring())
        .await
        .expect("migrate again");
    assert!(again.newly_applied.is_empty());
    let store = PostgresStore::connect(&options, &test_keyring())
        .await
        .expect("current schema opens");

    // A database migrated by a newer build is refused, not misread.
    let client = store.client().await.expect("client");
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (9999, 'future', 0)",
            &[],
        )
        .await
        .expect("record a future migration");
    let newer = PostgresStore::connect(&options, &test_keyring())
        .await
        .expect_err("a newer schema is refused");
    assert!(
        matches!(newer, StoreError::SchemaTooNew { found: 9999, .. }),
        "{newer}"
    );
    client
        .execute("DELETE FROM schema_migrations WHERE version = 9999", &[])
        .await
        .expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_together_migrate_once() {
    let options = PostgresOptions::new(fresh_database("migrations_race"));
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let options = options.clone();
            tokio::spawn(async move {
                PostgresStore::connect(&options, &test_keyring())
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for start in starts {
        start.await.expect("join").expect("every server starts");
    }
    let store = PostgresStore::connect(&options, &test_keyring())
        .await
        .expect("open");
    let client = store.client().await.expect("client");
    let rows: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, i64::try_from(MIGRATIONS.len()).expect("small"));
}

/// A database written before encryption (schema version 1, text in clear) is sealed by the
/// migration that introduced encryption, and reads back the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_a_pre_encryption_database_seals_its_text() {
    let options = PostgresOptions::new(fresh_database("legacy"));
    let legacy = crate::conformance::legacy_rows("decode(repeat('01', 32), 'hex')");
    let (mut raw, connection) = tokio_postgres::connect(&options.url, tokio_postgres::NoTls)
        .await
        .expect("raw connection");
    tokio::spawn(connection);
    let tx = raw.transaction().await.expect("begin");
    tx.batch_execute(
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY,
         name text NOT NULL, applied_at_ms bigint NOT NULL);",
    )
    .await
    .expect("history");
    tx.batch_execute(MIGRATIONS[0].sql)
        .await
        .expect("version 1");
    tx.batch_execute(&format!(
        "SELECT set_config('nexus_scribe.org_id', '{}', true); {}",
        legacy.org, legacy.sql
    ))
    .await
    .expect("plain rows");
    tx.commit().await.expect("commit");

    let store = PostgresStore::connect(&options, &test_keyring())
        .await
        .expect("migrates");
    crate::conformance::legacy_rows_read_back(&store, legacy.org, legacy.meeting).await;
    let tx = raw.transaction().await.expect("begin");
    tx.execute(
        "SELECT set_config('nexus_scribe.org_id', $1, true)",
        &[&legacy.org.to_string()],
    )
    .await
    .expect("scope");
    let row = tx
        .query_one(crate::conformance::LEGACY_RAW_COLUMNS, &[])
        .await
        .expect("raw row");
    crate::conformance::assert_legacy_sealed(std::array::from_fn(|col| row.get(col)));
}
