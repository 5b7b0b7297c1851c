//! Versioned migrations of the embedded store: ordered SQL files under
//! `migrations/embedded/`, recorded in `schema_migrations`, applied on open.
//!
//! They run inside one `BEGIN IMMEDIATE` transaction, so two processes opening a fresh folder
//! at once cannot both apply a migration: the second waits, then sees it recorded.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreResult;
use crate::migration::{check_history, migrations, Migration, ENCRYPTION, SEALED_EMAILS};
use crate::model::now_ms;

use super::keys::{ensure_key, reindex_emails, reseal_all};
use crate::crypto::Keyring;

/// Every migration, oldest first (the list both backends share).
pub(crate) const MIGRATIONS: &[Migration] = migrations!("embedded");

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the database up to [`latest_version`]; refuses a database that is newer.
pub(crate) fn migrate(conn: &mut Connection, keys: &Keyring) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version       INTEGER NOT NULL PRIMARY KEY,
            name          TEXT    NOT NULL,
            applied_at_ms INTEGER NOT NULL
        ) STRICT",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: Vec<(i64, String)> = {
        let mut stmt =
            tx.prepare("SELECT version, name FROM schema_migrations ORDER BY version")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    check_history(MIGRATIONS, &applied)?;
    for m in MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
    {
        tx.execute_batch(m.sql)?;
        if m.version == ENCRYPTION || m.version == SEALED_EMAILS {
            seal_existing(&tx, keys, m.version == SEALED_EMAILS)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)",
            (m.version, m.name, now_ms()),
        )?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied storage migration"
        );
    }
    tx.commit()?;
    Ok(())
}

/// Gives every organisation a data key and seals the values written before encryption; with
/// `reindex`, also replaces email lookup keys by their blind index.
fn seal_existing(tx: &Connection, keys: &Keyring, reindex: bool) -> StoreResult<()> {
    let orgs: Vec<String> = {
        let mut stmt = tx.prepare("SELECT id FROM organisations")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for org in orgs {
        let org = org
            .parse()
            .map_err(|_| crate::error::StoreError::Corrupt("unreadable organisation id"))?;
        ensure_key(tx, keys, org)?;
        let report = reseal_all(tx, keys, org, true)?;
        if report.unreadable > 0 {
            return Err(crate::error::StoreError::Corrupt(
                "values written before encryption could not be sealed",
            ));
        }
    }
    if reindex {
        reindex_emails(tx, keys)?;
    }
    Ok(())
}
