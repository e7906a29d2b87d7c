//! Read models fed from the log, and the runner that keeps them current.
//!
//! A [`Projection`] owns its checkpoint. Backends that can (SQLite,
//! PostgreSQL) write a batch's read-model changes and the new checkpoint in
//! one transaction, which makes the effect exactly once. The checkpoint is
//! compare-and-set: a batch says which position it was read after, and a
//! projection that has moved elsewhere (a duplicate delivery, a rebuild that
//! was just promoted) refuses it with [`ProjectionError::Moved`] instead of
//! applying it twice or leaving a gap.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use thiserror::Error;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ids::Position;
use crate::limits;
use crate::log::{EventLog, ReadError};
use crate::record::RecordedEvent;
use crate::store::StoreError;
use crate::subscription::Subscription;

/// A projection could not apply a batch. The runner retries from the
/// checkpoint; nothing is ever skipped.
#[derive(Debug, Error)]
pub enum ProjectionError {
    /// The projection's checkpoint is not where the batch was read from.
    /// The runner re-reads the checkpoint and continues from there.
    #[error("projection {name} is at {actual}, not at {expected}")]
    Moved {
        /// The projection.
        name: String,
        /// Where the batch was read after.
        expected: Position,
        /// Where the projection's checkpoint is.
        actual: Position,
    },
    /// The read-model store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The projection's own code refused an event (a bug or a schema gap).
    #[error("projection {name} cannot apply event at {position}: {reason}")]
    Apply {
        /// The projection.
        name: String,
        /// The event's position.
        position: Position,
        /// What went wrong.
        reason: String,
    },
}

/// A read model with its own checkpoint.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// A stable name, unique among projections.
    fn name(&self) -> &str;

    /// The position of the last event applied (`Position::START` if none).
    async fn position(&self) -> Result<Position, ProjectionError>;

    /// Applies `batch`, read from the log after `after`, and moves the
    /// checkpoint to the batch's last position, all or nothing. Fails with
    /// [`ProjectionError::Moved`] unless the checkpoint is at `after`.
    async fn apply(&self, after: Position, batch: &[RecordedEvent]) -> Result<(), ProjectionError>;
}

/// A projection that can be built again from zero beside the live one.
#[async_trait]
pub trait Rebuildable: Projection {
    /// A fresh, empty generation of this read model, invisible to readers.
    async fn stage(&self) -> Result<Box<dyn StagedGeneration>, ProjectionError>;
}

/// A generation being rebuilt: a projection of its own until promoted.
#[async_trait]
pub trait StagedGeneration: Projection {
    /// Makes this generation the live one in one atomic step, and drops the
    /// old one. The live runner continues from this generation's checkpoint.
    async fn promote(self: Box<Self>) -> Result<(), ProjectionError>;
}

/// Replays the whole log into a fresh generation of `projection` while the
/// old one keeps serving, then swaps. `progress` hears (position, head)
/// after each batch.
pub async fn rebuild(
    log: &EventLog,
    projection: &dyn Rebuildable,
    mut progress: impl FnMut(Position, Position) + Send,
) -> Result<Position, ProjectionError> {
    let staged = projection.stage().await?;
    let head = log.store().head().await?;
    let mut pages = read_ahead(log.clone(), staged.position().await?, limits::READ_PAGE_MAX);
    let mut position = staged.position().await?;
    while let Some(page) = pages.recv().await {
        let (after, batch) = page?;
        staged.apply(after, &batch).await?;
        position = batch.last().map_or(after, |last| last.position);
        progress(position, head.max(position));
    }
    staged.promote().await?;
    Ok(position)
}

type Page = Result<(Position, Vec<RecordedEvent>), ReadError>;

/// Reads the log after `after` up to its current end, one page ahead of the
/// consumer, so that reading and applying run on different cores.
fn read_ahead(log: EventLog, after: Position, batch_size: u32) -> tokio::sync::mpsc::Receiver<Page> {
    let (pages, receiver) = tokio::sync::mpsc::channel(PAGES_AHEAD_MAX);
    tokio::spawn(async move {
        let mut subscription = Subscription::after(&log, after).with_batch_size(batch_size);
        loop {
            let after = subscription.position();
            let page = match subscription.poll().await {
                Ok(page) if page.is_empty() => return,
                // A page must move forward, or catching up would never end.
                Ok(page) if page[0].position <= after => Err(ReadError::Store(StoreError::Corrupt(format!(
                    "a read after position {after} returned position {}",
                    page[0].position
                )))),
                Ok(page) => Ok((after, page)),
                Err(error) => Err(error),
            };
            let failed = page.is_err();
            if pages.send(page).await.is_err() || failed {
                return;
            }
        }
    });
    receiver
}

/// First pause after a projection failure; doubles up to the maximum.
const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(10);

/// Pages read ahead of a catching-up projection.
const PAGES_AHEAD_MAX: usize = 2;

/// How far a projection has got, published by its runner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// Last applied position.
    pub position: Position,
    /// The last failure, cleared by the next success.
    pub failing: Option<String>,
}

/// Keeps one projection current: reads after its checkpoint, applies, waits
/// for commits, retries failures with backoff from the checkpoint.
pub struct ProjectionRunner {
    log: EventLog,
    projection: Arc<dyn Projection>,
    status: watch::Sender<ProjectionStatus>,
    batch_size: u32,
}

impl std::fmt::Debug for ProjectionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner").field("projection", &self.projection.name()).finish_non_exhaustive()
    }
}

impl ProjectionRunner {
    /// A runner for `projection` over `log`.
    pub fn new(log: EventLog, projection: Arc<dyn Projection>) -> Self {
        Self {
            log,
            projection,
            status: watch::Sender::new(ProjectionStatus::default()),
            batch_size: limits::SUBSCRIPTION_BATCH_DEFAULT,
        }
    }

    /// The same runner, applying at most `batch_size` events at a time.
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        assert!(batch_size > 0, "a batch holds at least one event");
        self.batch_size = batch_size.min(limits::READ_PAGE_MAX);
        self
    }

    /// Follows the runner's progress (read-your-writes waits on this).
    pub fn status(&self) -> watch::Receiver<ProjectionStatus> {
        self.status.subscribe()
    }

    /// Applies everything committed so far, then returns the position.
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let mut position = self.start_position().await?;
        let mut pages = read_ahead(self.log.clone(), position, self.batch_size);
        while let Some(page) = pages.recv().await {
            let (after, batch) = page?;
            self.apply(after, &batch).await?;
            position = batch.last().map_or(after, |last| last.position);
        }
        Ok(position)
    }

    /// Runs until `shutdown` is cancelled. Failures are logged, published in
    /// the status and retried with backoff; the runner never skips an event.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = RETRY_BACKOFF_MIN;
        while !shutdown.is_cancelled() {
            match self.follow(&shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(projection = self.projection.name(), %error, "projection failed; retrying");
                    self.status.send_modify(|status| status.failing = Some(error.to_string()));
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_millis(limits::PROJECTION_RETRY_BACKOFF_MAX_MILLIS));
                }
            }
        }
    }

    async fn follow(&self, shutdown: &CancellationToken, backoff: &mut Duration) -> Result<(), ProjectionError> {
        let mut subscription =
            Subscription::after(&self.log, self.start_position().await?).with_batch_size(self.batch_size);
        loop {
            let after = subscription.position();
            let Some(batch) = subscription.next_batch(shutdown).await? else {
                return Ok(());
            };
            match self.apply(after, &batch).await {
                Err(ProjectionError::Moved { actual, .. }) => subscription.seek(actual),
                other => other?,
            }
            *backoff = RETRY_BACKOFF_MIN;
        }
    }

    /// The projection's checkpoint, published in the status.
    async fn start_position(&self) -> Result<Position, ProjectionError> {
        let position = self.projection.position().await?;
        self.status.send_modify(|status| status.position = position);
        Ok(position)
    }

    async fn apply(&self, after: Position, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        self.projection.apply(after, batch).await?;
        let position = batch.last().map_or(after, |last| last.position);
        self.status.send_replace(ProjectionStatus { position, failing: None });
        Ok(())
    }
}

/// The lowest position of `statuses` (the runners of one process's read
/// models), kept current: what every one of those read models shows. A
/// reader waiting for its own writes waits on this instead of asking the
/// read models again and again. Follows the runners until they are dropped.
pub fn lowest_position(statuses: Vec<watch::Receiver<ProjectionStatus>>) -> watch::Receiver<Position> {
    let lowest = |statuses: &[watch::Receiver<ProjectionStatus>]| {
        statuses.iter().map(|status| status.borrow().position).min().unwrap_or(Position::START)
    };
    let (sender, receiver) = watch::channel(lowest(&statuses));
    let (sender, statuses) = (Arc::new(sender), Arc::new(statuses));
    for index in 0..statuses.len() {
        let (sender, statuses) = (Arc::clone(&sender), Arc::clone(&statuses));
        let mut status = statuses[index].clone();
        tokio::spawn(async move {
            while status.changed().await.is_ok() {
                let now = lowest(&statuses);
                sender.send_if_modified(|position| {
                    let moved = now > *position;
                    if moved {
                        *position = now;
                    }
                    moved
                });
            }
        });
    }
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_lowest_position_moves_when_the_slowest_read_model_does() {
        let (fast, slow) =
            (watch::Sender::new(ProjectionStatus::default()), watch::Sender::new(ProjectionStatus::default()));
        let mut lowest = lowest_position(vec![fast.subscribe(), slow.subscribe()]);
        fast.send_replace(ProjectionStatus { position: Position(9), failing: None });
        tokio::task::yield_now().await;
        assert_eq!(*lowest.borrow_and_update(), Position::START, "the slow one shows nothing yet");

        slow.send_replace(ProjectionStatus { position: Position(4), failing: None });
        let shown = tokio::time::timeout(Duration::from_secs(5), lowest.wait_for(|position| *position >= Position(4)))
            .await
            .expect("woken")
            .map(|position| *position);
        assert_eq!(shown.ok(), Some(Position(4)));
    }
}
