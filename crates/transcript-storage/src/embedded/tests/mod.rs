//! Tests of the embedded backend: the conformance suite, plus what only a file-backed store
//! has (permissions, migrations, another process on the same folder).

mod backup;
mod encryption;
mod files;
mod migrations;
mod process;

use crate::conformance::test_keyring;
use std::sync::Arc;

use async_trait::async_trait;

use super::EmbeddedStore;
use crate::conformance::Harness;
use crate::store::Store;

/// A fresh data folder per test.
pub(crate) struct EmbeddedHarness {
    dir: tempfile::TempDir,
    store: Arc<EmbeddedStore>,
}

#[async_trait]
impl Harness for EmbeddedHarness {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(dir.path(), &test_keyring())
            .await
            .expect("open store");
        Self {
            dir,
            store: Arc::new(store),
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn second_handle(&self) -> Arc<dyn Store> {
        Arc::new(
            EmbeddedStore::open(self.dir.path(), &test_keyring())
                .await
                .expect("open second handle"),
        )
    }
}

mod suite {
    crate::store_conformance_suite!(super::EmbeddedHarness);
}
