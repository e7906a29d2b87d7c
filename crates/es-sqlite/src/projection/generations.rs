//! A projection's generations in the read models' file: the `projections`
//! table that says which generation is live, where each one stands and in
//! which shape, the tables and views of a generation, and a batch applied to
//! one generation with its checkpoint in the same transaction.

use es_core::{Position, ProjectionError, RecordedEvent, StoreError};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{SqliteProjector, Tables, generation_table};
use crate::rows::sql_int;

pub(super) fn immediate(connection: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::backend)
}

/// The live generation of a projection.
pub(super) struct Live {
    pub(super) generation: u64,
    pub(super) position: Position,
    pub(super) shape: u32,
}

/// The live generation, its position and its shape.
pub(super) fn live(connection: &Connection, name: &str) -> Result<Option<Live>, StoreError> {
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
pub(super) fn newest_generation(connection: &Connection, name: &str) -> Result<u64, StoreError> {
    connection
        .query_row("SELECT coalesce(max(Generation), 0) FROM projections WHERE Name = ?1", [name], |row| {
            row.get::<_, i64>(0)
        })
        .map(|newest| newest.max(0) as u64)
        .map_err(StoreError::backend)
}

/// The live generation and its position.
pub(super) fn live_generation(connection: &Connection, name: &str) -> Result<Option<(u64, Position)>, StoreError> {
    Ok(live(connection, name)?.map(|live| (live.generation, live.position)))
}

pub(super) fn create_generation(
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

pub(super) fn drop_generation(
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

pub(super) fn point_views(
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
pub(super) fn apply_batch(
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
