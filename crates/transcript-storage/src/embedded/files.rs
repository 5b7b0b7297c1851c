//! The data folder and the database file: created owner-only (folder 0700, files 0600), and
//! tightened to that if they already exist with wider permissions.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The database file inside the data folder. SQLite adds `-wal` and `-shm` beside it, with
/// the same permissions as the database file.
pub const EMBEDDED_DB_FILE: &str = "transcripts.sqlite3";

/// Creates (or tightens) `dir` and the database file in it; returns the file's path.
pub(crate) fn prepare(dir: &Path) -> io::Result<PathBuf> {
    create_private_dir(dir)?;
    let db = dir.join(EMBEDDED_DB_FILE);
    create_private_file(&db)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db.clone().into_os_string();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            restrict(&side, 0o600)?;
        }
    }
    Ok(db)
}

#[cfg(unix)]
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    restrict(dir, 0o700)
}

#[cfg(not(unix))]
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    restrict(path, 0o600)
}

#[cfg(not(unix))]
pub(crate) fn create_private_file(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
}

/// Removes every permission bit outside `allowed` (e.g. group and other).
#[cfg(unix)]
fn restrict(path: &Path, allowed: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)?.permissions().mode() & 0o7777;
    if mode & !allowed != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "tightening permissions of the data folder");
        fs::set_permissions(path, fs::Permissions::from_mode(mode & allowed))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _allowed: u32) -> io::Result<()> {
    Ok(())
}
