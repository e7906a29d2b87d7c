//! Read-your-writes across the command/query split. Commands append to the log; GET routes answer from read
//! models that are filled from the log a moment later. Without help, a client that reserves tickets and then asks
//! for its cart could be shown the cart as it was. So every successful command route answers only once the read
//! models show what the command wrote ([`ReadSide::shows`] on the [`Written`] the shop noted for the request), bounded
//! by [`READ_YOUR_WRITES_WAIT_MAX`]: a lagging read model delays an answer, never fails a command that is already
//! committed. Waiting for the command's own writes, not the log's head, spares a client the commits of everybody
//! else, and works where read models apply each aggregate's events as they come (a bus) and no log position is
//! ever known to be applied everywhere.
//!
//! A successful command that noted nothing (a repeated command answered with its first result) waits for the log's
//! head as read right after it, which includes the first execution's events.
//!
//! The wait is one middleware on the command router, so no handler can forget it. Where the read models are this
//! process's own and follow the log in its order (the embedded host), it waits on their runners' progress
//! ([`Progress`], [`es_core::lowest_position`]) and wakes the moment they pass the command's position: no query per
//! waiting request. Elsewhere it polls, because read models advance without a signal this process can wait on
//! (they live in another process, fed by a bus).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use es_core::Position;
use ticketing_app::Shop;
use ticketing_app::queries::ReadSide;
use ticketing_app::written::{Written, recording};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::limits::{READ_YOUR_WRITES_POLL_INTERVAL, READ_YOUR_WRITES_WAIT_MAX};

/// How a wait for the read models ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caught {
    /// The read models showed the writes up to `position` after `waited`.
    Up { position: Position, waited: Duration },
    /// The bound passed before the read models showed the writes up to `position`.
    TimedOut { position: Position },
    /// The head or the read models could not be read (logged); nothing was waited for.
    Unknown,
}

/// The lowest position every read model of this process shows, kept current by their runners; `None` where the
/// read models give no such signal.
#[derive(Clone, Debug, Default)]
pub(crate) struct Progress(pub(crate) Option<watch::Receiver<Position>>);

/// Middleware of the command routes: after a successful response, waits for the read models (see the module docs).
/// Refusals append nothing, so they answer at once.
pub(crate) async fn after_command(
    State(read): State<Arc<ReadSide>>,
    State(progress): State<Progress>,
    State(shop): State<Arc<Shop>>,
    request: Request,
    next: Next,
) -> Response {
    let (response, written) = recording(next.run(request)).await;
    if response.status().is_success() {
        let written = match written {
            Some(written) => written,
            None => match shop.log().store().head().await {
                Ok(head) => Written { position: head, versions: Vec::new() },
                Err(error) => {
                    tracing::warn!(%error, "could not read the log's head; answering without waiting for the read models");
                    return response;
                }
            },
        };
        let caught = match &progress.0 {
            Some(progress) => wait_for_progress(progress.clone(), &written, READ_YOUR_WRITES_WAIT_MAX).await,
            _ => wait_for_read_models(&read, &written, READ_YOUR_WRITES_WAIT_MAX).await,
        };
        count(caught);
    }
    response
}

/// Every wait for the read models after a command, by `outcome`: `shown`, `timeout` or `unknown`.
pub(crate) const READ_YOUR_WRITES: &str = "cloudbash_read_your_writes_total";

/// How long the waits that ended with the writes shown took, in seconds (a histogram).
pub(crate) const READ_YOUR_WRITES_WAIT: &str = "cloudbash_read_your_writes_wait_seconds";

fn count(caught: Caught) {
    let outcome = match caught {
        Caught::Up { waited, .. } => {
            metrics::histogram!(READ_YOUR_WRITES_WAIT).record(waited.as_secs_f64());
            "shown"
        }
        Caught::TimedOut { .. } => "timeout",
        Caught::Unknown => "unknown",
    };
    metrics::counter!(READ_YOUR_WRITES, "outcome" => outcome).increment(1);
}

/// Waits at most `wait_max` until `progress` passes the position of `written`.
pub(crate) async fn wait_for_progress(
    mut progress: watch::Receiver<Position>,
    written: &Written,
    wait_max: Duration,
) -> Caught {
    let started = Instant::now();
    let position = written.position;
    match tokio::time::timeout(wait_max, progress.wait_for(|shown| *shown >= position)).await {
        Ok(Ok(_)) => Caught::Up { position, waited: started.elapsed() },
        Ok(Err(_)) => {
            tracing::warn!("the read models stopped; answering without waiting for them");
            Caught::Unknown
        }
        Err(_) => {
            tracing::warn!(
                position = position.0,
                wait_max_millis = wait_max.as_millis(),
                "the read models did not show the command's writes in time; answering anyway"
            );
            Caught::TimedOut { position }
        }
    }
}

/// Waits at most `wait_max` until the read models show `written`.
pub(crate) async fn wait_for_read_models(read: &ReadSide, written: &Written, wait_max: Duration) -> Caught {
    let started = Instant::now();
    let deadline = started + wait_max;
    let position = written.position;
    loop {
        match read.shows(written).await {
            Ok(true) => {
                let waited = started.elapsed();
                tracing::debug!(position = position.0, waited_micros = waited.as_micros(), "read models caught up");
                return Caught::Up { position, waited };
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, "could not ask the read models; answering without waiting");
                return Caught::Unknown;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::warn!(
                position = position.0,
                aggregates = written.versions.len(),
                wait_max_millis = wait_max.as_millis(),
                "the read models did not show the command's writes in time; answering anyway"
            );
            return Caught::TimedOut { position };
        }
        tokio::time::sleep(READ_YOUR_WRITES_POLL_INTERVAL.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{FixedPosition, test_shop};

    /// Creates a venue in a fresh shop, noting what that wrote.
    async fn one_venue_written() -> Written {
        let shop = test_shop();
        let profile = ticketing::VenueProfile {
            name: ticketing::Name::new("Paradiso").expect("a name"),
            address: ticketing::Address::new("Weteringschans 6").expect("an address"),
            city: ticketing::Name::new("Amsterdam").expect("a city"),
            capacity: ticketing::Capacity::new(10).expect("a capacity"),
            description: None,
            web_url: None,
        };
        let (created, written) = recording(shop.create_venue(&es_core::CommandContext::default(), profile)).await;
        let venue_id = created.expect("the venue is created");
        let written = written.expect("the shop noted the append");
        assert_eq!(written.position, Position(1));
        assert_eq!(written.versions, [(venue_id.into(), es_core::Version(1))]);
        written
    }

    #[tokio::test]
    async fn read_models_that_show_the_writes_end_the_wait_at_once() {
        let written = one_venue_written().await;
        let read = FixedPosition(Position(1)).read_side();

        let caught = wait_for_read_models(&read, &written, Duration::from_secs(5)).await;

        assert!(matches!(caught, Caught::Up { position: Position(1), waited } if waited < Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn lagging_read_models_end_the_wait_at_its_bound() {
        let written = one_venue_written().await;
        let read = FixedPosition(Position(0)).read_side();
        let started = std::time::Instant::now();

        let caught = wait_for_read_models(&read, &written, Duration::from_millis(50)).await;

        assert_eq!(caught, Caught::TimedOut { position: Position(1) });
        assert!(started.elapsed() >= Duration::from_millis(50), "it gave up early: {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_wait_on_progress_ends_the_moment_the_read_models_pass_the_writes_and_at_its_bound_otherwise() {
        let written = one_venue_written().await;
        let (progress, shown) = watch::channel(Position(0));
        let waiting = tokio::spawn({
            let written = written.clone();
            async move { wait_for_progress(shown, &written, Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "nothing was shown yet");
        progress.send_replace(Position(1));
        let caught = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("woken").expect("no panic");
        assert!(matches!(caught, Caught::Up { position: Position(1), .. }), "{caught:?}");

        let (_progress, behind) = watch::channel(Position(0));
        let caught = wait_for_progress(behind, &written, Duration::from_millis(50)).await;
        assert_eq!(caught, Caught::TimedOut { position: Position(1) });
    }
}
