//! Versioned migrations of the embedded store: ordered SQL files under
//! `migrations/embedded/`, recorded in `schema_migrations`, applied on open.
//!
//! They run inside one `BEGIN IMMEDIATE` transaction, so two processes opening a fresh folder
//! at once cannot both apply a migration: the second waits, then sees it recorded.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreResult;
use crate::migration::{check_history, Migration};
use crate::model::now_ms;

/// Every migration, oldest first. A new file in `migrations/embedded/` must be added here (a
/// test checks the two agree).
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../../migrations/embedded/0001_initial.sql"),
}];

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the database up to [`latest_version`]; refuses a database that is newer.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
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
