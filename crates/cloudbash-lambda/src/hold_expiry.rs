//! The `hold-expiry` function, called by EventBridge Scheduler every minute: one bounded run of
//! `ticketing_app::HoldExpiry` (catch up with the log, expire what ran out), instead of the long-running process
//! `cloudbash serve` keeps. A warm container keeps the process's memory between runs, so a run reads only the
//! records appended since the last one; a new container reads the log from the start, at most
//! [`HOLD_EXPIRY_RECORDS_PER_RUN_MAX`] records per run. A run that fails is not retried (the schedule says so):
//! the next minute's run does its work.

use chrono::{DateTime, Utc};
use serde::Serialize;
use ticketing_app::RunBounds;

use crate::limits::{HOLD_EXPIRY_CONCERTS_PER_RUN_MAX, HOLD_EXPIRY_RECORDS_PER_RUN_MAX};
use crate::{LambdaError, Resources};

/// What a run did, as the function's result (visible in its logs and to a caller invoking it by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldExpiryRun {
    /// Records of the log read.
    pub records_read: usize,
    /// Whether the run reached the end of the log.
    pub caught_up: bool,
    /// Holds expired.
    pub expired: usize,
    /// Concerts with run-out holds left for the next run.
    pub concerts_left: usize,
}

/// One run at `now`, within the function's bounds.
pub async fn handle(resources: &Resources, now: DateTime<Utc>) -> Result<HoldExpiryRun, LambdaError> {
    let bounds =
        RunBounds { records_max: HOLD_EXPIRY_RECORDS_PER_RUN_MAX, concerts_max: HOLD_EXPIRY_CONCERTS_PER_RUN_MAX };
    run(resources, now, bounds).await
}

/// One run at `now` within `bounds`.
pub async fn run(resources: &Resources, now: DateTime<Utc>, bounds: RunBounds) -> Result<HoldExpiryRun, LambdaError> {
    let shop = resources.shop().await?;
    // Runs of one container never overlap (one invocation at a time); the lock only makes that explicit.
    let mut expiry = resources.hold_expiry.lock().await;
    let report = expiry.run_once(shop, now, bounds).await?;
    let run = HoldExpiryRun {
        records_read: report.records_read,
        caught_up: report.caught_up,
        expired: report.expired,
        concerts_left: report.concerts_left,
    };
    tracing::info!(?run, live_holds = expiry.live_holds(), "hold expiry ran");
    Ok(run)
}
