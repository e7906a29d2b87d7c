//! `GET /events/live`: the log as it grows, as server-sent events, for the organiser's live view. `GET /events`
//! pages through what is there; this follows the log's head without polling, through an `es_core::Subscription`
//! that sleeps on the store's commit signal.
//!
//! Each event of the stream is one record of the log: its `id` is the record's position and its `data` the same
//! JSON document `GET /events` lists. A client that loses the connection reconnects with `Last-Event-ID` (as
//! `EventSource` does by itself) and continues right after the last event it saw, so nothing is missed or shown
//! twice. A first connection starts after `?after=` if given, otherwise at the head: only what happens from now on.
//!
//! Streams are bounded, because each one holds a subscription that reads the log on every commit: at most
//! [`LIVE_STREAMS_MAX`] at once (more get a 503), each for at most [`LIVE_STREAM_DURATION_MAX`] (then the client
//! reconnects, which also checks its token again, so an expired token does not keep a stream open for ever), and
//! every stream ends when the server shuts down, so that a graceful shutdown is not held up by open streams.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderName};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use es_core::{CancellationToken, Position, RecordedEvent, Subscription};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use ticketing_app::Shop;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use utoipa::IntoParams;

use crate::ApiState;
use crate::auth::Admin;
use crate::json::ApiQuery;
use crate::limits::{
    LIVE_BATCH_EVENTS, LIVE_KEEP_ALIVE_INTERVAL, LIVE_STREAM_DURATION_MAX, LIVE_STREAMS_MAX, LOG_POSITION_MAX,
};
use crate::openapi::{Forbidden, InvalidQuery, Unauthorized};
use crate::params::Params;
use crate::problem::{FieldError, Problem};
use crate::views::EventRecord;

/// The request header with which a reconnecting client names the last event it received (the HTML standard's
/// server-sent events).
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// What the live streams of one API share: the bound on how many run at once, and the signal that ends them all.
#[derive(Debug, Clone)]
pub(crate) struct LiveStreams {
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
}

impl LiveStreams {
    /// Streams that end when `shutdown` is cancelled.
    pub(crate) fn new(shutdown: CancellationToken) -> Self {
        Self { slots: Arc::new(Semaphore::new(LIVE_STREAMS_MAX)), shutdown }
    }
}

impl FromRef<ApiState> for LiveStreams {
    fn from_ref(state: &ApiState) -> Self {
        state.live.clone()
    }
}

/// The live route; it needs only the log, so it is served with or without read models.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/events/live", get(live_events))
}

/// `GET /events/live?after=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LiveQuery {
    /// Start after this position (a record's `position`); without it, and without `Last-Event-ID`, the stream
    /// starts at the head and shows only new events.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9223372036854775807_u64)]
    after: Option<String>,
}

/// Follows the log from a position, as server-sent events (see the module docs).
#[utoipa::path(
    get,
    path = "/events/live",
    tag = "log",
    summary = "Follows the log as it grows, as server-sent events.",
    params(
        LiveQuery,
        ("Last-Event-ID" = Option<u64>, Header, nullable = false, minimum = 0, maximum = 9223372036854775807_u64, description = "The `id` (position) of the last event received: the stream continues after it. Takes precedence over `after`."),
    ),
    responses(
        (status = 200, description = "A `text/event-stream`: each event's `id` is its position and its `data` an event record. It ends after a few minutes or when the server stops; reconnect with `Last-Event-ID`.", content_type = "text/event-stream", body = EventRecord),
        (status = 400, response = InvalidQuery),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, description = "Too many live streams are open; retry after `Retry-After` seconds.", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn live_events(
    _admin: Admin,
    State(shop): State<Arc<Shop>>,
    State(streams): State<LiveStreams>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<LiveQuery>,
) -> Result<Response, Problem> {
    let mut params = Params::default();
    let after = params.position("after", query.after);
    params.check()?;
    let after = match (last_event_id(&headers)?, after) {
        (Some(position), _) | (None, Some(position)) => position,
        (None, None) => shop.log().store().head().await.map_err(|error| Problem::internal_error(&error))?,
    };
    let permit = Arc::clone(&streams.slots).try_acquire_owned().map_err(|_| {
        Problem::service_unavailable("Too many live streams of the log are open.", LIVE_KEEP_ALIVE_INTERVAL)
    })?;
    let subscription = Subscription::after(shop.log(), after).with_batch_size(LIVE_BATCH_EVENTS);
    let live = Live {
        subscription,
        pending: VecDeque::new(),
        deadline: Instant::now() + LIVE_STREAM_DURATION_MAX,
        shutdown: streams.shutdown,
        _permit: permit,
    };
    Ok(Sse::new(events(live)).keep_alive(KeepAlive::new().interval(LIVE_KEEP_ALIVE_INTERVAL)).into_response())
}

/// The position in `Last-Event-ID`, if the client sent one; a 400 if it is not a position the log can hold.
fn last_event_id(headers: &HeaderMap) -> Result<Option<Position>, Problem> {
    let Some(value) = headers.get(LAST_EVENT_ID) else {
        return Ok(None);
    };
    let position = value.to_str().ok().and_then(|text| text.trim().parse::<u64>().ok());
    match position {
        Some(position) if position <= LOG_POSITION_MAX => Ok(Some(Position(position))),
        _ => Err(Problem::bad_request("The Last-Event-ID header is invalid.").with_errors(vec![FieldError::new(
            "Last-Event-ID",
            format!("must be the position of an event, from 0 to {LOG_POSITION_MAX}"),
        )])),
    }
}

/// One open stream: where it reads, what it has read but not yet sent, and when it ends.
struct Live {
    subscription: Subscription,
    pending: VecDeque<RecordedEvent>,
    deadline: Instant,
    shutdown: CancellationToken,
    /// Held for as long as the stream is open: one of [`LIVE_STREAMS_MAX`].
    _permit: OwnedSemaphorePermit,
}

/// The stream of events. It ends at the deadline, at shutdown, or when the log cannot be read (logged; the client
/// reconnects and continues from its last event).
fn events(live: Live) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    stream::unfold(live, |mut live| async move {
        loop {
            if let Some(record) = live.pending.pop_front() {
                let event = sse_event(record);
                return Some((Ok(event), live));
            }
            let next = tokio::time::timeout_at(live.deadline, live.subscription.next_batch(&live.shutdown)).await;
            match next {
                Ok(Ok(Some(batch))) => live.pending.extend(batch),
                Ok(Ok(None)) | Err(_) => return None,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the live stream of the log could not read the log; ending it");
                    return None;
                }
            }
        }
    })
}

/// A record as a server-sent event: its position as `id`, the record as `data`.
fn sse_event(record: RecordedEvent) -> Event {
    let id = record.position.0.to_string();
    match serde_json::to_string(&EventRecord::from(record)) {
        Ok(data) => Event::default().id(id).data(data),
        // A record is strings and numbers, which always serialize; should that ever fail, the client still moves on.
        Err(error) => {
            tracing::error!(%error, "an event record did not serialize");
            Event::default().id(id).comment("unserializable record")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use axum::body::Body;
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
    use axum::http::{Request, StatusCode};
    use futures_util::StreamExt;
    use tower::ServiceExt;
    use uuid::Uuid;

    use super::*;
    use crate::limits::TOKEN_LIFETIME_DEFAULT;
    use crate::test_support::{send_problem, test_signer, test_state};

    fn admin_token() -> String {
        test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, SystemTime::now())
    }

    fn live_request(query: &str, last_event_id: Option<&str>, token: Option<&str>) -> Request<Body> {
        let mut builder = Request::builder().uri(format!("/events/live{query}"));
        if let Some(id) = last_event_id {
            builder = builder.header(LAST_EVENT_ID, id);
        }
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        builder.body(Body::empty()).expect("a literal request is valid")
    }

    async fn create_venue(shop: &Shop, name: &str) {
        let profile = ticketing::VenueProfile {
            name: ticketing::Name::new(name).expect("a name"),
            address: ticketing::Address::new("Weteringschans 6").expect("an address"),
            city: ticketing::Name::new("Amsterdam").expect("a city"),
            capacity: ticketing::Capacity::new(10).expect("a capacity"),
            description: None,
            web_url: None,
        };
        shop.create_venue(&es_core::CommandContext::default(), profile).await.expect("the venue is created");
    }

    /// Reads frames until `count` events (`id:` lines) arrived; the ids, and the text read.
    async fn read_events(body: Body, count: usize) -> (Vec<String>, String) {
        let mut body = body.into_data_stream();
        let mut text = String::new();
        let read = async {
            loop {
                let ids: Vec<String> =
                    text.lines().filter_map(|line| line.strip_prefix("id: ")).map(str::to_owned).collect();
                if ids.len() >= count {
                    return ids;
                }
                let data = body.next().await.expect("the stream goes on").expect("a chunk reads");
                text.push_str(std::str::from_utf8(&data).expect("server-sent events are UTF-8"));
            }
        };
        let ids = tokio::time::timeout(Duration::from_secs(5), read).await.expect("the events arrive in time");
        (ids, text)
    }

    #[tokio::test]
    async fn a_new_stream_shows_only_events_committed_after_it_opened() {
        let state = test_state();
        let shop = Arc::clone(&state.shop);
        create_venue(&shop, "Before").await;
        let app = crate::router(state);

        let response = app.oneshot(live_request("", None, Some(&admin_token()))).await.expect("the router answers");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/event-stream");
        create_venue(&shop, "After").await;
        let (ids, text) = read_events(response.into_body(), 1).await;

        assert_eq!(ids, ["2"]);
        assert!(text.contains(r#""position":2"#), "the data is the event record: {text}");
        assert!(text.contains(r#""eventType":"VenueCreated""#), "{text}");
    }

    #[tokio::test]
    async fn a_reconnecting_client_continues_after_its_last_event_id() {
        let state = test_state();
        let shop = Arc::clone(&state.shop);
        for name in ["One", "Two", "Three"] {
            create_venue(&shop, name).await;
        }
        let app = crate::router(state);

        let response =
            app.oneshot(live_request("?after=0", Some("1"), Some(&admin_token()))).await.expect("the router answers");
        let (ids, _) = read_events(response.into_body(), 2).await;

        assert_eq!(ids, ["2", "3"]);
    }

    #[tokio::test]
    async fn after_names_where_a_first_connection_starts() {
        let state = test_state();
        let shop = Arc::clone(&state.shop);
        for name in ["One", "Two"] {
            create_venue(&shop, name).await;
        }
        let app = crate::router(state);

        let response =
            app.oneshot(live_request("?after=0", None, Some(&admin_token()))).await.expect("the router answers");
        let (ids, _) = read_events(response.into_body(), 2).await;

        assert_eq!(ids, ["1", "2"]);
    }

    #[tokio::test]
    async fn the_stream_ends_when_the_server_shuts_down() {
        let shutdown = CancellationToken::new();
        let app = crate::router(test_state().with_shutdown(shutdown.clone()));
        let response = app.oneshot(live_request("", None, Some(&admin_token()))).await.expect("the router answers");

        shutdown.cancel();
        let ended =
            tokio::time::timeout(Duration::from_secs(5), axum::body::to_bytes(response.into_body(), 1 << 20)).await;

        assert!(ended.is_ok(), "the stream is still open after shutdown");
    }

    #[tokio::test]
    async fn a_malformed_last_event_id_is_a_400_problem() {
        let request = live_request("", Some("yesterday"), Some(&admin_token()));

        let problem = send_problem(crate::router(test_state()), request, StatusCode::BAD_REQUEST).await;

        assert_eq!(problem["errors"][0]["field"], "Last-Event-ID");
    }

    #[tokio::test]
    async fn the_live_log_is_for_administrators_only() {
        let customer = test_signer().issue(Uuid::new_v4(), false, TOKEN_LIFETIME_DEFAULT, SystemTime::now());

        send_problem(crate::router(test_state()), live_request("", None, None), StatusCode::UNAUTHORIZED).await;
        let request = live_request("", None, Some(&customer));
        send_problem(crate::router(test_state()), request, StatusCode::FORBIDDEN).await;
    }

    #[tokio::test]
    async fn streams_beyond_the_bound_are_refused_with_a_503() {
        let app = crate::router(test_state());
        let token = admin_token();
        let mut open = Vec::new();
        for _ in 0..LIVE_STREAMS_MAX {
            let response = app.clone().oneshot(live_request("", None, Some(&token))).await.expect("an answer");
            assert_eq!(response.status(), StatusCode::OK);
            open.push(response);
        }

        send_problem(app.clone(), live_request("", None, Some(&token)), StatusCode::SERVICE_UNAVAILABLE).await;
        drop(open);
        let response = app.oneshot(live_request("", None, Some(&token))).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK, "a closed stream frees its slot");
    }
}
