//! Helpers shared by the embedded queries: error mapping, column conversions, the clock.

use std::str::FromStr;

use rusqlite::types::Type;
use rusqlite::{ErrorCode, Row};

use crate::error::{StoreError, StoreResult};
pub(crate) use crate::model::now_ms;

impl From<rusqlite::Error> for StoreError {
    /// A category only: SQLite's message text and the SQL stay out (they can name columns,
    /// and future drivers' messages can quote values).
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::QueryReturnedNoRows => Self::NotFound,
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Self::Busy,
                ErrorCode::ConstraintViolation => constraint(f.extended_code),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                    Self::Corrupt("the database file is damaged or not a database")
                }
                code => Self::Backend(format!("sqlite: {code:?} ({})", f.extended_code)),
            },
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => Self::Corrupt("unreadable column value"),
            _ => Self::Backend("sqlite: unexpected driver error".into()),
        }
    }
}

/// Extended result codes of constraint failures (sqlite3.h).
const CONSTRAINT_CHECK: i32 = 275;
const CONSTRAINT_FOREIGNKEY: i32 = 787;
const CONSTRAINT_NOTNULL: i32 = 1299;
const CONSTRAINT_PRIMARYKEY: i32 = 1555;
const CONSTRAINT_UNIQUE: i32 = 2067;

fn constraint(extended: i32) -> StoreError {
    match extended {
        CONSTRAINT_UNIQUE | CONSTRAINT_PRIMARYKEY => StoreError::Conflict("already exists"),
        // A parent row (meeting, stream, bot, user) of this organisation does not exist.
        CONSTRAINT_FOREIGNKEY => StoreError::NotFound,
        CONSTRAINT_CHECK | CONSTRAINT_NOTNULL => StoreError::Invalid("value out of range"),
        _ => StoreError::Backend(format!("sqlite: constraint ({extended})")),
    }
}

/// `?N` placeholders from `first` on, one per item, comma-separated (for `IN (…)`).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True when `e` is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == CONSTRAINT_UNIQUE || f.extended_code == CONSTRAINT_PRIMARYKEY)
}

/// A `u64` as an SQLite integer; callers validated the range, this is the backstop.
pub(crate) fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid("number out of range"))
}

/// An id column (UUID text).
pub(crate) fn id<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(idx)?;
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// A nullable id column.
pub(crate) fn opt_id<T: FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: Option<String> = row.get(idx)?;
    text.map(|t| {
        t.parse()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
    })
    .transpose()
}

/// A non-negative integer column as `u64`.
pub(crate) fn uint(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

/// A nullable non-negative integer column.
pub(crate) fn opt_uint(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v)))
        .transpose()
}
