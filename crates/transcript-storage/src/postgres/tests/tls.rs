//! TLS to the database: a real handshake with the test server, certificate and name checked.

use crate::conformance::postgres::{database_of, fresh_database, server, server_ca, TEST_ROLE};
use crate::conformance::test_keyring;
use crate::error::StoreError;
use crate::postgres::{PostgresOptions, PostgresStore, PostgresTls};

/// Options for the shared test database, reached by `host` (the certificate names localhost).
fn over_tls(host: &str, ca_file: &std::path::Path) -> PostgresOptions {
    let dbname = database_of(&fresh_database("storage"));
    let mut options = PostgresOptions::new(format!(
        "host={host} port={} user={TEST_ROLE} dbname={dbname}",
        server().1
    ));
    options.tls = PostgresTls::VerifyFull {
        ca_file: Some(ca_file.to_owned()),
    };
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_encrypts_the_connection() {
    let store = PostgresStore::connect(&over_tls("localhost", &server_ca()), &test_keyring())
        .await
        .expect("TLS connection verified against the server's CA");
    let client = store.client().await.expect("client");
    let row = client
        .query_one(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    assert!(row.get::<_, bool>(0), "the server sees a TLS connection");
    let version: String = row.get(1);
    assert!(version == "TLSv1.3" || version == "TLSv1.2", "{version}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_or_wrong_name_is_refused() {
    // The system's public roots do not vouch for the test server's certificate.
    let untrusted = PostgresStore::connect(
        &over_tls(
            "localhost",
            std::path::Path::new("/etc/ssl/certs/ca-certificates.crt"),
        ),
        &test_keyring(),
    )
    .await
    .expect_err("unknown issuer");
    assert!(
        matches!(untrusted, StoreError::Unavailable(_)),
        "{untrusted}"
    );
    assert!(untrusted.to_string().contains("certificate"), "{untrusted}");

    // The certificate is for localhost, not for the address.
    let wrong_name = PostgresStore::connect(&over_tls("127.0.0.1", &server_ca()), &test_keyring())
        .await
        .expect_err("name mismatch");
    assert!(
        wrong_name.to_string().contains("certificate"),
        "{wrong_name}"
    );
}

#[tokio::test]
async fn an_unreadable_ca_file_is_a_configuration_error() {
    let missing = PostgresStore::connect(
        &over_tls("localhost", std::path::Path::new("/nonexistent/ca.pem")),
        &test_keyring(),
    )
    .await
    .expect_err("missing CA file");
    assert!(matches!(missing, StoreError::Config(_)), "{missing}");
    assert!(
        missing.to_string().contains("postgres_ca_file"),
        "{missing}"
    );
}
