//! Tests of the PostgreSQL backend against a real server: the conformance suite, plus what
//! only this backend has (row-level security, migrations on a shared server, TLS, connection
//! settings).

mod dump;
mod encryption;
mod feed;
mod migrations;
mod options;
mod rls;
mod tls;

use crate::conformance::test_keyring;
use std::sync::Arc;

use async_trait::async_trait;

use super::{PostgresOptions, PostgresStore};
use crate::conformance::postgres::fresh_database;
use crate::conformance::Harness;
use crate::store::Store;

/// Options for this crate's shared test database (the conformance tests make their names
/// unique, so they can share one).
pub(crate) fn shared_options() -> PostgresOptions {
    PostgresOptions::new(fresh_database("storage"))
}

pub(crate) struct PostgresHarness {
    store: Arc<PostgresStore>,
}

#[async_trait]
impl Harness for PostgresHarness {
    async fn start() -> Self {
        let store = PostgresStore::connect(&shared_options(), &test_keyring())
            .await
            .expect("connect to the test database");
        Self {
            store: Arc::new(store),
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn second_handle(&self) -> Arc<dyn Store> {
        Arc::new(
            PostgresStore::connect(&shared_options(), &test_keyring())
                .await
                .expect("open second handle"),
        )
    }
}

mod suite {
    crate::store_conformance_suite!(super::PostgresHarness);
}
