//! A look at a log and its read models from outside the process that keeps
//! them: how far the log goes, where each read model's checkpoint stands, and
//! when the first event a read model has not applied was recorded.
//!
//! [`SqliteEventStore::open`](crate::SqliteEventStore::open) and opening a
//! projection write: they apply the schema, start the writer and the
//! checkpointers, and build read models of another shape again. None of that
//! may happen to the files of a shop that is serving, nor to those of one
//! that is stopped (the next `serve` of a newer release would find them
//! changed). An [`Inspection`] therefore opens both files read-only and
//! creates nothing: a missing file is reported, not made. WAL mode lets it
//! read beside a running writer; like every reader there, it marks where it
//! reads in the WAL's shared-memory file (`-shm`), and changes nothing else.
//! While nobody has a file open (no WAL beside it), SQLite would create the
//! WAL's companion files even for a read-only connection, so the file is
//! then opened as immutable instead: nobody is writing beside the reader.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use es_core::{Position, StoreError, parse_created};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::read_file::read_models_path;
use crate::rows::sql_int;
use crate::writer::max_position;

/// How long a read waits while a writer holds a lock it needs (only the
/// moments of a WAL reset): far less than the writer's own patience.
const BUSY_WAIT_MILLIS: u64 = 2_000;

/// One read model's checkpoint, as its live generation records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The read model's name.
    pub name: String,
    /// The position of the last event it applied.
    pub position: Position,
    /// The shape its tables were built in (`SqliteProjector::shape`).
    pub shape: u32,
}

/// The log and read-model files of one log, opened read-only.
#[derive(Debug)]
pub struct Inspection {
    log: Connection,
    /// `None` while no read model has ever been opened beside this log.
    read_models: Option<Connection>,
}

impl Inspection {
    /// Opens the log in the file at `log` and the read models' file beside
    /// it, if there is one, without writing to either or creating any file.
    pub fn open(log: impl AsRef<Path>) -> Result<Self, StoreError> {
        let log = log.as_ref();
        if !log.is_file() {
            return Err(StoreError::Unavailable(format!("there is no log at {}", log.display())));
        }
        let read_models = read_models_path(log);
        let read_models = if read_models.is_file() { Some(open_read_only(&read_models)?) } else { None };
        Ok(Self { log: open_read_only(log)?, read_models })
    }

    /// Every read model's live checkpoint, by name. Read models must be
    /// read before [`head`](Self::head): then none is ahead of the head read.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let Some(connection) = &self.read_models else {
            return Ok(Vec::new());
        };
        let kept: Option<String> = connection
            .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'projections'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(StoreError::backend)?;
        if kept.is_none() {
            return Ok(Vec::new());
        }
        let mut statement = connection
            .prepare("SELECT Name, Position, Shape FROM projections WHERE Live = 1 ORDER BY Name")
            .map_err(StoreError::backend)?;
        let rows = statement
            .query_map([], |row| {
                Ok(Checkpoint {
                    name: row.get(0)?,
                    position: Position(row.get::<_, i64>(1)?.max(0) as u64),
                    shape: u32::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                })
            })
            .map_err(StoreError::backend)?;
        rows.map(|row| row.map_err(StoreError::backend)).collect()
    }

    /// The position of the log's last event (`Position::START` if empty).
    pub fn head(&self) -> Result<Position, StoreError> {
        max_position(&self.log).map(Position).map_err(StoreError::backend)
    }

    /// When the first event after `position` was recorded, if there is one.
    pub fn created_after(&self, position: Position) -> Result<Option<DateTime<Utc>>, StoreError> {
        let created: Option<String> = self
            .log
            .query_row(
                "SELECT Created FROM events WHERE Position > ?1 ORDER BY Position LIMIT 1",
                [sql_int(position.0)],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::backend)?;
        created
            .map(|created| {
                parse_created(&created).map_err(|_| {
                    StoreError::Corrupt(format!("the event after position {position} has Created {created:?}"))
                })
            })
            .transpose()
    }
}

/// A read-only connection to the database at `path`. While another process
/// has it open, its WAL and shared-memory files exist and are used; without
/// them nobody is writing, and the file is read as it is.
fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let in_use = companion(path, "-wal").exists() || companion(path, "-shm").exists();
    let connection = if in_use {
        Connection::open_with_flags(path, flags)
    } else {
        Connection::open_with_flags(immutable_uri(path), flags)
    }
    .map_err(StoreError::backend)?;
    connection.busy_timeout(std::time::Duration::from_millis(BUSY_WAIT_MILLIS)).map_err(StoreError::backend)?;
    Ok(connection)
}

/// The file SQLite keeps beside `database` with `suffix` (`-wal`, `-shm`).
fn companion(database: &Path, suffix: &str) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A URI opening `path` as a file nobody changes while it is open.
fn immutable_uri(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for byte in absolute.to_string_lossy().bytes() {
        match byte {
            b'?' | b'#' | b'%' => uri.push_str(&format!("%{byte:02X}")),
            _ => uri.push(char::from(byte)),
        }
    }
    uri.push_str("?immutable=1");
    uri
}
