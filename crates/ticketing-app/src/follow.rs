//! The loop every process that follows the log shares (hold expiry, ticket
//! mail, refunds of cancelled concerts): read what was committed since the
//! last look, take each record into account, act, then sleep until the
//! next commit or until the process asks to act again, whichever comes
//! first. Each process starts from what it rebuilt of the log and keeps no
//! checkpoint of its own: what it has done is in the log.

use std::time::Duration;

use es_core::{CancellationToken, CodecError, EventLog, Position, RecordedEvent, Subscription, async_trait};

/// How long a process with nothing left to do sleeps when nothing is
/// committed: it wakes at every commit anyway.
pub(crate) const IDLE: Duration = Duration::from_secs(3600);

/// A process that follows the log.
#[async_trait]
pub(crate) trait Follower: Send + 'static {
    /// Its name, for the logs.
    const NAME: &'static str;

    /// The last position it has taken into account.
    fn position(&self) -> Position;

    /// Takes one record into account.
    fn observe(&mut self, record: &RecordedEvent) -> Result<(), CodecError>;

    /// Does what the records seen so far call for; returns how soon it must
    /// act again even if nothing is committed.
    async fn act(&mut self) -> Duration;
}

/// Follows the log with `follower` until `shutdown`. A record it cannot
/// read is logged and passed over; a log it cannot read is tried again.
pub(crate) async fn follow<F: Follower>(mut follower: F, log: EventLog, shutdown: CancellationToken) {
    let mut subscription = Subscription::after(&log, follower.position());
    let mut commits = log.store().commits();
    loop {
        // Seen before reading, so a commit landing after the read still wakes us.
        commits.borrow_and_update();
        match subscription.poll().await {
            Ok(page) if !page.is_empty() => {
                for record in &page {
                    if let Err(error) = follower.observe(record) {
                        tracing::error!(process = F::NAME, position = %record.position, %error, "cannot read an event");
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(process = F::NAME, %error, "cannot read the log; retrying"),
        }
        let wait = follower.act().await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = commits.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}
