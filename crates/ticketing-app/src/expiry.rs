//! The process that releases holds nobody checked out: nothing stays held
//! forever.
//!
//! It is driven by the log and a clock, not by a timer per request. It
//! follows the log to know every live hold and when it runs out (a
//! `TicketsHeld` adds one; a release, an expiry or a sale settles it), and
//! at each due time asks the [`Shop`] to expire the run-out holds of their
//! keeper (the concert, or the bucket that holds them) — the same atomic
//! keeper + Cart append as every other command, so a
//! checkout racing the sweep is decided by the expected versions, never by
//! luck. Its memory is rebuilt by replaying the log when it starts, so it
//! keeps nothing of its own on disk.
//!
//! A host without a long-running process (a function called once a minute)
//! does not follow the log at all: it asks a read model which concerts have
//! run-out holds ([`DueHolds`]) and calls [`expire_due_holds`], at most a
//! bounded number of concerts per call, earliest first. Its work does not
//! grow with the log's length, and what it leaves is done by the next call.
//!
//! Either way a concert whose expiry fails is logged and passed over: it
//! delays only itself, never the other concerts of the sweep.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use es_core::{
    AggregateId, CancellationToken, Clock, CodecError, DomainEvent, EventLog, Position, RecordedEvent, async_trait,
};
use futures_util::StreamExt;
use ticketing::bucket::HOLD_EVENT_TYPES;
use ticketing::{ConcertEvent, HoldId};

use crate::follow::Follower;
use crate::queries::QueryError;
use crate::{AppError, Shop};

/// Holds expired by a sweep of any process (a counter).
pub const HOLDS_EXPIRED: &str = "cloudbash_holds_expired_total";

/// Longest the process sleeps without looking at the clock, so that a clock
/// that jumps (or a hold made by another process) is noticed soon.
const SWEEP_INTERVAL_MAX: Duration = Duration::from_secs(1);

/// Which keepers (concerts, or buckets of concerts) have run-out holds, as
/// a read model knows them: for hosts that do not follow the log (the read
/// model follows it for them).
#[async_trait]
pub trait DueHolds: Send + Sync {
    /// The streams keeping a hold that ran out at or before `now` (the
    /// aggregate that wrote its `TicketsHeld`), the earliest run-out hold
    /// first, at most `limit`.
    async fn keepers_with_due_holds(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<AggregateId>, QueryError>;
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Holds expired.
    pub expired: usize,
    /// Keepers (concerts or buckets) whose expiry failed (logged; they are tried again next time).
    pub failed: usize,
    /// Keepers with run-out holds left for a later sweep.
    pub concerts_left: usize,
}

/// One bounded sweep for a scheduled host: expires the run-out holds of at
/// most `concerts_max` concerts that `due` names, earliest first.
pub async fn expire_due_holds(
    shop: &Shop,
    due: &dyn DueHolds,
    now: DateTime<Utc>,
    concerts_max: usize,
) -> Result<SweepReport, AppError> {
    let mut concerts =
        due.keepers_with_due_holds(now, concerts_max.saturating_add(1)).await.map_err(AppError::store)?;
    let left = concerts.len().saturating_sub(concerts_max);
    concerts.truncate(concerts_max);
    let mut report = expire_each(concerts, |keeper| shop.expire_holds(keeper, now)).await;
    report.concerts_left = left;
    Ok(report)
}

/// Keepers whose holds a sweep expires at once: they are independent streams
/// (a concert's buckets most of all), so a sale's worth of holds is released
/// in the time of its largest keeper, not of all of them in a row.
const KEEPERS_AT_ONCE: usize = 8;

/// Expires each keeper's run-out holds with `expire`, [`KEEPERS_AT_ONCE`] at
/// a time, going on past a keeper that fails.
async fn expire_each<F, Fut>(keepers: Vec<AggregateId>, mut expire: F) -> SweepReport
where
    F: FnMut(AggregateId) -> Fut,
    Fut: std::future::Future<Output = Result<usize, AppError>>,
{
    let outcomes: Vec<(AggregateId, Result<usize, AppError>)> = futures_util::stream::iter(keepers)
        .map(|keeper| {
            let expiring = expire(keeper);
            async move { (keeper, expiring.await) }
        })
        .buffer_unordered(KEEPERS_AT_ONCE)
        .collect()
        .await;
    let mut report = SweepReport::default();
    for (keeper, outcome) in outcomes {
        match outcome {
            Ok(expired) => report.expired += expired,
            Err(error) => {
                report.failed += 1;
                tracing::warn!(%keeper, %error, "expiring the holds of a concert or bucket failed; the others go on");
            }
        }
    }
    report
}

/// Live holds by due time, rebuilt from the log.
#[derive(Debug, Default)]
pub struct HoldExpiry {
    /// (expires at, hold) for every live hold, earliest first.
    due: BTreeSet<(DateTime<Utc>, HoldId)>,
    /// Where each live hold is, to settle it and to find its keeper.
    holds: HashMap<HoldId, (DateTime<Utc>, AggregateId)>,
    /// The last log position observed.
    position: Position,
}

impl HoldExpiry {
    /// A process that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one record of the log into account. Records that are not about
    /// holds are passed over; a hold record that does not decode is an error
    /// (the process must not silently forget a hold).
    pub fn observe(&mut self, record: &RecordedEvent) -> Result<(), es_core::CodecError> {
        self.position = self.position.max(record.position);
        if !HOLD_EVENT_TYPES.contains(&record.event_type.as_str()) {
            return Ok(());
        }
        let keeper = record.aggregate_id;
        match ConcertEvent::from_record(record)? {
            ConcertEvent::TicketsHeld { hold_id, expires_at, .. } => {
                self.due.insert((expires_at, hold_id));
                self.holds.insert(hold_id, (expires_at, keeper));
            }
            ConcertEvent::HoldReleased { hold_id, .. } | ConcertEvent::HoldExpired { hold_id, .. } => {
                self.settle(hold_id);
            }
            ConcertEvent::TicketsSold { holds, .. } => {
                for hold in holds {
                    self.settle(hold.hold_id);
                }
            }
            // Kept for an order awaiting payment: due when the order is.
            ConcertEvent::HoldsAwaitingPayment { hold_ids, until, .. } => {
                for hold_id in hold_ids {
                    if self.holds.contains_key(&hold_id) {
                        self.settle(hold_id);
                        self.due.insert((until, hold_id));
                        self.holds.insert(hold_id, (until, keeper));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn settle(&mut self, hold_id: HoldId) {
        if let Some((expires_at, _)) = self.holds.remove(&hold_id) {
            self.due.remove(&(expires_at, hold_id));
        }
    }

    /// How many holds are live.
    pub fn live_holds(&self) -> usize {
        self.holds.len()
    }

    /// When the next live hold runs out.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.due.first().map(|(expires_at, _)| *expires_at)
    }

    /// Expires every hold that has run out at `now`, one concert at a time;
    /// a concert that fails is logged and the others go on. The holds stay
    /// in memory until their `TicketHoldExpired` event is observed from the
    /// log.
    pub async fn sweep(&self, shop: &Shop, now: DateTime<Utc>) -> SweepReport {
        let mut concerts: Vec<AggregateId> = Vec::new();
        let mut seen: BTreeSet<AggregateId> = BTreeSet::new();
        for (_, hold_id) in self.due.iter().take_while(|(expires_at, _)| *expires_at <= now) {
            if let Some((_, concert_id)) = self.holds.get(hold_id)
                && seen.insert(*concert_id)
            {
                concerts.push(*concert_id);
            }
        }
        expire_each(concerts, |keeper| shop.expire_holds(keeper, now)).await
    }

    /// Follows the log and sweeps whenever a hold falls due, until
    /// `shutdown`. Failures are logged and retried at the next tick.
    pub async fn run(self, shop: Arc<Shop>, log: EventLog, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
        crate::follow::follow(Sweeping { expiry: self, shop, clock }, log, shutdown).await;
    }
}

/// Hold expiry with what it sweeps through.
struct Sweeping {
    expiry: HoldExpiry,
    shop: Arc<Shop>,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl Follower for Sweeping {
    const NAME: &'static str = "hold expiry";

    fn position(&self) -> Position {
        self.expiry.position
    }

    fn observe(&mut self, record: &RecordedEvent) -> Result<(), CodecError> {
        self.expiry.observe(record)
    }

    async fn act(&mut self) -> Duration {
        let now = self.clock.now();
        self.expiry.sweep(&self.shop, now).await;
        let until_due = self.expiry.next_due().and_then(|due| (due - now).to_std().ok());
        until_due.unwrap_or(SWEEP_INTERVAL_MAX).min(SWEEP_INTERVAL_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_concert_that_fails_delays_only_itself() {
        let concerts: Vec<AggregateId> = (0..3).map(|_| AggregateId::random()).collect();
        let failing = concerts[0];
        let mut tried = Vec::new();
        let report = expire_each(concerts.clone(), |concert_id| {
            tried.push(concert_id);
            async move {
                if concert_id == failing {
                    Err(AppError::store(std::io::Error::other("the store refused")))
                } else {
                    Ok(2)
                }
            }
        })
        .await;
        assert_eq!(tried, concerts, "every concert is tried, the failing first one included");
        assert_eq!(report, SweepReport { expired: 4, failed: 1, concerts_left: 0 });
    }
}
