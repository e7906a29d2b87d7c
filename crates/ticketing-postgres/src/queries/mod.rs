//! The read side's queries over the read models in PostgreSQL, answering
//! exactly as the embedded mode's `SqliteQueries` does: the same order, the
//! same page cursors (byte for byte), the same search. Names are compared
//! and sorted in the "C" collation and lowered ASCII only, as SQLite's
//! `lower` does; times are compared at the millisecond precision SQLite's
//! text keeps. Every query is one statement, so it reads one snapshot.
//!
//! Carts are not here: they live in DynamoDB (`ticketing-dynamodb`), and
//! the composition root puts both in one `ReadSide`.
//!
//! One file per read model's port; the rows and how they become views are
//! in `rows`. This file holds how far the read models have followed the
//! log, per aggregate.

use std::collections::{HashMap, HashSet};

use es_core::{AggregateId, Position, Version, async_trait};
use sqlx_core::query_as::query_as;
use sqlx_postgres::PgPool;
use ticketing_app::queries::{QueryError, ReadProgress};
use ticketing_app::written::Written;
use uuid::Uuid;

use crate::error::PostgresError;
use crate::projectors::ReadModel;
use crate::rows::Kind;

mod catalogue;
mod purchases;
mod rows;
mod sales;
mod venues;

use self::rows::{corrupt, unsigned};

/// The read models' queries over PostgreSQL: every read model's port but
/// the carts'.
#[derive(Clone)]
pub struct PostgresQueries {
    pool: PgPool,
}

impl std::fmt::Debug for PostgresQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresQueries").field("pool", &self.pool).finish_non_exhaustive()
    }
}

impl PostgresQueries {
    /// The pool the queries use.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Queries over the (migrated) database behind `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Whether the database answers a statement: a readiness probe.
    pub async fn ping(&self) -> Result<(), QueryError> {
        query_as::<_, (i32,)>("SELECT 1").fetch_one(&self.pool).await.map_err(PostgresError::from)?;
        Ok(())
    }

    /// The version of `aggregate` that every read model here that reads its
    /// kind has applied, at least: what a caller waits for to read its own
    /// writes ("until version N of aggregate A is visible"). `None` while
    /// any of them has applied nothing of it, and for aggregates no read
    /// model here reads (carts: ask the carts read model). An event of a
    /// type this release does not know moves no read model's version.
    pub async fn applied_version(&self, aggregate: AggregateId) -> Result<Option<Version>, QueryError> {
        Ok(self.applied_versions(&[aggregate]).await?.remove(&aggregate))
    }

    /// [`PostgresQueries::applied_version`] of several aggregates in one
    /// query: the aggregates missing from the answer are those not applied
    /// everywhere (or not read here).
    pub async fn applied_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, QueryError> {
        let ids: Vec<Uuid> = aggregates.iter().map(|aggregate| aggregate.0).collect();
        let rows: Vec<(Uuid, String, String, i64)> =
            query_as("SELECT aggregate_id, sink, kind, version FROM applied_versions WHERE aggregate_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await
                .map_err(PostgresError::from)?;
        let mut by_aggregate: HashMap<Uuid, (&str, HashMap<&str, i64>)> = HashMap::new();
        for (aggregate, sink, kind, version) in &rows {
            by_aggregate.entry(*aggregate).or_insert_with(|| (kind.as_str(), HashMap::new())).1.insert(sink, *version);
        }
        let mut applied = HashMap::with_capacity(by_aggregate.len());
        'aggregates: for (aggregate, (kind, by_sink)) in by_aggregate {
            let kind = Kind::parse(kind).ok_or_else(|| corrupt(format!("aggregate kind {kind:?}")))?;
            let mut lowest: Option<Version> = None;
            for model in ReadModel::ALL.into_iter().filter(|model| model.reads().contains(&kind)) {
                let Some(&version) = by_sink.get(model.name()) else {
                    continue 'aggregates;
                };
                let version = Version(unsigned(version)?);
                lowest = Some(lowest.map_or(version, |lowest| lowest.min(version)));
            }
            if let Some(lowest) = lowest {
                applied.insert(AggregateId(aggregate), lowest);
            }
        }
        Ok(applied)
    }
}

#[async_trait]
impl ReadProgress for PostgresQueries {
    /// Always [`Position::START`]: the bus has no global position, and the
    /// read models apply each aggregate's events as they come, so no
    /// position of the log is known to be applied everywhere (the highest
    /// applied one is not: an earlier event of another aggregate may still
    /// be on its way). Wait with [`PostgresQueries::applied_version`]
    /// instead.
    async fn position(&self) -> Result<Position, QueryError> {
        Ok(Position::START)
    }

    /// The aggregates written that every read model here that reads them
    /// has applied at their version or later; carts are not among them.
    async fn shown(&self, written: &Written) -> Result<HashSet<AggregateId>, QueryError> {
        let ids: Vec<AggregateId> = written.versions.iter().map(|(aggregate_id, _)| *aggregate_id).collect();
        let here = self.applied_versions(&ids).await?;
        Ok(written
            .versions
            .iter()
            .filter(|(aggregate_id, version)| here.get(aggregate_id).is_some_and(|applied| applied >= version))
            .map(|(aggregate_id, _)| *aggregate_id)
            .collect())
    }
}
