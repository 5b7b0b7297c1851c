//! Migrations on PostgreSQL: listed files, explicit `migrate`, refusal when behind or ahead,
//! several servers starting at once.

use crate::conformance::postgres::fresh_database;
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
    let behind = PostgresStore::connect(&options)
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

    let first = PostgresStore::migrate(&options).await.expect("migrate");
    assert_eq!(first.newly_applied, vec![latest_version()]);
    assert_eq!(first.applied, latest_version());
    let again = PostgresStore::migrate(&options)
        .await
        .expect("migrate again");
    assert!(again.newly_applied.is_empty());
    let store = PostgresStore::connect(&options)
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
    let newer = PostgresStore::connect(&options)
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
            tokio::spawn(async move { PostgresStore::connect(&options).await.map(|_| ()) })
        })
        .collect();
    for start in starts {
        start.await.expect("join").expect("every server starts");
    }
    let store = PostgresStore::connect(&options).await.expect("open");
    let client = store.client().await.expect("client");
    let rows: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, i64::try_from(MIGRATIONS.len()).expect("small"));
}
