//! # es-sqlite: the embedded event log
//!
//! One SQLite file in WAL mode holds the log, the command ids of idempotent
//! commands and snapshots; a second one beside it holds the read models of
//! the embedded mode, each with its checkpoint so that a read model's rows
//! and its checkpoint commit in one transaction (`read_file.rs` says why two
//! files).
//!
//! Durability ([`Durability::Full`], the default): an append is acknowledged
//! only after the WAL holding its commit is synced, so an acknowledged event
//! survives a power cut. Three threads share the work:
//! - the *writer* (`writer.rs`) drains queued appends into one transaction
//!   (group commit) and commits without waiting for the disk;
//! - the *flusher* (`flush.rs`) syncs the WAL once for every batch committed
//!   meanwhile, then answers the callers and wakes subscribers;
//! - the *checkpointer* (`checkpointer.rs`) copies WAL pages back into the
//!   database file off the writer's path.
//!
//! Read-model connections run with `NORMAL`: a projection commit lost to a
//! power cut takes its checkpoint with it, and replay restores it.
//!
//! The bus of the embedded mode is the log itself: subscribers read after
//! their position and sleep on the commit signal, which the flusher raises
//! once a batch is durable.

mod checkpointer;
mod flush;
mod inspect;
mod pool;
mod projection;
mod read_file;
mod rows;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, CommandId, CommandRecord, EventStore, Position, RecordedEvent,
    Snapshot, SnapshotStore, StoreError, Version, format_created, limits,
};
use rusqlite::{OptionalExtension, params};
use tokio::sync::{oneshot, watch};

pub use inspect::{Checkpoint, Inspection};
pub use pool::Durability;
pub use projection::{ApplyError, SqliteProjection, SqliteProjector, TableSpec, Tables};
pub use writer::WriterStats;

use crate::flush::{Acknowledger, Halt};
use crate::pool::Pool;
use crate::read_file::{ReadModelFile, read_models_path};
use crate::rows::{event_from_row, sql_int};
use crate::schema::{EVENT_COLUMNS, SCHEMA};
use crate::writer::{AppendSender, PendingAppend};

/// The file name of the database inside a data directory.
pub const DATABASE_FILE: &str = "cloudbash.db";

/// The SQLite event store. Also the snapshot store of the embedded mode.
/// Dropping it lets the writer finish what is queued.
pub struct SqliteEventStore {
    path: PathBuf,
    appends: RwLock<Option<AppendSender>>,
    commits: watch::Sender<Position>,
    readers: Arc<Pool>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    stats: Arc<WriterStats>,
    /// Set once a sync of the WAL has failed: see `flush.rs`.
    halt: Arc<Halt>,
    /// The read models' file, opened by the first read model.
    read_models: Mutex<Option<ReadModelFile>>,
}

impl std::fmt::Debug for SqliteEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEventStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteEventStore {
    /// Opens (creating if needed) the log in the file at `path`.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let connection = pool::open(&path, durability).map_err(StoreError::backend)?;
        connection.execute_batch(SCHEMA).map_err(StoreError::backend)?;
        let stats = Arc::new(WriterStats::default());
        let head = writer::max_position(&connection).map_err(StoreError::backend)?;
        let commits = watch::Sender::new(Position(head));
        let halt = Arc::new(Halt::default());
        let acknowledger = match durability {
            Durability::Normal => Acknowledger::Immediate { commits: commits.clone() },
            Durability::Full => {
                // Commit without syncing; the flusher syncs the WAL before answering.
                let wal = std::fs::OpenOptions::new()
                    .write(true)
                    .open(wal_path(&path))
                    .map_err(|error| StoreError::Unavailable(format!("cannot open the WAL file: {error}")))?;
                connection.pragma_update(None, "synchronous", "NORMAL").map_err(StoreError::backend)?;
                Acknowledger::pipelined(wal, commits.clone(), Arc::clone(&stats), Arc::clone(&halt))?
            }
        };
        let checkpointer = checkpointer::spawn(path.clone(), durability)?;
        let (appends, handle) = writer::spawn(connection, acknowledger, Arc::clone(&stats), checkpointer)?;
        Ok(Self {
            readers: Pool::new(path.clone(), Durability::Normal),
            path,
            appends: RwLock::new(Some(appends)),
            commits,
            writer: Mutex::new(Some(handle)),
            stats,
            halt,
            read_models: Mutex::new(None),
        })
    }

    /// Whether the log takes appends: not after a failed sync of its WAL
    /// (until the process restarts), nor once its writer thread has ended
    /// (closed, or died). For a readiness check; `Err` says why not.
    pub fn writable(&self) -> Result<(), String> {
        if let Some(reason) = self.halt.reason() {
            return Err(reason);
        }
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match writer.as_ref() {
            Some(handle) if !handle.is_finished() => Ok(()),
            Some(_) => Err("the log's writer thread has stopped".to_owned()),
            None => Err("the log is closed".to_owned()),
        }
    }

    /// Counters of the group-commit writer.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The read models' file beside the log's: `<name>-read-models.db` in
    /// the same directory.
    pub fn read_models_path(&self) -> PathBuf {
        read_models_path(&self.path)
    }

    /// The read models' file, opened the first time it is asked for.
    pub(crate) fn read_model_file(&self) -> Result<ReadModelFile, StoreError> {
        let mut file = self.read_models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match file.as_ref() {
            Some(file) => Ok(file.clone()),
            None => {
                let opened = ReadModelFile::open(self.read_models_path())?;
                Ok(file.insert(opened).clone())
            }
        }
    }

    /// Stops accepting appends, waits until every queued append is answered
    /// and the writer thread has ended. Later appends fail as unavailable.
    pub async fn close(&self) {
        // Dropping the last sender ends the writer's loop once the queue is
        // empty; appends in flight hold clones and still get their answer.
        self.appends.write().expect("sender lock is never poisoned").take();
        let handle = self.writer.lock().expect("writer mutex is never poisoned").take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

/// Pages at least this large are read as two concurrent halves.
const READ_SPLIT_EVENTS_MIN: u32 = 2_000;

impl SqliteEventStore {
    /// Up to `limit` events after `after`, and at or below `until` if given.
    async fn read_range(
        &self,
        after: Position,
        limit: u32,
        until: Option<Position>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let until = until.map_or(i64::MAX, |until| sql_int(until.0));
        self.readers
            .run(move |connection| {
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE Position > ?1 AND Position <= ?2 \
                         ORDER BY Position LIMIT ?3"
                    ))
                    .map_err(StoreError::backend)?;
                let mut events = Vec::with_capacity(limit.min(limits::READ_PAGE_MAX) as usize);
                let rows = statement
                    .query_map(params![sql_int(after.0), until, limit], event_from_row)
                    .map_err(StoreError::backend)?;
                for row in rows {
                    events.push(row.map_err(StoreError::backend)??);
                }
                Ok(events)
            })
            .await
    }
}

/// SQLite's write-ahead log beside the database file.
fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn unavailable() -> StoreError {
    StoreError::Unavailable("the log's writer has stopped".into())
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        request.validate()?;
        let (reply, answer) = oneshot::channel();
        let sender = self.appends.read().expect("sender lock is never poisoned").clone().ok_or_else(unavailable)?;
        sender.send(PendingAppend { request, reply }).await.map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }

    async fn load(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.readers
            .run(move |connection| {
                let mut statement = connection
                    .prepare_cached(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE AggregateId = ?1 AND AggregateVersion > ?2 \
                         ORDER BY AggregateVersion LIMIT ?3"
                    ))
                    .map_err(StoreError::backend)?;
                let rows = statement
                    .query_map(params![aggregate_id.to_string(), sql_int(after.0), limit], event_from_row)
                    .map_err(StoreError::backend)?;
                rows.map(|row| row.map_err(StoreError::backend)?).collect()
            })
            .await
    }

    async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        if limit < READ_SPLIT_EVENTS_MIN {
            return self.read_range(after, limit, None).await;
        }
        // The writer assigns positions without gaps, so two halves of the
        // range can be read at once on two connections (replay is bound by
        // decoding rows, and this machine has more than one core).
        let middle = Position(after.0 + u64::from(limit / 2));
        let (first, second) = tokio::join!(
            self.read_range(after, limit / 2, Some(middle)),
            self.read_range(middle, limit - limit / 2, Some(Position(after.0 + u64::from(limit))))
        );
        let mut events = first?;
        let first_complete = events.last().map(|last| last.position) == Some(middle);
        if first_complete {
            events.extend(second?);
        }
        if events.len() < limit as usize {
            // A gap (never made by this writer) or the end of the log: finish
            // the page the plain way so the contract holds either way.
            let from = events.last().map_or(after, |last| last.position);
            let missing = limit - events.len() as u32;
            events.extend(self.read_range(from, missing, None).await?);
        }
        Ok(events)
    }

    async fn position_before(&self, time: DateTime<Utc>) -> Result<Position, StoreError> {
        // A rare call (a consumer starting "from a time"): a scan is cheaper
        // overall than an index on Created that every append would pay for.
        let created = format_created(time);
        self.readers
            .run(move |connection| {
                let first: Option<i64> = connection
                    .query_row("SELECT min(Position) FROM events WHERE Created >= ?1", [created], |row| row.get(0))
                    .map_err(StoreError::backend)?;
                let position = match first {
                    Some(first) => first.max(1) as u64 - 1,
                    None => writer::max_position(connection).map_err(StoreError::backend)?,
                };
                Ok(Position(position))
            })
            .await
    }

    async fn stored_command(&self, command_id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        self.readers
            .run(move |connection| writer::stored_command(connection, command_id).map_err(StoreError::backend))
            .await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.readers.run(|connection| writer::max_position(connection).map(Position).map_err(StoreError::backend)).await
    }

    fn commits(&self) -> watch::Receiver<Position> {
        self.commits.subscribe()
    }
}

#[async_trait]
impl SnapshotStore for SqliteEventStore {
    async fn load_snapshot(&self, aggregate_id: AggregateId, kind: &str) -> Result<Option<Snapshot>, StoreError> {
        let kind = kind.to_owned();
        self.readers
            .run(move |connection| {
                connection
                    .prepare_cached(
                        "SELECT Version, ShapeVersion, State FROM snapshots WHERE AggregateId = ?1 AND Kind = ?2",
                    )
                    .and_then(|mut statement| {
                        statement
                            .query_row(params![aggregate_id.to_string(), kind], |row| {
                                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
                            })
                            .optional()
                    })
                    .map_err(StoreError::backend)
                    .map(|found| {
                        found.map(|(version, shape_version, state)| Snapshot {
                            aggregate_id,
                            kind,
                            version: Version(version.max(0) as u64),
                            shape_version: u32::try_from(shape_version).unwrap_or(0),
                            state,
                        })
                    })
            })
            .await
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        self.readers
            .run(move |connection| {
                connection
                    .prepare_cached(
                        "INSERT INTO snapshots (AggregateId, Kind, Version, ShapeVersion, State) \
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (AggregateId, Kind) DO UPDATE SET \
                         Version = excluded.Version, ShapeVersion = excluded.ShapeVersion, State = excluded.State \
                         WHERE excluded.Version > snapshots.Version",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![
                            snapshot.aggregate_id.to_string(),
                            snapshot.kind,
                            sql_int(snapshot.version.0),
                            snapshot.shape_version,
                            snapshot.state
                        ])
                    })
                    .map_err(StoreError::backend)?;
                Ok(())
            })
            .await
    }
}
