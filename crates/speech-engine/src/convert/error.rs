//! Why a conversion failed. Every variant names the file it is about.

use std::path::{Path, PathBuf};

/// A CTranslate2 → ggml conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A file could not be opened, read, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file the conversion needs is not there.
    #[error("{}: not found ({what})", path.display())]
    Missing { path: PathBuf, what: &'static str },
    /// The bytes do not follow the file's format: truncated, corrupt or not that kind of file.
    #[error("{}: malformed: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    /// A well-formed file describing something this converter cannot express in ggml
    /// (another model family, an unknown data type, an unsupported format version).
    #[error("{}: unsupported: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// The model lacks a variable that the Whisper layout needs.
    #[error("{}: variable {name:?} is missing", path.display())]
    MissingVariable { path: PathBuf, name: String },
    /// A variable's shape does not fit the model's dimensions.
    #[error("{}: variable {name:?} has shape {found:?}, expected {expected:?}", path.display())]
    Shape {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    /// The tokenizer file cannot give the token byte strings.
    #[error("{}: unusable tokenizer: {reason}", path.display())]
    Tokenizer { path: PathBuf, reason: String },
}

impl ConvertError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, reason: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(path: &Path, reason: impl Into<String>) -> Self {
        Self::Unsupported {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn tokenizer(path: &Path, reason: impl Into<String>) -> Self {
        Self::Tokenizer {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}
