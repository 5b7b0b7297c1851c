//! The local secrets file: `<dir>/secrets.toml`, generated on first use with random values,
//! created atomically with mode 0600 in a folder created 0700, and refused when other users can
//! read it. It sits in its own folder under the data directory, apart from `config.toml`, so the
//! settings file can be shared or committed without the keys.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use crate::error::SecretsError;
use crate::generate::generate_secret;
use crate::name::{SecretName, SecretOrigin};
use crate::source::SecretSource;

/// File name of the secrets file inside its folder.
pub const SECRETS_FILE_NAME: &str = "secrets.toml";

/// Permission bits of the file and the folder this module creates.
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;
/// A real secrets file is a few hundred bytes.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Secrets read from (or generated into) the local secrets file.
pub struct FileSource {
    path: PathBuf,
    values: BTreeMap<SecretName, SecretString>,
    generated: bool,
}

impl FileSource {
    /// Reads an existing secrets file. Refuses a file that group or others may access (the error
    /// names the file and the `chmod 600` that fixes it), anything but a regular file, unknown
    /// keys and non-string values.
    pub fn open(path: &Path) -> Result<Self, SecretsError> {
        let mut file = File::open(path).map_err(|e| SecretsError::io("open", path, e))?;
        let values = read_checked(&mut file, path)?;
        Ok(Self {
            path: path.to_owned(),
            values,
            generated: false,
        })
    }

    /// Opens `<dir>/secrets.toml`, generating it first when it does not exist: `dir` is created
    /// with mode 0700 (its parents with the defaults), the file with mode 0600 and a fresh random
    /// value for every secret. Creation is atomic: the file is written under a temporary name and
    /// hard-linked into place, so a concurrent process (a set-up command next to a running
    /// server) either creates it or reads the one the other created, never a half-written file.
    /// An existing `dir` that other users may write to is refused.
    pub fn open_or_generate(dir: &Path) -> Result<Self, SecretsError> {
        ensure_private_dir(dir)?;
        let path = dir.join(SECRETS_FILE_NAME);
        match File::open(&path) {
            Ok(mut file) => {
                let values = read_checked(&mut file, &path)?;
                return Ok(Self {
                    path,
                    values,
                    generated: false,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(SecretsError::io("open", &path, e)),
        }
        let mut values = BTreeMap::new();
        for name in SecretName::ALL {
            values.insert(name, generate_secret()?);
        }
        if create_atomically(dir, &path, &render(&values))? {
            Ok(Self {
                path,
                values,
                generated: true,
            })
        } else {
            // Another process created it first: use its values.
            Self::open(&path)
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this call generated the file (first start); the caller logs that once.
    pub fn was_generated(&self) -> bool {
        self.generated
    }
}

impl fmt::Debug for FileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path)
            .field("present", &self.values.keys().collect::<Vec<_>>())
            .field("generated", &self.generated)
            .finish()
    }
}

impl SecretSource for FileSource {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn get(&self, name: SecretName) -> Result<Option<SecretString>, SecretsError> {
        Ok(self.values.get(&name).cloned())
    }

    fn origin(&self, _name: SecretName) -> SecretOrigin {
        SecretOrigin::File {
            path: self.path.clone(),
            generated: self.generated,
        }
    }
}

/// Creates `dir` with mode 0700 if missing; refuses an existing one that is not a directory or
/// that group/others may write to (they could swap the file).
fn ensure_private_dir(dir: &Path) -> Result<(), SecretsError> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| SecretsError::io("create folder", parent, e))?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(SecretsError::io("create folder", dir, e)),
    }
    let meta = fs::metadata(dir).map_err(|e| SecretsError::io("inspect", dir, e))?;
    if !meta.is_dir() {
        return Err(SecretsError::NotRegular {
            path: dir.to_owned(),
            expected: "directory",
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(SecretsError::InsecurePermissions {
            path: dir.to_owned(),
            mode,
            required: DIR_MODE,
        });
    }
    Ok(())
}

/// Checks the open file's own metadata (no race with a swapped path), then reads and parses it.
fn read_checked(
    file: &mut File,
    path: &Path,
) -> Result<BTreeMap<SecretName, SecretString>, SecretsError> {
    let meta = file
        .metadata()
        .map_err(|e| SecretsError::io("inspect", path, e))?;
    if !meta.is_file() {
        return Err(SecretsError::NotRegular {
            path: path.to_owned(),
            expected: "regular file",
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::InsecurePermissions {
            path: path.to_owned(),
            mode,
            required: FILE_MODE,
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(SecretsError::TooLarge {
            path: path.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| SecretsError::io("read", path, e))?;
    parse(&text, path)
}

/// Parses the file. Errors carry the line only: the TOML parser's message can quote content.
fn parse(text: &str, path: &Path) -> Result<BTreeMap<SecretName, SecretString>, SecretsError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| SecretsError::Syntax {
        path: path.to_owned(),
        line: e.span().map_or(0, |span| line_of(text, span.start)),
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        let name = key
            .parse::<SecretName>()
            .map_err(|()| SecretsError::UnknownKey {
                path: path.to_owned(),
                key: key.clone(),
            })?;
        match value {
            toml::Value::String(s) => {
                values.insert(name, SecretString::from(s));
            }
            _ => {
                return Err(SecretsError::NotAString {
                    path: path.to_owned(),
                    name,
                })
            }
        }
    }
    Ok(values)
}

fn line_of(text: &str, byte: usize) -> usize {
    let end = byte.min(text.len());
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The file's text. Generated values are base64url, so they need no TOML escaping.
fn render(values: &BTreeMap<SecretName, SecretString>) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::from(
        "# NexusScribe secrets, generated on first start. Keep this file private (mode 0600): never\n\
         # commit it or copy it where others can read it. NEXUS_SCRIBE_SECRET_<NAME> environment\n\
         # variables override these values. Changing jwt_secret signs everyone out; changing\n\
         # bot_key_secret revokes every bot key; master_key must not change once data is encrypted.\n",
    ));
    for name in SecretName::ALL {
        if let Some(value) = values.get(&name) {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{} = \"{}\"", name.as_str(), value.expose_secret());
        }
    }
    out
}

/// Writes `contents` to a fresh 0600 temporary file in `dir`, syncs it, and hard-links it to
/// `path`. Returns `false` (and leaves the existing file alone) when `path` appeared meanwhile.
fn create_atomically(dir: &Path, path: &Path, contents: &str) -> Result<bool, SecretsError> {
    let tmp = temp_path(dir)?;
    let result = write_new(&tmp, contents).and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(SecretsError::io("create", path, e)),
    });
    // The temporary name is removed whether or not the link succeeded.
    let _ = fs::remove_file(&tmp);
    let created = result?;
    if created {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| SecretsError::io("sync folder", dir, e))?;
    }
    Ok(created)
}

fn write_new(tmp: &Path, contents: &str) -> Result<(), SecretsError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(tmp)
        .map_err(|e| SecretsError::io("create", tmp, e))?;
    // The umask can only clear bits, but set the mode explicitly so the result never depends on it.
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .and_then(|()| file.write_all(contents.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| SecretsError::io("write", tmp, e))
}

fn temp_path(dir: &Path) -> Result<PathBuf, SecretsError> {
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(SecretsError::Random)?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    Ok(dir.join(format!(".{SECRETS_FILE_NAME}.{tag}.tmp")))
}

#[cfg(test)]
mod tests;
