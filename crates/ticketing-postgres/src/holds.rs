//! The live holds with their expiry, kept by the `ticket_types` read model
//! beside the counts it moves, so that hold expiry on a host without the
//! log in memory (the scheduled Lambda function) asks which keepers (a
//! concert, or a bucket of one) have run-out holds instead of replaying the
//! log: bounded work per run, however long the log.

use chrono::{DateTime, Utc};
use es_core::{AggregateId, async_trait};
use sqlx_core::query::query;
use sqlx_core::query_scalar::query_scalar;
use sqlx_postgres::PgConnection;
use ticketing::HoldId;
use ticketing_app::DueHolds;
use ticketing_app::queries::QueryError;

use crate::PostgresQueries;
use crate::rows::Refusal;

/// A hold was made.
pub(crate) async fn held(
    connection: &mut PgConnection,
    hold_id: HoldId,
    keeper_id: uuid::Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), Refusal> {
    query("INSERT INTO holds (hold_id, keeper_id, expires_at) VALUES ($1, $2, $3)")
        .bind(hold_id.0)
        .bind(keeper_id)
        .bind(expires_at)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Holds were kept for an order awaiting payment: they now run out at its
/// due time.
pub(crate) async fn rescheduled(
    connection: &mut PgConnection,
    holds: &[HoldId],
    expires_at: DateTime<Utc>,
) -> Result<(), Refusal> {
    let ids: Vec<uuid::Uuid> = holds.iter().map(|hold| hold.0).collect();
    query("UPDATE holds SET expires_at = $2 WHERE hold_id = ANY($1)")
        .bind(ids)
        .bind(expires_at)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Holds were released, expired or sold.
pub(crate) async fn settled(connection: &mut PgConnection, holds: &[HoldId]) -> Result<(), Refusal> {
    let ids: Vec<uuid::Uuid> = holds.iter().map(|hold| hold.0).collect();
    query("DELETE FROM holds WHERE hold_id = ANY($1)").bind(ids).execute(&mut *connection).await?;
    Ok(())
}

#[async_trait]
impl DueHolds for PostgresQueries {
    async fn keepers_with_due_holds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<AggregateId>, QueryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let keepers: Vec<uuid::Uuid> = query_scalar(
            "SELECT keeper_id FROM holds WHERE expires_at <= $1 \
             GROUP BY keeper_id ORDER BY min(expires_at), keeper_id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(|error| QueryError::store(crate::PostgresError::from(error)))?;
        Ok(keepers.into_iter().map(AggregateId).collect())
    }
}
