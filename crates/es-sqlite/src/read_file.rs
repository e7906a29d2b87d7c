//! The read models' own SQLite file, beside the log's.
//!
//! The read models once lived in the log's file, so that a batch's rows and
//! its checkpoint committed together; they still do, in their own file. Two
//! files, because SQLite keeps one write lock per file and a connection's
//! page cache is thrown away whenever another connection has committed to
//! its file: with the log, seven read models and the snapshots in one file,
//! the log's writer queued behind every read model's commit for the lock,
//! and every connection, the writer's too, read its pages again after every
//! commit of any other. Apart, the log's connections see only the log's
//! commits, the read models' only theirs, and the two writers never wait
//! for each other. Nothing is lost by the split: no transaction ever spanned
//! the log and a read model (a read model's rows and its checkpoint, both
//! in the read models' file, still commit as one).
//!
//! A data directory from before the split still holds its read models in
//! the log's file; a projection opened on it builds its tables afresh in
//! the new file from the log and drops the old ones ([`forget_in_log`]).

use std::path::{Path, PathBuf};

use es_core::StoreError;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::checkpointer::{self, Nudge};
use crate::pool::{self, Durability};
use crate::projection::{SqliteProjector, generation_table};
use crate::schema::READ_MODELS_SCHEMA;

/// The read models' file of the log at `log`: `<name>-read-models.db` in the
/// same directory (`cloudbash.db` → `cloudbash-read-models.db`).
pub(crate) fn read_models_path(log: &Path) -> PathBuf {
    let stem = log.file_stem().map_or_else(|| "events".into(), |stem| stem.to_string_lossy().into_owned());
    log.with_file_name(format!("{stem}-read-models.db"))
}

/// The read models' file, opened: where it is, and the checkpointer that its
/// commits wake.
#[derive(Clone, Debug)]
pub(crate) struct ReadModelFile {
    path: PathBuf,
    checkpointer: Nudge,
}

impl ReadModelFile {
    /// Opens (creating if needed) the file at `path` with its checkpointer.
    pub(crate) fn open(path: PathBuf) -> Result<Self, StoreError> {
        let connection = pool::open(&path, Durability::Normal).map_err(StoreError::backend)?;
        connection.execute_batch(READ_MODELS_SCHEMA).map_err(StoreError::backend)?;
        let checkpointer = checkpointer::spawn(path.clone(), Durability::Normal)?;
        Ok(Self { path, checkpointer })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn checkpointer(&self) -> Nudge {
        self.checkpointer.clone()
    }
}

/// Drops what an older release kept of `projector` in the log's file at
/// `log`: its tables of every generation, its views and its checkpoints.
/// Nothing to do (one query) once they are gone.
pub(crate) fn forget_in_log(log: &Path, projector: &dyn SqliteProjector) -> Result<(), StoreError> {
    let mut connection = pool::open(log, Durability::Normal).map_err(StoreError::backend)?;
    let transaction =
        connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::backend)?;
    let kept: Option<String> = transaction
        .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'projections'", [], |row| row.get(0))
        .optional()
        .map_err(StoreError::backend)?;
    if kept.is_none() {
        return Ok(());
    }
    let generations: Vec<i64> = transaction
        .prepare("SELECT Generation FROM projections WHERE Name = ?1")
        .and_then(|mut statement| statement.query_map([projector.name()], |row| row.get(0))?.collect())
        .map_err(StoreError::backend)?;
    if generations.is_empty() {
        return Ok(());
    }
    for table in projector.tables() {
        transaction.execute_batch(&format!("DROP VIEW IF EXISTS {}", table.name)).map_err(StoreError::backend)?;
        for &generation in &generations {
            let physical = generation_table(table.name, generation.max(0) as u64);
            transaction.execute_batch(&format!("DROP TABLE IF EXISTS {physical}")).map_err(StoreError::backend)?;
        }
    }
    transaction
        .execute("DELETE FROM projections WHERE Name = ?1", params![projector.name()])
        .map_err(StoreError::backend)?;
    transaction.commit().map_err(StoreError::backend)
}
