//! Test databases on a real PostgreSQL server, for this crate's tests and for other crates'
//! (through the `conformance` feature).
//!
//! The server is `NEXUS_SCRIBE_TEST_POSTGRES_URL` (a role allowed to create roles and
//! databases), by default `host=127.0.0.1 port=5432 user=postgres dbname=postgres`; the test
//! command starts a throwaway server and sets it where none runs. Tests connect as the ordinary
//! role `nexus_scribe_test` (no superuser, no BYPASSRLS), so row-level security is in force as
//! it is in production. No server is a test failure, never a skip.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use tokio_postgres::config::Host;

/// The application role tests connect as.
pub const TEST_ROLE: &str = "nexus_scribe_test";

/// The administrative connection string (from the environment or the default).
pub fn admin_url() -> String {
    std::env::var("NEXUS_SCRIBE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=postgres".into())
}

/// The administrative connection, to `database` (tests that look at tables from outside the
/// store, unlimited by row-level security).
pub fn admin_config(database: &str) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::from_str(&admin_url())
        .expect("NEXUS_SCRIBE_TEST_POSTGRES_URL is not a valid connection string");
    config.dbname(database);
    config
}

/// The database name in a connection string made by [`app_url`].
pub fn database_of(url: &str) -> String {
    tokio_postgres::Config::from_str(url)
        .ok()
        .and_then(|c| c.get_dbname().map(str::to_owned))
        .expect("a database name")
}

/// The test server's host and port.
pub fn server() -> (String, u16) {
    let config = tokio_postgres::Config::from_str(&admin_url())
        .expect("NEXUS_SCRIBE_TEST_POSTGRES_URL is not a valid connection string");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "127.0.0.1".into(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// The host and port of the test server, as `host=… port=…`.
pub fn server_params() -> String {
    let (host, port) = server();
    format!("host={host} port={port}")
}

/// The PEM certificate that the test server's TLS certificate (issued for `localhost`) chains
/// to: `NEXUS_SCRIBE_TEST_POSTGRES_CA`, by default Debian's snake-oil certificate, which
/// Debian's PostgreSQL package serves.
pub fn server_ca() -> std::path::PathBuf {
    std::env::var_os("NEXUS_SCRIBE_TEST_POSTGRES_CA")
        .unwrap_or_else(|| "/etc/ssl/certs/ssl-cert-snakeoil.pem".into())
        .into()
}

/// A connection string for `database` as [`TEST_ROLE`].
pub fn app_url(database: &str) -> String {
    format!("{} user={TEST_ROLE} dbname={database}", server_params())
}

/// A database named `nexus_scribe_t_<label>`, dropped and created empty (owned by
/// [`TEST_ROLE`]) the first time a process asks for it; later calls in the same process get the
/// same one. Returns its [`app_url`].
pub fn fresh_database(label: &str) -> String {
    static MADE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let mut made = made.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(url) = made.get(label) {
        return url.clone();
    }
    assert!(
        label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "database labels are [a-z0-9_]"
    );
    let name = format!("nexus_scribe_t_{label}");
    let admin = admin_url();
    let statements = [
        format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TEST_ROLE}') THEN
                     CREATE ROLE {TEST_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
                 END IF;
             END $$"
        ),
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name} OWNER {TEST_ROLE}"),
    ];
    // Its own thread and runtime: callers may be inside any runtime, or none.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "no PostgreSQL for the storage tests at {} ({e}); run the test command \
                         (scripts/test starts a throwaway server) or set \
                         NEXUS_SCRIBE_TEST_POSTGRES_URL",
                        server_params()
                    )
                });
            let driver = tokio::spawn(connection);
            // CREATE ROLE can race with another test process; one of them wins.
            for statement in &statements {
                if let Err(e) = client.batch_execute(statement).await {
                    let benign = e.code()
                        == Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT)
                        || e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION);
                    assert!(benign, "preparing test database {name}: {e}");
                }
            }
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .expect("test database set-up panicked");
    let url = app_url(&format!("nexus_scribe_t_{label}"));
    made.insert(label.to_owned(), url.clone());
    url
}
