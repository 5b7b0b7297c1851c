//! A small pool of SQLite connections whose work runs on tokio's blocking threads, never on
//! the async workers. A semaphore bounds the connections in use; idle ones are kept for reuse.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::error::{StoreError, StoreResult};

/// Per-connection settings; see the module docs of `embedded` for why each is set.
const CONNECTION_PRAGMAS: &str = "
    PRAGMA synchronous = FULL;
    PRAGMA foreign_keys = ON;
    PRAGMA secure_delete = ON;
";

#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    pub(crate) fn new(path: PathBuf, size: usize, busy_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                busy_timeout,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size.max(1))),
            }),
        }
    }

    /// Runs `f` with a connection on a blocking thread, carrying the caller's tracing span.
    pub(crate) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("connection pool closed".into()))?;
        let inner = Arc::clone(&self.inner);
        let span = tracing::Span::current();
        let joined = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _permit = permit;
            let mut conn = inner.checkout()?;
            let out = f(&mut conn);
            inner.checkin(conn);
            out
        })
        .await;
        // A panic inside a query is a bug; the connection it held is dropped (rolling back any
        // open transaction) and the caller gets an error rather than a crashed task.
        joined.unwrap_or_else(|_| Err(StoreError::Backend("storage task failed".into())))
    }
}

impl Inner {
    fn checkout(&self) -> StoreResult<Connection> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match reused {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path, self.busy_timeout),
        }
    }

    fn checkin(&self, conn: Connection) {
        // A connection left inside a transaction (an early return mid-way) is not reused.
        if conn.is_autocommit() {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
    }
}

/// Opens one connection on an existing database file and puts it in WAL mode.
pub(crate) fn open_connection(path: &Path, busy_timeout: Duration) -> StoreResult<Connection> {
    // No SQLITE_OPEN_CREATE: the file was created beforehand with mode 0600.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(
            "sqlite: the database could not be switched to WAL mode".into(),
        ));
    }
    conn.execute_batch(CONNECTION_PRAGMAS)?;
    Ok(conn)
}
