//! What both backends' migration runners share: the migration record and the history check.

use crate::error::{StoreError, StoreResult};

/// One migration: its version (the file's number), name and SQL.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

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
