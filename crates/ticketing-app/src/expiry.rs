//! The process that releases holds nobody checked out: nothing stays held
//! forever.
//!
//! It is driven by the log and a clock, not by a timer per request. It
//! follows the log to know every live hold and when it runs out (a
//! `TicketsHeld` adds one; a release, an expiry or a sale settles it), and
//! at each due time asks the [`Shop`] to expire the concert's run-out holds
//! — the same atomic Concert + Cart append as every other command, so a
//! checkout racing the sweep is decided by the expected versions, never by
//! luck. Its memory is rebuilt by replaying the log when it starts, so it
//! keeps nothing of its own on disk.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use es_core::{CancellationToken, Clock, DomainEvent, EventLog, Position, RecordedEvent, Subscription};
use ticketing::{ConcertEvent, ConcertId, HoldId};

use crate::{AppError, Shop};

/// Longest the process sleeps without looking at the clock, so that a clock
/// that jumps (or a hold made by another process) is noticed soon.
const SWEEP_INTERVAL_MAX: Duration = Duration::from_secs(1);

/// The event types that start or settle a hold.
const HOLD_EVENT_TYPES: [&str; 4] = ["TicketsHeld", "TicketHoldReleased", "TicketHoldExpired", "TicketsSold"];

/// Live holds by due time, rebuilt from the log.
#[derive(Debug, Default)]
pub struct HoldExpiry {
    /// (expires at, hold) for every live hold, earliest first.
    due: BTreeSet<(DateTime<Utc>, HoldId)>,
    /// Where each live hold is, to settle it and to find its concert.
    holds: HashMap<HoldId, (DateTime<Utc>, ConcertId)>,
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
        let concert_id = ConcertId::from(record.aggregate_id);
        match ConcertEvent::from_record(record)? {
            ConcertEvent::TicketsHeld { hold_id, expires_at, .. } => {
                self.due.insert((expires_at, hold_id));
                self.holds.insert(hold_id, (expires_at, concert_id));
            }
            ConcertEvent::HoldReleased { hold_id, .. } | ConcertEvent::HoldExpired { hold_id, .. } => {
                self.settle(hold_id);
            }
            ConcertEvent::TicketsSold { holds, .. } => {
                for hold in holds {
                    self.settle(hold.hold_id);
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

    /// Expires every hold that has run out at `now`, one concert at a time.
    /// Returns how many holds were expired. The holds stay in memory until
    /// their `TicketHoldExpired` event is observed from the log.
    pub async fn sweep(&self, shop: &Shop, now: DateTime<Utc>) -> Result<usize, AppError> {
        let concerts: BTreeSet<ConcertId> = self
            .due
            .iter()
            .take_while(|(expires_at, _)| *expires_at <= now)
            .filter_map(|(_, hold_id)| self.holds.get(hold_id).map(|(_, concert_id)| *concert_id))
            .collect();
        let mut expired = 0;
        for concert_id in concerts {
            expired += shop.expire_holds(concert_id, now).await?;
        }
        Ok(expired)
    }

    /// Follows the log and sweeps whenever a hold falls due, until
    /// `shutdown`. Failures are logged and retried at the next tick.
    pub async fn run(mut self, shop: Arc<Shop>, log: EventLog, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
        let mut subscription = Subscription::after(&log, self.position);
        let mut commits = log.store().commits();
        loop {
            // Seen before reading, so a commit landing after the read still wakes us.
            commits.borrow_and_update();
            match subscription.poll().await {
                Ok(page) if !page.is_empty() => {
                    for record in &page {
                        if let Err(error) = self.observe(record) {
                            tracing::error!(position = %record.position, %error, "hold expiry cannot read a hold event");
                        }
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "hold expiry cannot read the log; retrying"),
            }
            let now = clock.now();
            if let Err(error) = self.sweep(&shop, now).await {
                tracing::warn!(%error, "hold expiry sweep failed; retrying");
            }
            let until_due = self
                .next_due()
                .and_then(|due| (due - now).to_std().ok())
                .unwrap_or(SWEEP_INTERVAL_MAX)
                .min(SWEEP_INTERVAL_MAX);
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = commits.changed() => {}
                () = tokio::time::sleep(until_due) => {}
            }
        }
    }
}
