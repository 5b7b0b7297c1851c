//! What both backends' migration runners share: the migration record and the history check.

use crate::error::{StoreError, StoreResult};

/// One migration: its version (the file's number), name and SQL.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// The migration that introduced encryption at rest: applying it seals what was plain.
pub(crate) const ENCRYPTION: i64 = 2;

/// The migration that sealed emails behind a blind index.
pub(crate) const SEALED_EMAILS: i64 = 4;

/// One backend's migrations, oldest first: both backends have the same versions and names,
/// each with its own SQL file `migrations/<backend>/NNNN_<name>.sql`. A new migration is added
/// here (with a file for each backend; a test checks the files and this list agree).
macro_rules! migrations {
    ($backend:literal) => {
        &[
            $crate::migration::migrations!(@one $backend, 1, "initial", "0001_initial"),
            $crate::migration::migrations!(@one $backend, 2, "encryption", "0002_encryption"),
            $crate::migration::migrations!(@one $backend, 3, "jobs", "0003_jobs"),
            $crate::migration::migrations!(@one $backend, 4, "sealed_emails", "0004_sealed_emails"),
            $crate::migration::migrations!(@one $backend, 5, "ws_tickets", "0005_ws_tickets"),
            $crate::migration::migrations!(@one $backend, 6, "sessions", "0006_sessions"),
            $crate::migration::migrations!(@one $backend, 7, "access", "0007_access"),
            $crate::migration::migrations!(@one $backend, 8, "integrations", "0008_integrations"),
            $crate::migration::migrations!(@one $backend, 9, "ticket_sessions", "0009_ticket_sessions"),
        ]
    };
    (@one $backend:literal, $version:literal, $name:literal, $file:literal) => {
        $crate::migration::Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/",
                $backend,
                "/",
                $file,
                ".sql"
            )),
        }
    };
}
pub(crate) use migrations;

/// Refuses a database whose applied migrations (`(version, name)`, ascending) are newer than
/// `known` or differ from it.
pub(crate) fn check_history(known: &[Migration], applied: &[(i64, String)]) -> StoreResult<()> {
    let latest = known.last().map_or(0, |m| m.version);
    if let Some((found, _)) = applied.last() {
        if *found > latest {
            return Err(StoreError::SchemaTooNew {
                found: *found,
                supported: latest,
            });
        }
    }
    for (version, name) in applied {
        let same = known.iter().find(|m| m.version == *version);
        if same.is_none_or(|m| m.name != name) {
            return Err(StoreError::Corrupt(
                "migration history differs from this build",
            ));
        }
    }
    Ok(())
}

/// Test helper: the `.sql` files in `migrations/<backend>` are exactly `known`, in order.
#[cfg(test)]
pub(crate) fn assert_files_match(backend: &str, known: &[Migration]) {
    let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("migrations folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let listed: Vec<String> = known
        .iter()
        .map(|m| format!("{:04}_{}.sql", m.version, m.name))
        .collect();
    assert_eq!(files, listed);
    assert!(known.windows(2).all(|w| w[0].version < w[1].version));
}
