//! The one error type of the storage crate. `Display` never carries SQL, bound values,
//! transcript text or secrets: these messages may be logged as they are.

use scribe_core::ErrorCode;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row, or a row of another organisation (the two are indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// The write conflicts with what is stored (e.g. a name or email already taken, a closed
    /// stream); the text names the rule, never the value.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The input breaks a rule the store enforces (e.g. end before start, NUL in text).
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// Another process held the database lock for longer than the busy timeout.
    #[error("storage busy: the database stayed locked beyond the busy timeout")]
    Busy,
    /// The stored schema is newer than this build knows: refuse rather than misread it.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    /// The database lacks migrations this build needs and applying them was not allowed
    /// (`storage.migrate_on_start = false`): run `nexus-scribe migrate`.
    #[error(
        "database schema version {found} is older than this build's ({supported}); \
         run `nexus-scribe migrate`"
    )]
    SchemaBehind { found: i64, supported: i64 },
    /// Stored data could not be read back as what it should be (bad id, bad JSON, a migration
    /// history that differs from this build's).
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// The data folder or database file could not be prepared.
    #[error("data folder: {0}")]
    Io(#[from] std::io::Error),
    /// A value is encrypted with a key this server does not have (a master key that was
    /// rotated away, or a different one than the data was written with).
    #[error("encryption key unavailable: {0}")]
    KeyUnavailable(&'static str),
    /// The storage settings are unusable (bad URL, unreadable CA file, ...); the text names
    /// the setting, never its value.
    #[error("storage configuration: {0}")]
    Config(&'static str),
    /// The database server cannot be reached or refused the connection; the text says where
    /// (host, port, database) and why, never with credentials.
    #[error("{0}")]
    Unavailable(String),
    /// Any other backend failure; the text is a category, never SQL or data.
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// The client-visible code for this error. Details stay in the server log.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Invalid(_) => ErrorCode::BadRequest,
            Self::Busy | Self::Unavailable(_) => ErrorCode::AtCapacity,
            Self::SchemaTooNew { .. }
            | Self::SchemaBehind { .. }
            | Self::Config(_)
            | Self::KeyUnavailable(_)
            | Self::Corrupt(_)
            | Self::Io(_)
            | Self::Backend(_) => ErrorCode::Internal,
        }
    }
}

/// Shorthand used across the crate.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_hide_internals() {
        assert_eq!(StoreError::NotFound.error_code(), ErrorCode::NotFound);
        assert_eq!(StoreError::Conflict("x").error_code(), ErrorCode::Conflict);
        assert_eq!(
            StoreError::Backend("disk".into()).error_code(),
            ErrorCode::Internal
        );
        assert_eq!(StoreError::Busy.error_code(), ErrorCode::AtCapacity);
    }
}
