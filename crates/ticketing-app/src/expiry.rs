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
//!
//! A host without a long-running process (a function called once a minute)
//! calls [`HoldExpiry::run_once`] instead of [`HoldExpiry::run`]: it catches
//! up with the log and sweeps, each within a [`RunBounds`], so one call never
//! outlasts its time limit; what it leaves is done by the next call, from
//! where this one stopped as long as the same value is kept between calls.

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

/// Records read per page while catching up with the log.
const CATCH_UP_PAGE_RECORDS: u32 = 1_000;

/// The most work one [`HoldExpiry::run_once`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunBounds {
    /// Records of the log read to catch up.
    pub records_max: usize,
    /// Concerts swept (each is one read and one append per run-out hold).
    pub concerts_max: usize,
}

/// What one [`HoldExpiry::run_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunReport {
    /// Records of the log read.
    pub records_read: usize,
    /// Whether the end of the log was reached; if not, holds made since
    /// are found by a later run.
    pub caught_up: bool,
    /// Holds expired.
    pub expired: usize,
    /// Concerts with run-out holds left for a later run.
    pub concerts_left: usize,
}

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
        let (expired, _) = self.sweep_at_most(shop, now, usize::MAX).await?;
        Ok(expired)
    }

    /// As [`HoldExpiry::sweep`], for at most `concerts_max` concerts, those
    /// with the earliest run-out hold first. Returns the holds expired and
    /// the concerts left with run-out holds.
    pub async fn sweep_at_most(
        &self,
        shop: &Shop,
        now: DateTime<Utc>,
        concerts_max: usize,
    ) -> Result<(usize, usize), AppError> {
        let mut concerts: Vec<ConcertId> = Vec::new();
        let mut seen: BTreeSet<ConcertId> = BTreeSet::new();
        for (_, hold_id) in self.due.iter().take_while(|(expires_at, _)| *expires_at <= now) {
            if let Some((_, concert_id)) = self.holds.get(hold_id)
                && seen.insert(*concert_id)
            {
                concerts.push(*concert_id);
            }
        }
        let left = concerts.len().saturating_sub(concerts_max);
        let mut expired = 0;
        for concert_id in concerts.into_iter().take(concerts_max) {
            expired += shop.expire_holds(concert_id, now).await?;
        }
        Ok((expired, left))
    }

    /// Observes the log after the last record seen, at most `records_max`
    /// records. Returns how many were read and whether the end was reached.
    /// A hold record that does not decode is logged and passed over, as in
    /// [`HoldExpiry::run`].
    pub async fn catch_up(&mut self, log: &EventLog, records_max: usize) -> Result<(usize, bool), AppError> {
        let mut read = 0;
        while read < records_max {
            let page_size = u32::try_from(records_max - read).unwrap_or(u32::MAX).min(CATCH_UP_PAGE_RECORDS);
            let page =
                log.read_all(self.position, page_size).await.map_err(|error| AppError::Store(error.to_string()))?;
            if page.is_empty() {
                return Ok((read, true));
            }
            read += page.len();
            for record in &page {
                if let Err(error) = self.observe(record) {
                    tracing::error!(position = %record.position, %error, "hold expiry cannot read a hold event");
                }
            }
        }
        Ok((read, false))
    }

    /// One bounded run for a scheduled host: catches up with `shop`'s log,
    /// then expires what has run out at `now`. Keep the value between runs:
    /// a new one starts again from the beginning of the log.
    pub async fn run_once(
        &mut self,
        shop: &Shop,
        now: DateTime<Utc>,
        bounds: RunBounds,
    ) -> Result<RunReport, AppError> {
        let (records_read, caught_up) = self.catch_up(shop.log(), bounds.records_max).await?;
        let (expired, concerts_left) = self.sweep_at_most(shop, now, bounds.concerts_max).await?;
        Ok(RunReport { records_read, caught_up, expired, concerts_left })
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
