//! The HTTP layer of Cloudbash: the axum router, its error format (RFC 7807 problems), the extractors that turn
//! every bad request into a problem, and bearer-token authentication. It turns HTTP into calls on the application
//! layer and back; it holds no business rules, and HTTP DTOs live only here.
//!
//! Every route is served through [`router`], which adds what all routes share: the 404/405 problem fallbacks, the
//! request body limit and request tracing. What protects the server as a whole (panics, timeouts, requests in
//! flight, each caller's command rate) is in [`edge`], and the server that adds header timeouts and a cap on
//! connections in [`server`]; hosts wrap the router in them. A new group of routes is added by merging its `Router<ApiState>` into
//! `routes()`; a read route on a path a command already uses (`GET /concerts/{concertId}`) merges just as well, as
//! long as it names its parameters alike.

pub mod auth;
mod commands;
pub mod context;
mod dto;
pub mod edge;
mod error;
mod events;
mod exports;
pub mod json;
pub mod limits;
mod live;
pub mod openapi;
mod params;
mod paths;
mod payments;
pub mod problem;
mod queries;
mod read_your_writes;
pub mod ready;
pub mod request_id;
pub mod server;
mod views;

#[cfg(test)]
mod test_support;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::middleware;
use axum::routing::get;
use es_core::CancellationToken;
use serde::Serialize;
use ticketing_app::Shop;
use ticketing_app::queries::{
    AttendeeQueries, CartQueries, CatalogueQueries, OrderQueries, ReadSide, SalesQueries, VenueQueries,
};

use crate::auth::AuthState;
use crate::json::ApiJson;
use crate::limits::REQUEST_BODY_BYTES_MAX;

/// The state every handler can reach; each part is extracted on its own through [`FromRef`], so a handler names
/// only what it uses (`State<AuthState>`, `State<Arc<Shop>>`, or an extractor such as [`auth::Caller`] that needs
/// it).
#[derive(Clone)]
pub struct ApiState {
    auth: AuthState,
    shop: Arc<Shop>,
    /// The read models: the read routes answer from them, and every command waits until they show its effect.
    read: Arc<ReadSide>,
    /// The live streams of the log (`live.rs`): their bound and the signal that ends them.
    live: live::LiveStreams,
    /// What `GET /ready` checks; nothing beyond serving without it.
    readiness: Option<Arc<dyn ready::Readiness>>,
    /// The read models' progress, where they signal it: read-your-writes waits on it instead of polling.
    progress: read_your_writes::Progress,
    /// Draws an order's tickets as a PDF (`GET /orders/{orderId}/tickets.pdf`); that route is a 404 without it.
    documents: Option<Arc<dyn ticketing_app::documents::TicketDocuments>>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ApiState").field("auth", &self.auth).field("shop", &self.shop).finish_non_exhaustive()
    }
}

impl ApiState {
    /// The state of an API that authenticates with `auth`, runs commands on `shop` and answers the read routes
    /// from `read` (read models fed from the shop's log); every command route waits until they show its effect
    /// (read-your-writes, see `read_your_writes.rs`), and scanned ticket codes are found in the orders read model.
    pub fn new(auth: AuthState, shop: Arc<Shop>, read: ReadSide) -> Self {
        ApiState {
            auth,
            shop,
            read: Arc::new(read),
            live: live::LiveStreams::new(CancellationToken::new()),
            readiness: None,
            progress: read_your_writes::Progress(None),
            documents: None,
        }
    }

    /// Serves each paid order's tickets as a PDF drawn by `documents`.
    pub fn with_documents(mut self, documents: Arc<dyn ticketing_app::documents::TicketDocuments>) -> Self {
        self.documents = Some(documents);
        self
    }

    /// Makes `GET /ready` ask `readiness` (the host's log and read models).
    pub fn with_readiness(mut self, readiness: Arc<dyn ready::Readiness>) -> Self {
        self.readiness = Some(readiness);
        self
    }

    /// Lets read-your-writes wait on `progress`, the lowest position every read model behind
    /// [`ApiState::new`] shows ([`es_core::lowest_position`]), instead of asking them again and again. Only
    /// for read models that follow the log in its order, in this process.
    pub fn with_progress(mut self, progress: tokio::sync::watch::Receiver<es_core::Position>) -> Self {
        self.progress = read_your_writes::Progress(Some(progress));
        self
    }

    /// Ends the open live streams of the log (`GET /events/live`) once `shutdown` is cancelled, so that a graceful
    /// shutdown does not wait for them. Without it they end only at their time limit.
    pub fn with_shutdown(mut self, shutdown: CancellationToken) -> Self {
        self.live = live::LiveStreams::new(shutdown);
        self
    }
}

impl FromRef<ApiState> for AuthState {
    fn from_ref(state: &ApiState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<ApiState> for Arc<Shop> {
    fn from_ref(state: &ApiState) -> Self {
        Arc::clone(&state.shop)
    }
}

impl FromRef<ApiState> for Arc<ReadSide> {
    fn from_ref(state: &ApiState) -> Self {
        Arc::clone(&state.read)
    }
}

/// Each read model's port is extracted on its own, so that a handler names the read model it reads.
macro_rules! read_model_from_state {
    ($($port:ident => $read:ident),* $(,)?) => {$(
        impl FromRef<ApiState> for Arc<dyn $port> {
            fn from_ref(state: &ApiState) -> Self {
                Arc::clone(state.read.$read())
            }
        }
    )*};
}

read_model_from_state! {
    VenueQueries => venues,
    CatalogueQueries => catalogue,
    CartQueries => carts,
    OrderQueries => orders,
    AttendeeQueries => attendees,
    SalesQueries => sales,
}

impl FromRef<ApiState> for read_your_writes::Progress {
    fn from_ref(state: &ApiState) -> Self {
        state.progress.clone()
    }
}

impl FromRef<ApiState> for Option<Arc<dyn ticketing_app::documents::TicketDocuments>> {
    fn from_ref(state: &ApiState) -> Self {
        state.documents.clone()
    }
}

impl FromRef<ApiState> for Option<Arc<dyn ready::Readiness>> {
    fn from_ref(state: &ApiState) -> Self {
        state.readiness.clone()
    }
}

/// The whole API, ready to serve.
pub fn router(state: ApiState) -> Router {
    with_shared_behaviour(routes(&state), state)
}

/// Every route of the API, without fallbacks or shared layers. Groups of routes (venues, concerts, carts) are
/// merged here. Command routes answer only once the read models show their effect (`read_your_writes.rs`), so a
/// client's next GET sees what it just did.
fn routes(state: &ApiState) -> Router<ApiState> {
    let wait = middleware::from_fn_with_state(state.clone(), read_your_writes::after_command);
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready::ready))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(live::routes())
        .merge(commands::routes().route_layer(wait))
        .merge(queries::routes())
        .merge(events::routes())
        .merge(payments::routes())
}

/// Adds what every route shares. It must come after all routes are added: axum attaches the 405 fallback only to
/// the routes present when `method_not_allowed_fallback` is called.
pub(crate) fn with_shared_behaviour(routes: Router<ApiState>, state: ApiState) -> Router {
    routes
        .fallback(problem::not_found_fallback)
        .method_not_allowed_fallback(problem::method_not_allowed_fallback)
        // `edge::refuse_oversized_body` refuses every oversized body before a handler runs; the extractors' own
        // limit is what a route sees if it is ever served without it.
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .layer(middleware::from_fn(edge::refuse_oversized_body))
        .layer(middleware::from_fn(request_id::observe))
        .with_state(state)
}

/// The body of `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`.
    #[schema(value_type = String, examples("ok"))]
    status: &'static str,
}

/// Liveness: the process serves HTTP. It checks no dependency, so a slow store does not get the process restarted.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "Liveness: the process serves HTTP.",
    responses((status = 200, description = "The process is up.", body = Health))
)]
async fn health() -> ApiJson<Health> {
    ApiJson(Health { status: "ok" })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::header::{ALLOW, CONTENT_TYPE};
    use axum::http::{Method, Request, StatusCode};

    use crate::test_support::{send, send_problem, test_app};

    #[tokio::test]
    async fn health_answers_ok_as_json() {
        let request = Request::builder().uri("/health").body(Body::empty()).expect("a literal request is valid");

        let (status, headers, body) = send(test_app(), request).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        let health: serde_json::Value = serde_json::from_slice(&body).expect("health returns JSON");
        assert_eq!(health, serde_json::json!({"status": "ok"}));
    }

    #[tokio::test]
    async fn the_production_router_serves_health() {
        let request = Request::builder().uri("/health").body(Body::empty()).expect("a literal request is valid");

        let (status, _, _) = send(crate::router(crate::test_support::test_state()), request).await;

        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn the_api_serves_the_read_routes() {
        let request = Request::builder().uri("/venues").body(Body::empty()).expect("a literal request is valid");

        let (status, _, body) = send(crate::router(crate::test_support::test_state()), request).await;

        assert_eq!(status, StatusCode::OK);
        let page: serde_json::Value = serde_json::from_slice(&body).expect("a page is JSON");
        assert_eq!(page, serde_json::json!({"items": [], "nextCursor": null}));
    }

    #[tokio::test]
    async fn an_unknown_route_is_a_404_problem() {
        let request = Request::builder().uri("/no/such/thing").body(Body::empty()).expect("a literal request is valid");

        let problem = send_problem(test_app(), request, StatusCode::NOT_FOUND).await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("/no/such/thing"));
    }

    #[tokio::test]
    async fn a_wrong_method_is_a_405_problem_listing_the_allowed_methods() {
        let request = Request::builder()
            .method(Method::DELETE)
            .uri("/health")
            .body(Body::empty())
            .expect("a literal request is valid");

        let (status, headers, body) = send(test_app(), request).await;

        let problem = crate::test_support::problem_body(status, &headers, &body);
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "problem: {problem}");
        assert_eq!(headers[ALLOW], "GET,HEAD");
    }
}
