//! Read models in SQLite, in the read models' file beside the log's
//! (`read_file.rs`).
//!
//! A [`SqliteProjector`] says which tables it owns and how one event changes
//! them; [`SqliteProjection`] runs it with the guarantees of the kernel:
//! every batch's rows and the checkpoint commit in one transaction (exactly
//! once), and the checkpoint is compare-and-set.
//!
//! Rebuilds run beside the live read model. Each projection has numbered
//! generations of its tables (`catalogue_g1`, `catalogue_g2`, …) and readers
//! query a view with the plain name (`catalogue`). A rebuild fills a fresh
//! generation from the start of the log while the live one keeps serving,
//! then one transaction re-points the views and drops the old tables.
//!
//! A projection's position is asked for far more often than it moves (the
//! API's read-your-writes wait asks every read model after every command),
//! so it is answered from memory: see [`SqliteProjection`]'s `position`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use es_core::{Position, ProjectionError, Rebuildable, RecordedEvent, StagedGeneration, StoreError};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::SqliteEventStore;
use crate::checkpointer::Nudge;
use crate::pool::{Durability, Pool};
use crate::rows::sql_int;

/// One table of a read model.
#[derive(Clone, Copy, Debug)]
pub struct TableSpec {
    /// The name readers use (a view over the live generation).
    pub name: &'static str,
    /// The column definitions, as inside `CREATE TABLE … ( )`.
    pub columns: &'static str,
    /// Column lists to index, e.g. `"city, starts_at"`.
    pub indexes: &'static [&'static str],
}

/// The tables of one generation, inside the transaction applying a batch.
#[derive(Debug)]
pub struct Tables<'a> {
    transaction: &'a Transaction<'a>,
    generation: u64,
}

impl Tables<'_> {
    /// The physical name of `table` in this generation; write to it with SQL
    /// built by `format!`, read the view (the plain name) elsewhere.
    pub fn name(&self, table: &str) -> String {
        generation_table(table, self.generation)
    }

    /// The connection, inside the batch's transaction.
    pub fn connection(&self) -> &Connection {
        self.transaction
    }
}

pub(crate) fn generation_table(table: &str, generation: u64) -> String {
    format!("{table}_g{generation}")
}

/// A projector's failure to apply an event.
pub type ApplyError = Box<dyn std::error::Error + Send + Sync>;

/// A read model kept in SQLite tables.
pub trait SqliteProjector: Send + Sync + 'static {
    /// A stable name, unique among projections.
    fn name(&self) -> &str;

    /// The tables it owns.
    fn tables(&self) -> &[TableSpec];

    /// Applies one event to the tables. Events arrive in commit order.
    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError>;

    /// The shape of its tables and of what [`apply`](Self::apply) writes
    /// into them. Raise it with any change to either: a read model kept in
    /// another shape is built again from the log when it is opened.
    fn shape(&self) -> u32 {
        1
    }
}

/// Runs a [`SqliteProjector`] in the read models' file of a log.
pub struct SqliteProjection<P> {
    projector: Arc<P>,
    pool: Arc<Pool>,
    checkpointer: Nudge,
    /// The live generation's checkpoint as this process last wrote or read
    /// it, or [`UNKNOWN`].
    known: Arc<AtomicU64>,
}

/// No position known: read it from the file.
const UNKNOWN: u64 = u64::MAX;

impl<P> std::fmt::Debug for SqliteProjection<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteProjection").field("pool", &self.pool).finish_non_exhaustive()
    }
}

impl<P: SqliteProjector> SqliteProjection<P> {
    /// Opens the projection in the read models' file of `store`, creating
    /// its first generation and views if this is the first time (and
    /// dropping what an older release kept of it in the log's file).
    pub fn open(store: &SqliteEventStore, projector: P) -> Result<Self, StoreError> {
        let file = store.read_model_file()?;
        crate::read_file::forget_in_log(store.path(), &projector)?;
        let pool = Pool::new(file.path().to_path_buf(), Durability::Normal);
        let projection = Self {
            projector: Arc::new(projector),
            pool,
            checkpointer: file.checkpointer(),
            known: Arc::new(AtomicU64::new(UNKNOWN)),
        };
        projection.pool.with(|connection| {
            let transaction = immediate(connection)?;
            let projector = &*projection.projector;
            match live(&transaction, projector.name())?.map(|live| (live.generation, live.shape)) {
                None => {
                    create_generation(&transaction, projector, 1, true).map_err(StoreError::backend)?;
                    point_views(&transaction, projector, 1).map_err(StoreError::backend)?;
                }
                Some((generation, shape)) if shape != projector.shape() => {
                    // Neither this release's queries nor its projector can
                    // use tables of another shape: start afresh from the log.
                    tracing::warn!(
                        read_model = projector.name(),
                        from = shape,
                        to = projector.shape(),
                        "the read model changed shape; building it again from the log"
                    );
                    // Past any generation a rebuild left behind unfinished.
                    let fresh = newest_generation(&transaction, projector.name())? + 1;
                    drop_generation(&transaction, projector, generation).map_err(StoreError::backend)?;
                    create_generation(&transaction, projector, fresh, true).map_err(StoreError::backend)?;
                    point_views(&transaction, projector, fresh).map_err(StoreError::backend)?;
                }
                Some(_) => {}
            }
            transaction.commit().map_err(StoreError::backend)
        })?;
        Ok(projection)
    }

    /// The projector.
    pub fn projector(&self) -> &P {
        &self.projector
    }
}

fn immediate(connection: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::backend)
}

/// The live generation of a projection.
struct Live {
    generation: u64,
    position: Position,
    shape: u32,
}

/// The live generation, its position and its shape.
fn live(connection: &Connection, name: &str) -> Result<Option<Live>, StoreError> {
    connection
        .prepare_cached("SELECT Generation, Position, Shape FROM projections WHERE Name = ?1 AND Live = 1")
        .and_then(|mut statement| {
            statement
                .query_row([name], |row| {
                    Ok(Live {
                        generation: row.get::<_, i64>(0)?.max(0) as u64,
                        position: Position(row.get::<_, i64>(1)?.max(0) as u64),
                        shape: u32::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    })
                })
                .optional()
        })
        .map_err(StoreError::backend)
}

/// The highest generation of a projection, live or not (0: none).
fn newest_generation(connection: &Connection, name: &str) -> Result<u64, StoreError> {
    connection
        .query_row("SELECT coalesce(max(Generation), 0) FROM projections WHERE Name = ?1", [name], |row| {
            row.get::<_, i64>(0)
        })
        .map(|newest| newest.max(0) as u64)
        .map_err(StoreError::backend)
}

/// The live generation and its position.
fn live_generation(connection: &Connection, name: &str) -> Result<Option<(u64, Position)>, StoreError> {
    Ok(live(connection, name)?.map(|live| (live.generation, live.position)))
}

fn create_generation(
    transaction: &Transaction<'_>,
    projector: &dyn SqliteProjector,
    generation: u64,
    live: bool,
) -> rusqlite::Result<()> {
    for table in projector.tables() {
        let physical = generation_table(table.name, generation);
        transaction.execute_batch(&format!("CREATE TABLE IF NOT EXISTS {physical} ({})", table.columns))?;
        for (number, columns) in table.indexes.iter().enumerate() {
            transaction
                .execute_batch(&format!("CREATE INDEX IF NOT EXISTS {physical}_i{number} ON {physical} ({columns})"))?;
        }
    }
    transaction.execute(
        "INSERT INTO projections (Name, Generation, Position, Live, Shape) VALUES (?1, ?2, 0, ?3, ?4)",
        params![projector.name(), sql_int(generation), live, projector.shape()],
    )?;
    Ok(())
}

fn drop_generation(
    transaction: &Transaction<'_>,
    projector: &dyn SqliteProjector,
    generation: u64,
) -> rusqlite::Result<()> {
    for table in projector.tables() {
        transaction.execute_batch(&format!("DROP TABLE IF EXISTS {}", generation_table(table.name, generation)))?;
    }
    transaction.execute(
        "DELETE FROM projections WHERE Name = ?1 AND Generation = ?2",
        params![projector.name(), sql_int(generation)],
    )?;
    Ok(())
}

fn point_views(
    transaction: &Transaction<'_>,
    projector: &dyn SqliteProjector,
    generation: u64,
) -> rusqlite::Result<()> {
    for table in projector.tables() {
        let view = table.name;
        let physical = generation_table(view, generation);
        transaction
            .execute_batch(&format!("DROP VIEW IF EXISTS {view}; CREATE VIEW {view} AS SELECT * FROM {physical}"))?;
    }
    Ok(())
}

/// Applies `batch` to `generation` (or the live one) if its checkpoint is at
/// `after`, moving the checkpoint in the same transaction.
fn apply_batch(
    connection: &mut Connection,
    projector: &dyn SqliteProjector,
    generation: Option<u64>,
    after: Position,
    batch: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    let name = projector.name();
    let transaction = immediate(connection)?;
    let (generation, position) = match generation {
        None => live_generation(&transaction, name)?,
        Some(generation) => transaction
            .query_row(
                "SELECT Position FROM projections WHERE Name = ?1 AND Generation = ?2",
                params![name, sql_int(generation)],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map_err(StoreError::backend)?
            .map(|position| (generation, Position(position.max(0) as u64))),
    }
    .ok_or_else(|| StoreError::Corrupt(format!("projection {name} has no generation to apply to")))?;
    if position != after {
        return Err(ProjectionError::Moved { name: name.to_owned(), expected: after, actual: position });
    }
    let tables = Tables { transaction: &transaction, generation };
    for event in batch {
        projector.apply(&tables, event).map_err(|error| ProjectionError::Apply {
            name: name.to_owned(),
            position: event.position,
            reason: error.to_string(),
        })?;
    }
    let last = batch.last().map_or(after, |event| event.position);
    transaction
        .prepare_cached("UPDATE projections SET Position = ?1 WHERE Name = ?2 AND Generation = ?3")
        .and_then(|mut statement| statement.execute(params![sql_int(last.0), name, sql_int(generation)]))
        .map_err(StoreError::backend)?;
    transaction.commit().map_err(StoreError::backend)?;
    Ok(())
}

#[async_trait]
impl<P: SqliteProjector> es_core::Projection for SqliteProjection<P> {
    fn name(&self) -> &str {
        self.projector.name()
    }

    /// Answered from memory once known. Every batch this process applies
    /// moves it; a batch refused as [`ProjectionError::Moved`] corrects it;
    /// a swap by a rebuild in this process forgets it. A swap by another
    /// process is noticed at this process's next batch, which the new
    /// generation refuses as `Moved`: until then the answer is a position
    /// this process had reached before the swap, as a read racing the swap
    /// would return — and any wait for a newer commit still waits for that
    /// batch, since only batches applied to the live generation move it.
    async fn position(&self) -> Result<Position, ProjectionError> {
        let known = self.known.load(Ordering::Acquire);
        if known != UNKNOWN {
            return Ok(Position(known));
        }
        let projector = Arc::clone(&self.projector);
        let found = self.pool.run(move |connection| live_generation(connection, projector.name())).await?;
        let position = found.map_or(Position::START, |(_, position)| position);
        // Unless a batch was applied meanwhile, which knows better.
        let _ = self.known.compare_exchange(UNKNOWN, position.0, Ordering::AcqRel, Ordering::Acquire);
        Ok(position)
    }

    async fn apply(&self, after: Position, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let projector = Arc::clone(&self.projector);
        let last = batch.last().map_or(after, |event| event.position);
        let batch = batch.to_vec();
        let applied =
            run_projection(&self.pool, move |connection| apply_batch(connection, &*projector, None, after, &batch))
                .await;
        match &applied {
            Ok(()) => {
                self.known.store(last.0, Ordering::Release);
                self.checkpointer.commit_happened();
            }
            Err(ProjectionError::Moved { actual, .. }) => self.known.store(actual.0, Ordering::Release),
            // Whether the batch committed is not known for every failure.
            Err(_) => self.known.store(UNKNOWN, Ordering::Release),
        }
        applied
    }
}

async fn run_projection(
    pool: &Arc<Pool>,
    work: impl FnOnce(&mut Connection) -> Result<(), ProjectionError> + Send + 'static,
) -> Result<(), ProjectionError> {
    // The pool speaks StoreError; carry the projection's own error through it.
    pool.run(move |connection| Ok(work(connection))).await?
}

#[async_trait]
impl<P: SqliteProjector> Rebuildable for SqliteProjection<P> {
    async fn stage(&self) -> Result<Box<dyn StagedGeneration>, ProjectionError> {
        let projector = Arc::clone(&self.projector);
        let generation = self
            .pool
            .run(move |connection| {
                let transaction = immediate(connection)?;
                let name = projector.name();
                // Leftovers of a rebuild that never finished.
                let stale: Vec<i64> = transaction
                    .prepare("SELECT Generation FROM projections WHERE Name = ?1 AND Live = 0")
                    .and_then(|mut statement| statement.query_map([name], |row| row.get(0))?.collect())
                    .map_err(StoreError::backend)?;
                for generation in stale {
                    drop_generation(&transaction, &*projector, generation.max(0) as u64)
                        .map_err(StoreError::backend)?;
                }
                let generation = newest_generation(&transaction, name)? + 1;
                create_generation(&transaction, &*projector, generation, false).map_err(StoreError::backend)?;
                transaction.commit().map_err(StoreError::backend)?;
                Ok(generation)
            })
            .await?;
        Ok(Box::new(StagedSqlite {
            projector: Arc::clone(&self.projector),
            pool: Arc::clone(&self.pool),
            checkpointer: self.checkpointer.clone(),
            live: Arc::clone(&self.known),
            generation,
            name: format!("{} (generation {generation})", self.projector.name()),
        }))
    }
}

struct StagedSqlite<P> {
    projector: Arc<P>,
    pool: Arc<Pool>,
    checkpointer: Nudge,
    /// The live projection's known position, forgotten once this one is live.
    live: Arc<AtomicU64>,
    generation: u64,
    name: String,
}

#[async_trait]
impl<P: SqliteProjector> es_core::Projection for StagedSqlite<P> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn position(&self) -> Result<Position, ProjectionError> {
        let projector = Arc::clone(&self.projector);
        let generation = self.generation;
        let position = self
            .pool
            .run(move |connection| {
                connection
                    .query_row(
                        "SELECT Position FROM projections WHERE Name = ?1 AND Generation = ?2",
                        params![projector.name(), sql_int(generation)],
                        |row| row.get::<_, i64>(0),
                    )
                    .map_err(StoreError::backend)
            })
            .await?;
        Ok(Position(position.max(0) as u64))
    }

    async fn apply(&self, after: Position, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        let projector = Arc::clone(&self.projector);
        let generation = self.generation;
        let batch = batch.to_vec();
        run_projection(&self.pool, move |connection| {
            apply_batch(connection, &*projector, Some(generation), after, &batch)
        })
        .await?;
        self.checkpointer.commit_happened();
        Ok(())
    }
}

#[async_trait]
impl<P: SqliteProjector> StagedGeneration for StagedSqlite<P> {
    async fn promote(self: Box<Self>) -> Result<(), ProjectionError> {
        let projector = Arc::clone(&self.projector);
        let generation = self.generation;
        let promoted = self
            .pool
            .run(move |connection| {
                let transaction = immediate(connection)?;
                let name = projector.name();
                let old = live_generation(&transaction, name)?;
                transaction
                    .execute(
                        "UPDATE projections SET Live = (Generation = ?2) WHERE Name = ?1",
                        params![name, sql_int(generation)],
                    )
                    .map_err(StoreError::backend)?;
                point_views(&transaction, &*projector, generation).map_err(StoreError::backend)?;
                if let Some((old, _)) = old {
                    drop_generation(&transaction, &*projector, old).map_err(StoreError::backend)?;
                }
                transaction.commit().map_err(StoreError::backend)
            })
            .await;
        // Swapped or not (a failed commit leaves it unknown), the live
        // position must be read again.
        self.live.store(UNKNOWN, Ordering::Release);
        promoted?;
        Ok(())
    }
}
