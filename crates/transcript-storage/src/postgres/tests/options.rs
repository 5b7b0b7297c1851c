//! Connection settings: refused with a message naming the problem, never echoing credentials.

use crate::conformance::test_keyring;
use std::time::Duration;

use crate::conformance::postgres::{server_params, TEST_ROLE};
use crate::error::StoreError;
use crate::postgres::{PostgresOptions, PostgresStore};

#[tokio::test]
async fn a_password_in_the_url_is_refused_without_repeating_it() {
    for url in [
        "postgres://nexus:hunter2-secret@db.example.org/nexus",
        "host=db.example.org user=nexus password=hunter2-secret dbname=nexus",
    ] {
        let err = PostgresStore::connect(&PostgresOptions::new(url), &test_keyring())
            .await
            .expect_err("password in URL");
        let text = err.to_string();
        assert!(matches!(err, StoreError::Config(_)), "{text}");
        assert!(text.contains("database_password secret"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let garbage = PostgresStore::connect(&PostgresOptions::new("postgres://[::1"), &test_keyring())
        .await
        .expect_err("unparsable");
    assert!(
        garbage
            .to_string()
            .contains("not a valid connection string"),
        "{garbage}"
    );
}

#[test]
fn debug_and_describe_hide_the_password() {
    let mut options = PostgresOptions::new("postgres://nexus@db.example.org:6543/scribe");
    options.password = Some("hunter2-secret".into());
    let shown = format!("{options:?} {}", options.describe());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(options.describe(), "db.example.org:6543/scribe");
}

#[tokio::test]
async fn an_unreachable_server_or_missing_database_says_where() {
    let mut options = PostgresOptions::new(format!(
        "host=127.0.0.1 port=1 user={TEST_ROLE} dbname=nowhere"
    ));
    options.connect_timeout = Duration::from_secs(3);
    let err = PostgresStore::connect(&options, &test_keyring())
        .await
        .expect_err("closed port");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("127.0.0.1:1/nowhere"), "{err}");

    let options = PostgresOptions::new(format!(
        "{} user={TEST_ROLE} dbname=nexus_scribe_no_such_database",
        server_params()
    ));
    let err = PostgresStore::connect(&options, &test_keyring())
        .await
        .expect_err("no database");
    assert!(err.to_string().contains("does not exist"), "{err}");
}
