//! The `hold-expiry` function, called by EventBridge Scheduler every minute: asks the read model which concerts
//! have run-out holds (the `holds` table the projector keeps) and expires those of at most
//! [`HOLD_EXPIRY_CONCERTS_PER_RUN_MAX`] concerts, earliest first, with `ticketing_app::expire_due_holds`. It never
//! reads the log in order, so a run's work does not grow with the log's length, and a cold container does no more
//! than a warm one. A concert that fails is logged and passed over; the next run tries it again. A run that fails
//! is not retried (the schedule says so): the next minute's run does its work. The shop counts the holds it releases
//! (`cloudbash_holds_expired_total`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::limits::HOLD_EXPIRY_CONCERTS_PER_RUN_MAX;
use crate::{LambdaError, Resources};

/// What a run did, as the function's result (visible in its logs and to a caller invoking it by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldExpiryRun {
    /// Holds expired.
    pub expired: usize,
    /// Concerts whose expiry failed (tried again by the next run).
    pub failed: usize,
    /// Concerts with run-out holds left for the next run.
    pub concerts_left: usize,
}

/// One run at `now`, within the function's bound.
pub async fn handle(resources: &Resources, now: DateTime<Utc>) -> Result<HoldExpiryRun, LambdaError> {
    run(resources, now, HOLD_EXPIRY_CONCERTS_PER_RUN_MAX).await
}

/// One run at `now` for at most `concerts_max` concerts.
pub async fn run(resources: &Resources, now: DateTime<Utc>, concerts_max: usize) -> Result<HoldExpiryRun, LambdaError> {
    let shop = resources.shop().await?;
    let due = resources.queries().await?;
    let report = ticketing_app::expire_due_holds(shop, due, now, concerts_max).await?;
    let run = HoldExpiryRun { expired: report.expired, failed: report.failed, concerts_left: report.concerts_left };
    tracing::info!(?run, "hold expiry ran");
    Ok(run)
}
