//! Read-your-writes across the command/query split. Commands append to the log; GET routes answer from read
//! models that projections fill from the log a moment later. Without help, a client that reserves tickets and then
//! asks for its cart could be shown the cart as it was. So every successful command route answers only once the
//! read models have reached the log's head as read right after the command (which includes the command's own
//! events), bounded by [`READ_YOUR_WRITES_WAIT_MAX`]: a lagging projection delays an answer, never fails a command
//! that is already committed.
//!
//! The wait is one middleware on the command router, so no handler can forget it. It polls
//! [`Queries::position`], because projections advance without a signal this process can wait on (the store's
//! commit signal says that the log moved, not that the read models did).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use es_core::Position;
use ticketing_app::Shop;
use ticketing_app::queries::Queries;
use tokio::time::Instant;

use crate::limits::{READ_YOUR_WRITES_POLL_INTERVAL, READ_YOUR_WRITES_WAIT_MAX};

/// How a wait for the read models ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caught {
    /// The read models reached `head` after `waited`.
    Up { head: Position, waited: Duration },
    /// The bound passed with the read models at `position`, short of `head`.
    TimedOut { head: Position, position: Position },
    /// The head or the read models' position could not be read (logged); nothing was waited for.
    Unknown,
}

/// Middleware of the command routes: after a successful response, waits for the read models (see the module docs).
/// Refusals append nothing, so they answer at once.
pub(crate) async fn after_command(
    State(queries): State<Arc<dyn Queries>>,
    State(shop): State<Arc<Shop>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if response.status().is_success() {
        wait_for_read_models(&shop, queries.as_ref(), READ_YOUR_WRITES_WAIT_MAX).await;
    }
    response
}

/// Waits at most `wait_max` until `queries` show everything in `shop`'s log as it is now.
pub(crate) async fn wait_for_read_models(shop: &Shop, queries: &dyn Queries, wait_max: Duration) -> Caught {
    let started = Instant::now();
    let deadline = started + wait_max;
    let head = match shop.log().store().head().await {
        Ok(head) => head,
        Err(error) => {
            tracing::warn!(%error, "could not read the log's head; answering without waiting for the read models");
            return Caught::Unknown;
        }
    };
    loop {
        let position = match queries.position().await {
            Ok(position) => position,
            Err(error) => {
                tracing::warn!(%error, "could not read the read models' position; answering without waiting");
                return Caught::Unknown;
            }
        };
        if position >= head {
            let waited = started.elapsed();
            tracing::debug!(head = head.0, waited_micros = waited.as_micros(), "read models caught up");
            return Caught::Up { head, waited };
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::warn!(
                head = head.0,
                position = position.0,
                wait_max_millis = wait_max.as_millis(),
                "the read models did not reach the command's position in time; answering anyway"
            );
            return Caught::TimedOut { head, position };
        }
        tokio::time::sleep(READ_YOUR_WRITES_POLL_INTERVAL.min(deadline - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{FixedPosition, test_shop};

    async fn shop_with_one_event() -> Shop {
        let shop = test_shop();
        let profile = ticketing::VenueProfile {
            name: ticketing::Name::new("Paradiso").expect("a name"),
            address: ticketing::Address::new("Weteringschans 6").expect("an address"),
            city: ticketing::Name::new("Amsterdam").expect("a city"),
            capacity: ticketing::Capacity::new(10).expect("a capacity"),
            description: None,
            web_url: None,
        };
        shop.create_venue(&es_core::CommandContext::default(), profile).await.expect("the venue is created");
        shop
    }

    #[tokio::test]
    async fn read_models_at_the_head_end_the_wait_at_once() {
        let shop = shop_with_one_event().await;
        let queries = Arc::new(FixedPosition(Position(1)));

        let caught = wait_for_read_models(&shop, queries.as_ref(), Duration::from_secs(5)).await;

        assert!(matches!(caught, Caught::Up { head: Position(1), waited } if waited < Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn lagging_read_models_end_the_wait_at_its_bound() {
        let shop = shop_with_one_event().await;
        let queries = Arc::new(FixedPosition(Position(0)));
        let started = std::time::Instant::now();

        let caught = wait_for_read_models(&shop, queries.as_ref(), Duration::from_millis(50)).await;

        assert_eq!(caught, Caught::TimedOut { head: Position(1), position: Position(0) });
        assert!(started.elapsed() >= Duration::from_millis(50), "it gave up early: {:?}", started.elapsed());
    }
}
