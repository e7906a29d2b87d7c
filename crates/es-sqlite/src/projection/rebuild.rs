//! Rebuilding a SQLite read model: a fresh generation staged beside the live
//! one, filled from the log as a projection of its own, then promoted in one
//! transaction that re-points the views and drops the old tables.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use es_core::{Position, ProjectionError, Rebuildable, RecordedEvent, StagedGeneration, StoreError};
use rusqlite::params;

use super::generations::{
    apply_batch, create_generation, drop_generation, immediate, live_generation, newest_generation, point_views,
};
use super::{SqliteProjection, SqliteProjector, UNKNOWN, run_projection};
use crate::checkpointer::Nudge;
use crate::pool::Pool;
use crate::rows::sql_int;

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
