//! Connections for everything but appends. WAL mode lets any number of
//! readers run beside the one writer; each query runs on tokio's blocking
//! pool so that no async worker ever waits on SQLite.
//!
//! A pool opens at most [`CONNECTIONS_MAX`] connections and keeps them:
//! callers beyond that wait for one (asynchronously, before taking a
//! blocking thread). Opening a connection parses the whole schema and maps
//! the file, so a pool that opened one per burst of queries and closed it
//! again spent more time there than in the queries.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use es_core::StoreError;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

/// Connections of one pool, all kept open once opened; more concurrent
/// queries wait their turn. Two cores gain nothing from more.
const CONNECTIONS_MAX: usize = 8;

/// Bytes of the file a connection reads through memory mapping instead of
/// `read` calls: none. Mapping saves a copy per page, worth ~4 % on a replay
/// (`bench replay`, 735k against 707k events/s), but a connection unmaps and
/// maps the file again at its next read transaction whenever the file has
/// grown: under a stream of appends that is every read, and the `munmap`s
/// (with their TLB shootdowns) and page faults cost a flash sale a fifth of
/// its purchases (`bench flash-sale`, 885–890 against 712–723 per second in
/// alternating runs).
const MMAP_BYTES_MAX: i64 = 0;

/// Prepared statements a connection keeps: every read model of the shop
/// with its few statements each fits, so none is parsed twice.
const STATEMENTS_CACHED: usize = 128;

/// How long a connection waits for SQLite's write lock before failing.
pub(crate) const BUSY_TIMEOUT_MILLIS: u64 = 10_000;

/// How many looks at a busy lock are only a yield apart: the write lock is
/// usually held for well under a millisecond.
const BUSY_YIELDS_MAX: u32 = 16;

/// Pause between looks at a busy lock after the yields.
const BUSY_PAUSE_MICROS: u64 = 50;

/// How much a commit waits for the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: every commit syncs the WAL before it is
    /// acknowledged, so an acknowledged event survives a power cut. Group
    /// commit makes this cheap. The default for the event log.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash but not a power cut;
    /// the last commits before one may roll back. For read models, which a
    /// replay restores anyway, and for tests.
    Normal,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Opens a connection with the settings every connection of the log shares.
pub(crate) fn open(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let mut connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_handler(Some(wait_for_lock))?;
    connection.set_prepared_statement_cache_capacity(STATEMENTS_CACHED);
    // With STAT4 (which the bundled SQLite enables) a statement whose range
    // constraint takes a new bound value is planned again at its next step:
    // every page of a replay, every subscription poll. The plans here do not
    // depend on the values, so keep them.
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    let mode: String = connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    debug_assert_eq!(mode.to_lowercase(), "wal", "SQLite refused WAL mode");
    connection.pragma_update(None, "synchronous", durability.pragma())?;
    connection.pragma_update(None, "cache_size", -32_000)?;
    connection.pragma_update(None, "mmap_size", MMAP_BYTES_MAX)?;
    // The checkpointer thread copies the WAL back (`checkpointer.rs`); a
    // commit on this connection must not do it inline.
    connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(connection)
}

/// SQLite's busy handler: whether to look at a busy lock again, after the
/// `attempt`th look failed. SQLite's own handler sleeps 1, 2, 5, 10, …,
/// 100 ms between looks; with the log's writer and every read model taking
/// the one write lock for a fraction of a millisecond each, those sleeps
/// (not the lock) became most of an append's latency under load. This one
/// yields, then pauses [`BUSY_PAUSE_MICROS`], for [`BUSY_TIMEOUT_MILLIS`]
/// in all.
fn wait_for_lock(attempt: i32) -> bool {
    let attempt = u32::try_from(attempt).unwrap_or(0);
    if attempt < BUSY_YIELDS_MAX {
        std::thread::yield_now();
        return true;
    }
    let pauses = u64::from(attempt - BUSY_YIELDS_MAX);
    if pauses * BUSY_PAUSE_MICROS >= BUSY_TIMEOUT_MILLIS * 1_000 {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_micros(BUSY_PAUSE_MICROS));
    true
}

/// A small pool of connections.
#[derive(Debug)]
pub(crate) struct Pool {
    path: PathBuf,
    durability: Durability,
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection: taken before a query goes to a blocking
    /// thread, so that there is always an idle connection for it.
    permits: Arc<Semaphore>,
}

impl Pool {
    pub(crate) fn new(path: PathBuf, durability: Durability) -> Arc<Self> {
        Arc::new(Self {
            path,
            durability,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(CONNECTIONS_MAX)),
        })
    }

    /// Runs `work` on a pooled connection on the blocking thread pool.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the connection pool is closed".to_owned()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let result = pool.with(work);
            drop(permit);
            result
        })
        .await
        .map_err(|error| StoreError::Unavailable(format!("database task failed: {error}")))?
    }

    /// Runs `work` on a pooled connection on this thread.
    pub(crate) fn with<T>(&self, work: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.idle.lock().expect("pool mutex is never poisoned: no code panics while holding it").pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => open(&self.path, self.durability).map_err(StoreError::backend)?,
        };
        let result = work(&mut connection);
        let mut idle = self.idle.lock().expect("pool mutex is never poisoned: no code panics while holding it");
        if idle.len() < CONNECTIONS_MAX {
            idle.push(connection);
        }
        result
    }
}
