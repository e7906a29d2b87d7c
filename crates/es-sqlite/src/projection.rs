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
use es_core::{Position, ProjectionError, RecordedEvent, StoreError};
use rusqlite::{Connection, Transaction};

use crate::SqliteEventStore;
use crate::checkpointer::Nudge;
use crate::pool::{Durability, Pool};

mod generations;
mod rebuild;

use self::generations::{
    apply_batch, create_generation, drop_generation, immediate, live, live_generation, newest_generation, point_views,
};

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
