//! Catch-up-then-live reading of the whole log.
//!
//! A [`Subscription`] reads pages after its position; when it reaches the
//! head it sleeps until the store announces a commit (no polling on the hot
//! path), with a slow timer only for writers in another process. Delivery is
//! at least once and in commit order, which includes order per aggregate —
//! the only order projections may rely on, since it is all that Kinesis, SQS
//! FIFO and DynamoDB Streams promise.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ids::Position;
use crate::limits;
use crate::log::{EventLog, ReadError};
use crate::record::RecordedEvent;

/// Where a consumer without a checkpoint starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// The first event ever written.
    Beginning,
    /// The first event after this position.
    After(Position),
    /// The first event created at or after this time.
    Time(DateTime<Utc>),
    /// Only events committed from now on.
    End,
}

impl StartFrom {
    /// The position to read after.
    pub async fn resolve(self, log: &EventLog) -> Result<Position, ReadError> {
        Ok(match self {
            StartFrom::Beginning => Position::START,
            StartFrom::After(position) => position,
            StartFrom::Time(time) => log.store().position_before(time).await?,
            StartFrom::End => log.store().head().await?,
        })
    }
}

/// A reader of the whole log that follows it live.
#[derive(Debug)]
pub struct Subscription {
    log: EventLog,
    position: Position,
    commits: watch::Receiver<Position>,
    batch_size: u32,
}

impl Subscription {
    /// A subscription reading after `position`.
    pub fn after(log: &EventLog, position: Position) -> Self {
        Self {
            commits: log.store().commits(),
            log: log.clone(),
            position,
            batch_size: limits::SUBSCRIPTION_BATCH_DEFAULT,
        }
    }

    /// A subscription starting where `start` says.
    pub async fn start(log: &EventLog, start: StartFrom) -> Result<Self, ReadError> {
        Ok(Self::after(log, start.resolve(log).await?))
    }

    /// The same subscription delivering at most `batch_size` events a batch.
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        assert!(batch_size > 0, "a batch holds at least one event");
        self.batch_size = batch_size.min(limits::READ_PAGE_MAX);
        self
    }

    /// The position of the last event delivered.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Moves the subscription, e.g. back to a consumer's checkpoint.
    pub fn seek(&mut self, position: Position) {
        self.position = position;
    }

    /// The next page if one is there, without waiting. It may hold fewer
    /// events than the batch size even when more follow (what other
    /// subscribers of the same log just read is shared, see `tail.rs`); an
    /// empty page means the log's end.
    pub async fn poll(&mut self) -> Result<Vec<RecordedEvent>, ReadError> {
        let page = self.log.read_all_shared(self.position, self.batch_size).await?;
        if let Some(last) = page.last() {
            self.position = last.position;
        }
        Ok(page)
    }

    /// The next non-empty batch, waiting for commits as long as needed;
    /// `None` once `shutdown` is cancelled.
    pub async fn next_batch(&mut self, shutdown: &CancellationToken) -> Result<Option<Vec<RecordedEvent>>, ReadError> {
        loop {
            // A consumer told to stop starts no further read.
            if shutdown.is_cancelled() {
                return Ok(None);
            }
            // Mark the current head as seen *before* reading, so a commit that
            // lands after the read still wakes us.
            self.commits.borrow_and_update();
            // Nor waits for one in flight (a slow remote read): dropping a
            // read moves nothing, the position moves only with a page.
            let page = tokio::select! {
                () = shutdown.cancelled() => return Ok(None),
                page = self.poll() => page?,
            };
            if !page.is_empty() {
                return Ok(Some(page));
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(None),
                changed = self.commits.changed() => {
                    if changed.is_err() {
                        // The store is gone; fall back to the idle timer.
                        tokio::time::sleep(Duration::from_millis(limits::IDLE_WAKE_MILLIS)).await;
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(limits::IDLE_WAKE_MILLIS)) => {}
            }
        }
    }
}
