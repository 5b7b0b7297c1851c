//! The one error type of this crate. Messages name secrets, files and variables, never values.

use std::path::PathBuf;

use crate::name::SecretName;
use crate::validate::SecretProblems;

/// Why secrets could not be loaded or were refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// No source supplied this secret.
    #[error("secret {name} is not set: {hint}")]
    Missing {
        /// The secret that is missing.
        name: SecretName,
        /// Where it could have come from (variable and file names).
        hint: String,
    },

    /// The secrets file (or its folder) is accessible to other users.
    #[error(
        "{} is accessible to other users (mode {mode:04o}); secrets must be private: run `chmod {required:o} {}`",
        path.display(),
        path.display()
    )]
    InsecurePermissions {
        /// The file or folder.
        path: PathBuf,
        /// Its current permission bits.
        mode: u32,
        /// The mode it needs (600 for the file, 700 for the folder).
        required: u32,
    },

    /// The secrets file is not a regular file, or the folder not a folder.
    #[error("{} is not a {expected}", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// "regular file" or "directory".
        expected: &'static str,
    },

    /// The secrets file is not valid TOML. Only the line is reported: the parser's own message
    /// may quote the file's content.
    #[error("{} is not valid TOML (near line {line})", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, 0 when unknown.
        line: usize,
    },

    /// The secrets file holds a key that is not a known secret (a typo would otherwise be ignored).
    #[error("{}: unknown key `{key}` (known: jwt_secret, bot_key_secret, master_key)", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The unknown key (a name, not a value).
        key: String,
    },

    /// A value in the secrets file is not a string.
    #[error("{}: `{name}` must be a string", path.display())]
    NotAString {
        /// The file.
        path: PathBuf,
        /// The secret.
        name: SecretName,
    },

    /// The secrets file is larger than any real one.
    #[error("{} is larger than {limit} bytes; not a secrets file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },

    /// Reading or writing a file or folder failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The operating system's random generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),

    /// Vault could not be used: unreachable, sealed, a refused login, nothing at the path.
    #[error("Vault {at}: {problem}")]
    Vault {
        /// The address and secret path.
        at: String,
        /// What went wrong (no credential or value in it).
        problem: crate::vault::VaultProblem,
    },

    /// Production mode refused weak secrets (each named with its origin and the reason).
    #[error("refusing weak secrets in production: {0}")]
    Weak(SecretProblems),
}

impl SecretsError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
