//! Versioned migrations of the PostgreSQL store: ordered SQL files under
//! `migrations/postgres/`, recorded in `schema_migrations`.
//!
//! Everything runs in one transaction that first takes a transaction-level advisory lock, so
//! several servers starting on one database at once apply each migration exactly once (the
//! others wait, then find it recorded); PostgreSQL's DDL is transactional, so a failed
//! migration leaves nothing half-applied.

use deadpool_postgres::Client;

use deadpool_postgres::Transaction;

use super::keys::{ensure_key, organisations, reindex_emails, reseal_all};
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};
use crate::migration::{check_history, migrations, Migration, ENCRYPTION, SEALED_EMAILS};
use crate::model::now_ms;

/// Every migration, oldest first (the list both backends share).
pub(crate) const MIGRATIONS: &[Migration] = migrations!("postgres");

/// Advisory lock key held while migrating ("nexus-sc" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e65_7875_732d_7363;

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Where a database stands against this build's migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The newest applied version (0 = empty database).
    pub applied: i64,
    /// The newest version this build has.
    pub latest: i64,
    /// Versions applied by this call (empty when only checked or already current).
    pub newly_applied: Vec<i64>,
}

/// Checks the database's migration history against this build and, if `apply`, applies what
/// is missing. Without `apply` a database that is behind is an error naming the command that
/// fixes it; a database that is ahead is refused either way.
pub(crate) async fn migrate(
    client: &mut Client,
    keys: &Keyring,
    apply: bool,
) -> StoreResult<SchemaStatus> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version       bigint NOT NULL PRIMARY KEY,
            name          text   NOT NULL,
            applied_at_ms bigint NOT NULL
        )",
    )
    .await?;
    let applied: Vec<(i64, String)> = tx
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    check_history(MIGRATIONS, &applied)?;
    let pending: Vec<&Migration> = MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect();
    let current = applied.last().map_or(0, |(v, _)| *v);
    if !pending.is_empty() && !apply {
        return Err(StoreError::SchemaBehind {
            found: current,
            supported: latest_version(),
        });
    }
    let mut newly_applied = Vec::new();
    for m in pending {
        tx.batch_execute(m.sql).await?;
        if m.version == ENCRYPTION {
            seal_existing(&tx, keys, false).await?;
        }
        if m.version == SEALED_EMAILS {
            seal_existing(&tx, keys, true).await?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &now_ms()],
        )
        .await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied storage migration"
        );
        newly_applied.push(m.version);
    }
    tx.commit().await?;
    Ok(SchemaStatus {
        applied: newly_applied.last().copied().unwrap_or(current),
        latest: latest_version(),
        newly_applied,
    })
}

/// Gives every organisation a data key and seals the values written before encryption, each
/// organisation under its own row-level-security scope; with `reindex`, also replaces email
/// lookup keys by their blind index.
async fn seal_existing(tx: &Transaction<'_>, keys: &Keyring, reindex: bool) -> StoreResult<()> {
    for org in organisations(tx).await? {
        tx.execute(
            "SELECT set_config('nexus_scribe.org_id', $1, true)",
            &[&org.to_string()],
        )
        .await?;
        ensure_key(tx, keys, org).await?;
        let report = reseal_all(tx, keys, org, true).await?;
        if report.unreadable > 0 {
            return Err(StoreError::Corrupt(
                "values written before encryption could not be sealed",
            ));
        }
        if reindex {
            reindex_emails(tx, keys, org).await?;
        }
    }
    tx.execute("SELECT set_config('nexus_scribe.org_id', '', true)", &[])
        .await?;
    Ok(())
}
