//! Helpers shared by the PostgreSQL queries: error mapping, the scoped transaction that arms
//! row-level security, column conversions.

use deadpool_postgres::{Client, Transaction};
use scribe_core::OrgScope;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};

impl From<tokio_postgres::Error> for StoreError {
    /// A category only: the server's message and detail can quote values (a duplicate key's
    /// detail names it), so they stay out; the SQLSTATE is enough to act on.
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(code) = e.code() else {
            return if e.is_closed() {
                Self::Backend("postgres: the connection was closed".into())
            } else {
                Self::Backend("postgres: connection or protocol failure".into())
            };
        };
        match code {
            c if *c == SqlState::UNIQUE_VIOLATION => Self::Conflict("already exists"),
            // A parent row (meeting, stream, bot, user) of this organisation does not exist.
            c if *c == SqlState::FOREIGN_KEY_VIOLATION => Self::NotFound,
            c if *c == SqlState::CHECK_VIOLATION
                || *c == SqlState::NOT_NULL_VIOLATION
                || *c == SqlState::NUMERIC_VALUE_OUT_OF_RANGE
                || *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE =>
            {
                Self::Invalid("value out of range")
            }
            c if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::QUERY_CANCELED =>
            {
                Self::Busy
            }
            // Row-level security refused a row: the application asked for another
            // organisation's data, which must look exactly like missing data.
            c if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
                tracing::warn!("postgres row-level security refused a write (bug: wrong scope?)");
                Self::NotFound
            }
            c if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN => {
                Self::Backend(
                    "postgres: schema missing or out of date (run `nexus-scribe migrate`)".into(),
                )
            }
            c => Self::Backend(format!("postgres: SQLSTATE {}", c.code())),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            deadpool_postgres::PoolError::Timeout(_) => Self::Busy,
            _ => Self::Backend("postgres: connection pool unavailable".into()),
        }
    }
}

/// True when `e` is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Starts a transaction limited, by row-level security, to the scope's organisation.
///
/// `set_config(…, true)` is transaction-local: the setting ends with the transaction, so a
/// pooled connection never carries one request's scope into the next.
pub(crate) async fn scoped<'a>(
    client: &'a mut Client,
    scope: &OrgScope,
) -> StoreResult<Transaction<'a>> {
    let tx = client.transaction().await?;
    set_scope(&tx, scope).await?;
    Ok(tx)
}

/// [`scoped`], read-only and in one snapshot (REPEATABLE READ): for reads that must agree
/// with each other.
pub(crate) async fn scoped_snapshot<'a>(
    client: &'a mut Client,
    scope: &OrgScope,
) -> StoreResult<Transaction<'a>> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    set_scope(&tx, scope).await?;
    Ok(tx)
}

async fn set_scope(tx: &Transaction<'_>, scope: &OrgScope) -> StoreResult<()> {
    let set = tx
        .prepare_cached("SELECT set_config('nexus_scribe.org_id', $1, true)")
        .await?;
    tx.execute(&set, &[&scope.org_id().to_string()]).await?;
    Ok(())
}

/// Starts a read transaction for the unscoped lookups that establish a scope (login by email,
/// a bot's organisation, jobs to resume): row-level security lets it read users, bots, wrapped
/// data keys and jobs of every organisation.
pub(crate) async fn lookup(client: &mut Client) -> StoreResult<Transaction<'_>> {
    lookup_with(client, true).await
}

/// [`lookup`] that may also delete what the lookup policies allow deleting (redeeming a
/// WebSocket ticket, which consumes it).
pub(crate) async fn lookup_redeeming(client: &mut Client) -> StoreResult<Transaction<'_>> {
    lookup_with(client, false).await
}

async fn lookup_with(client: &mut Client, read_only: bool) -> StoreResult<Transaction<'_>> {
    let tx = client
        .build_transaction()
        .read_only(read_only)
        .start()
        .await?;
    tx.batch_execute("SELECT set_config('nexus_scribe.lookup', 'on', true)")
        .await?;
    Ok(tx)
}

/// A `u64` as a PostgreSQL bigint; callers validated the range, this is the backstop.
pub(crate) fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid("number out of range"))
}

/// A non-negative bigint column as `u64`.
pub(crate) fn uint(row: &Row, idx: usize) -> StoreResult<u64> {
    let v: i64 = row.try_get(idx)?;
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative number in a counter column"))
}

/// A nullable non-negative bigint column.
pub(crate) fn opt_uint(row: &Row, idx: usize) -> StoreResult<Option<u64>> {
    let v: Option<i64> = row.try_get(idx)?;
    v.map(|v| u64::try_from(v).map_err(|_| StoreError::Corrupt("negative number in a time column")))
        .transpose()
}

/// A uuid column as one of the typed ids.
pub(crate) fn id<T>(row: &Row, idx: usize, wrap: fn(Uuid) -> T) -> StoreResult<T> {
    Ok(wrap(row.try_get::<_, Uuid>(idx)?))
}

/// A nullable uuid column as one of the typed ids.
pub(crate) fn opt_id<T>(row: &Row, idx: usize, wrap: fn(Uuid) -> T) -> StoreResult<Option<T>> {
    Ok(row.try_get::<_, Option<Uuid>>(idx)?.map(wrap))
}

/// Bound parameters of one statement.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Runs one statement in a scoped transaction and commits: the rows it returned, parsed.
pub(crate) async fn scoped_rows<T>(
    client: &mut Client,
    scope: &OrgScope,
    sql: &str,
    params: &Params<'_>,
    parse: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let tx = scoped(client, scope).await?;
    let stmt = tx.prepare_cached(sql).await?;
    let rows = tx.query(&stmt, params).await?;
    let parsed = rows.iter().map(parse).collect::<StoreResult<Vec<T>>>()?;
    tx.commit().await?;
    Ok(parsed)
}

/// [`scoped_rows`] for a statement that returns at most one row; none is `NotFound`.
pub(crate) async fn scoped_one<T>(
    client: &mut Client,
    scope: &OrgScope,
    sql: &str,
    params: &Params<'_>,
    parse: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<T> {
    scoped_rows(client, scope, sql, params, parse)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

/// Runs one statement in a scoped transaction and commits; touching no row is `NotFound`.
pub(crate) async fn scoped_touch(
    client: &mut Client,
    scope: &OrgScope,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<()> {
    let tx = scoped(client, scope).await?;
    let stmt = tx.prepare_cached(sql).await?;
    if tx.execute(&stmt, params).await? == 0 {
        return Err(StoreError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}
