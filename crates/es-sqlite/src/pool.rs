//! Connections for everything but appends. WAL mode lets any number of
//! readers run beside the one writer; each query runs on tokio's blocking
//! pool so that no async worker ever waits on SQLite.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use es_core::StoreError;
use rusqlite::{Connection, OpenFlags};

/// Idle connections kept for reuse; more may be open at a busy moment.
const IDLE_CONNECTIONS_MAX: usize = 8;

/// Bytes of the file a connection reads through memory mapping instead of
/// `read` calls (replay reads the whole log; this saves a copy per page).
const MMAP_BYTES_MAX: i64 = 256 * 1024 * 1024;

/// How long a connection waits for SQLite's write lock before failing.
pub(crate) const BUSY_TIMEOUT_MILLIS: u64 = 10_000;

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
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MILLIS))?;
    let mode: String = connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    debug_assert_eq!(mode.to_lowercase(), "wal", "SQLite refused WAL mode");
    connection.pragma_update(None, "synchronous", durability.pragma())?;
    connection.pragma_update(None, "cache_size", -32_000)?;
    connection.pragma_update(None, "mmap_size", MMAP_BYTES_MAX)?;
    Ok(connection)
}

/// A small pool of connections.
#[derive(Debug)]
pub(crate) struct Pool {
    path: PathBuf,
    durability: Durability,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub(crate) fn new(path: PathBuf, durability: Durability) -> Arc<Self> {
        Arc::new(Self { path, durability, idle: Mutex::new(Vec::new()) })
    }

    /// Runs `work` on a pooled connection on the blocking thread pool.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || pool.with(work))
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
        if idle.len() < IDLE_CONNECTIONS_MAX {
            idle.push(connection);
        }
        result
    }
}
