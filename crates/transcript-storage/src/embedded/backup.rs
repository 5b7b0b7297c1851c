//! Backups of the embedded store, and restoring one into a data folder.
//!
//! A backup is a single SQLite file written with `VACUUM INTO` from a read transaction: a
//! consistent snapshot taken while a server keeps writing, compacted, created 0600, written
//! under a temporary name and renamed into place only once complete and checked.
//!
//! Restoring replaces the data folder's database, so it needs the folder to itself: every
//! process that has the store open holds a shared lock on [`LOCK_FILE`], and restore takes it
//! exclusively or refuses. The backup is checked (SQLite's integrity check, this product's
//! schema, a schema no newer than this build) before anything is touched, and the database it
//! replaces is kept beside it, renamed, never deleted.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags};

use super::files::{self, EMBEDDED_DB_FILE};
use super::migrate;
use crate::crypto::Keyring;
use crate::error::{StoreError, StoreResult};

/// Lock file in the data folder: shared while a store is open, exclusive during a restore.
pub const LOCK_FILE: &str = "transcripts.lock";

/// What a backup or restore holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub schema_version: i64,
    pub organisations: u64,
    pub meetings: u64,
    pub segments: u64,
    pub bytes: u64,
}

/// Takes the data folder's lock, shared, for as long as the returned file lives.
pub(crate) fn lock_shared(dir: &Path) -> StoreResult<File> {
    let file = open_lock(dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Conflict(
            "a restore is replacing this data folder's database",
        )),
        Err(fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn open_lock(dir: &Path) -> StoreResult<File> {
    let path = dir.join(LOCK_FILE);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    Ok(opts.open(path)?)
}

/// Writes a consistent copy of the database `conn` is open on to `dest`, which must not exist.
pub(crate) fn write_backup(
    conn: &Connection,
    keys: &Keyring,
    dest: &Path,
) -> StoreResult<BackupSummary> {
    if dest.exists() {
        return Err(StoreError::Conflict("the backup file already exists"));
    }
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .ok_or(StoreError::Invalid("the backup path names no file"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".partial");
    let tmp = dir.join(tmp_name);
    // An empty file is what VACUUM INTO accepts besides none; creating it first makes it
    // owner-only (the copy holds every transcript).
    let _ = fs::remove_file(&tmp);
    files::create_private_file(&tmp)?;
    let result = (|| {
        let tmp_str = tmp
            .to_str()
            .ok_or(StoreError::Invalid("the backup path is not valid UTF-8"))?;
        conn.execute("VACUUM INTO ?1", [tmp_str])?;
        File::open(&tmp)?.sync_all()?;
        let summary = check_file(&tmp, keys)?;
        fs::rename(&tmp, dest)?;
        sync_dir(dir);
        Ok(summary)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Checks that `path` is a sound database of this product that this build can open, and
/// counts what it holds.
pub fn check_file(path: &Path, keys: &Keyring) -> StoreResult<BackupSummary> {
    let bytes = fs::metadata(path)?.len();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|_| StoreError::Corrupt("not a NexusScribe backup (not an SQLite database)"))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|_| StoreError::Corrupt("not a NexusScribe backup (not an SQLite database)"))?;
    if integrity != "ok" {
        return Err(StoreError::Corrupt(
            "the backup fails SQLite's integrity check",
        ));
    }
    let version: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(|_| StoreError::Corrupt("not a NexusScribe backup (no schema history)"))?;
    let supported = migrate::latest_version();
    if version > supported {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported,
        });
    }
    if version >= 2 {
        unwrap_all(&conn, keys)?;
    }
    let count = |table: &str| -> StoreResult<u64> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n.max(0) as u64)
        .map_err(|_| StoreError::Corrupt("not a NexusScribe backup (tables missing)"))
    };
    Ok(BackupSummary {
        schema_version: version,
        organisations: count("organisations")?,
        meetings: count("meetings")?,
        segments: count("segments")?,
        bytes,
    })
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreOutcome {
    pub summary: BackupSummary,
    /// Where the database that was replaced now is (`None` when the folder had none).
    pub previous: Option<PathBuf>,
}

/// Makes the backup at `src` the database of data folder `dir`. Refuses while any process has
/// the folder's store open, and before touching anything when the backup is unsound.
pub fn restore(dir: &Path, src: &Path, keys: &Keyring) -> StoreResult<RestoreOutcome> {
    let summary = check_file(src, keys)?;
    files::create_private_dir(dir)?;
    let lock = open_lock(dir)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Conflict(
            "the data folder is in use (a server or another command has it open); stop it first",
        )),
        Err(fs::TryLockError::Error(e)) => return Err(e.into()),
    }
    let db = dir.join(EMBEDDED_DB_FILE);
    let tmp = dir.join(format!("{EMBEDDED_DB_FILE}.restoring"));
    let _ = fs::remove_file(&tmp);
    files::create_private_file(&tmp)?;
    let copied = (|| {
        let mut from = File::open(src)?;
        let mut to = OpenOptions::new().write(true).truncate(true).open(&tmp)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()
    })();
    if let Err(e) = copied {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let previous = if db.exists() && fs::metadata(&db)?.len() > 0 {
        let aside = dir.join(format!("{EMBEDDED_DB_FILE}.before-restore-{stamp}"));
        // The WAL and its index travel with their database: without them it would lose what
        // was committed since the last checkpoint.
        for suffix in ["-wal", "-shm"] {
            let side = with_suffix(&db, suffix);
            if side.exists() {
                fs::rename(&side, with_suffix(&aside, suffix))?;
            }
        }
        fs::rename(&db, &aside)?;
        Some(aside)
    } else {
        None
    };
    fs::rename(&tmp, &db)?;
    sync_dir(dir);
    drop(lock);
    Ok(RestoreOutcome { summary, previous })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Makes a rename durable (best effort: not every platform can open a folder).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Every data key of the backup must unwrap with `keys`: a backup is useless (and restoring it
/// would lose every transcript) without the master key it was written under.
fn unwrap_all(conn: &Connection, keys: &Keyring) -> StoreResult<()> {
    let mut stmt = conn
        .prepare("SELECT org_id, version, wrapped FROM org_keys")
        .map_err(|_| StoreError::Corrupt("not a NexusScribe backup (tables missing)"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (org, version, wrapped) in rows {
        let org = org
            .parse()
            .map_err(|_| StoreError::Corrupt("unreadable organisation id"))?;
        keys.data_key(org, version, &wrapped).map_err(|e| match e {
            StoreError::KeyUnavailable(_) => StoreError::KeyUnavailable(
                "the backup was written under another master key: supply that master_key \
                 (secrets file or NEXUS_SCRIBE_SECRET_MASTER_KEY) before restoring it",
            ),
            other => other,
        })?;
    }
    Ok(())
}
