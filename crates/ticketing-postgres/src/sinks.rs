//! Each read model as a [`BusSink`]: one PostgreSQL transaction per
//! delivery, holding the delivery's rows, the version guards it moved and
//! the bus checkpoint, so that a failed delivery leaves nothing behind and a
//! repeated one changes nothing.
//!
//! A transaction that loses to a concurrent consumer's (two pollers or
//! Lambda invocations applying overlapping batches deadlock on the same
//! aggregates' rows) runs again, up to [`APPLY_ATTEMPTS_MAX`] times; events
//! are applied sorted by aggregate, which makes such deadlocks rare.

use std::collections::HashMap;

use async_trait::async_trait;
use es_aws_bus::sink::{BusSink, Checkpoint};
use es_core::{AggregateId, EventStore, Position, ProjectionError, RecordedEvent, Version};
use sqlx_core::query::query;
use sqlx_core::query_as::query_as;
use sqlx_postgres::{PgConnection, PgPool};

use crate::error::PostgresError;
use crate::limits::{APPLY_ATTEMPTS_MAX, REBUILD_PAGE_EVENTS_MAX};
use crate::projectors::ReadModel;
use crate::rows::{Kind, Refusal, admit, decode};

/// One read model on PostgreSQL, fed from the bus.
#[derive(Clone, Debug)]
pub struct PostgresSink {
    pool: PgPool,
    model: ReadModel,
}

impl PostgresSink {
    /// The sink of `model` in the database behind `pool` (migrated: see
    /// [`crate::migrate`]).
    pub fn new(pool: PgPool, model: ReadModel) -> Self {
        Self { pool, model }
    }

    /// The read model it feeds.
    pub fn model(&self) -> ReadModel {
        self.model
    }

    async fn apply_once(&self, events: &[RecordedEvent], checkpoint: Option<&Checkpoint>) -> Result<(), PostgresError> {
        let mut transaction = self.pool.begin().await?;
        apply_events(&mut transaction, self.model, events).await?;
        if let Some(checkpoint) = checkpoint {
            query(
                "INSERT INTO bus_checkpoints (sink, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (sink, key) DO UPDATE SET value = excluded.value",
            )
            .bind(self.model.name())
            .bind(checkpoint.key.as_str())
            .bind(checkpoint.value.as_str())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

/// Applies `events` to `model` inside the caller's transaction: those of the
/// kinds it reads, each only if newer than the applied version of its
/// aggregate, in version order per aggregate.
pub(crate) async fn apply_events(
    connection: &mut PgConnection,
    model: ReadModel,
    events: &[RecordedEvent],
) -> Result<(), PostgresError> {
    let mut ordered: Vec<&RecordedEvent> = events.iter().collect();
    // Per aggregate, versions ascend (whatever the delivery's order); across
    // aggregates, a fixed order, so that two transactions lock the same
    // aggregates' guard rows in the same order.
    ordered.sort_by_key(|event| (event.aggregate_id, event.aggregate_version));
    for event in ordered {
        apply_event(connection, model, event).await.map_err(|refusal| match refusal {
            Refusal::Database(error) => PostgresError::Database(error),
            Refusal::Unfit(reason) => PostgresError::Apply {
                sink: model.name(),
                aggregate_id: event.aggregate_id,
                version: event.aggregate_version,
                position: event.position,
                reason,
            },
        })?;
    }
    Ok(())
}

async fn apply_event(connection: &mut PgConnection, model: ReadModel, event: &RecordedEvent) -> Result<(), Refusal> {
    let Some((kind, fact)) = decode(event, model.reads())? else {
        return Ok(());
    };
    if !admit(connection, model.name(), kind, event).await? {
        return Ok(());
    }
    model.project(connection, event, fact).await
}

#[async_trait]
impl BusSink for PostgresSink {
    fn name(&self) -> &str {
        self.model.name()
    }

    /// By the event type's family, which is the aggregate's kind.
    fn reads(&self, event: &RecordedEvent) -> bool {
        Kind::of(&event.event_type).is_some_and(|kind| self.model.reads().contains(&kind))
    }

    async fn applied_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, ProjectionError> {
        let ids: Vec<uuid::Uuid> = aggregates.iter().map(|aggregate| aggregate.0).collect();
        let rows: Vec<(uuid::Uuid, i64)> =
            query_as("SELECT aggregate_id, version FROM applied_versions WHERE sink = $1 AND aggregate_id = ANY($2)")
                .bind(self.model.name())
                .bind(ids)
                .fetch_all(&self.pool)
                .await
                .map_err(PostgresError::from)?;
        rows.into_iter()
            .map(|(id, version)| {
                let version = u64::try_from(version)
                    .map_err(|_| PostgresError::Corrupt(format!("applied version {version} of {id}")))?;
                Ok((AggregateId(id), Version(version)))
            })
            .collect::<Result<_, PostgresError>>()
            .map_err(ProjectionError::from)
    }

    async fn apply(&self, events: &[RecordedEvent], checkpoint: Option<&Checkpoint>) -> Result<(), ProjectionError> {
        let mut attempt = 1;
        loop {
            match self.apply_once(events, checkpoint).await {
                Err(error) if error.is_contention() && attempt < APPLY_ATTEMPTS_MAX => {
                    tracing::debug!(sink = self.model.name(), attempt, %error, "lost to a concurrent consumer; again");
                    attempt += 1;
                }
                result => return result.map_err(ProjectionError::from),
            }
        }
    }

    async fn checkpoint(&self, key: &str) -> Result<Option<String>, ProjectionError> {
        let value: Option<(String,)> = query_as("SELECT value FROM bus_checkpoints WHERE sink = $1 AND key = $2")
            .bind(self.model.name())
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(PostgresError::from)?;
        Ok(value.map(|(value,)| value))
    }
}

/// Empties `models` (rows, applied versions and bus checkpoints) and applies
/// the whole of `log` to them again through the same code the sinks run,
/// reading the log once for all of them; returns the last position read.
///
/// It is one transaction: queries see the old read models until it
/// commits, then the rebuilt ones, never a half-built one; a failure leaves
/// the old ones as they were. Consumers delivering meanwhile wait for the
/// rows it holds; the version guards then skip what it applied, and a
/// delivery that raced it may fail once and, retried, find its events
/// applied. The bus checkpoints go with the rows: pollers start again from
/// their configured starting point, and what they deliver again that the
/// rebuild already applied, the version guards skip.
pub async fn rebuild(pool: &PgPool, models: &[ReadModel], log: &dyn EventStore) -> Result<Position, PostgresError> {
    let mut transaction = pool.begin().await?;
    for &model in models {
        for table in model.tables() {
            // Table names come from a closed list, never from input.
            query(&format!("DELETE FROM {table}")).execute(&mut *transaction).await?;
        }
        for shared in ["applied_versions", "bus_checkpoints"] {
            query(&format!("DELETE FROM {shared} WHERE sink = $1"))
                .bind(model.name())
                .execute(&mut *transaction)
                .await?;
        }
    }
    let mut after = Position::START;
    loop {
        let page = log.read_all(after, REBUILD_PAGE_EVENTS_MAX).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for &model in models {
            apply_events(&mut transaction, model, &page).await?;
        }
    }
    transaction.commit().await?;
    tracing::info!(models = ?models, position = after.0, "rebuilt read models from the log");
    Ok(after)
}
