//! Test helpers shared by every module's tests: an app with test-only routes that exercise the extractors, and
//! functions that send a request and check that an error response is a well-formed problem.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use es_core::memory::InMemoryEventStore;
use es_core::{EventLog, Position, SystemClock, async_trait};
use serde::{Deserialize, Serialize};
use ticketing::{ConcertId, CustomerId, OrderId, TicketCode, VenueId};
use ticketing_app::queries::{
    AttendeeQueries, AttendeeView, CartQueries, CartView, CatalogueQueries, ConcertSearch, ConcertSummary, ConcertView,
    DailySales, DraftSummary, OrderQueries, OrderView, Page, QueryError, ReadProgress, ReadSide, SalesQueries,
    VenueQueries, VenueView,
};
use ticketing_app::{RandomTicketCodes, Shop};
use tower::ServiceExt;
use uuid::Uuid;

use crate::auth::{Admin, AuthState, Caller, LocalSigner, Secret, Verifier};
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::problem::PROBLEM_CONTENT_TYPE;
use crate::{ApiState, routes, with_shared_behaviour};

/// The HS256 secret of the test app: exactly the minimum size.
pub(crate) const TEST_SECRET: &[u8] = b"test-secret-of-32-bytes-at-least";

/// The issuer the test app trusts.
pub(crate) const TEST_ISSUER: &str = "https://issuer.test";

/// The largest response body the tests read.
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;

pub(crate) fn test_secret() -> Secret {
    Secret::from_bytes(TEST_SECRET)
}

pub(crate) fn test_signer() -> LocalSigner {
    LocalSigner::new(&test_secret(), TEST_ISSUER)
}

/// A shop over an in-memory log.
pub(crate) fn test_shop() -> Shop {
    let log = EventLog::new(Arc::new(InMemoryEventStore::new()), Arc::new(SystemClock));
    Shop::new(log, None, Arc::new(SystemClock), Arc::new(RandomTicketCodes))
}

/// Read models that are empty and always at one position: enough for the tests of the edge itself (the routes are
/// tested against SQLite read models in `tests/`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedPosition(pub(crate) Position);

impl FixedPosition {
    /// Every read model from these.
    pub(crate) fn read_side(self) -> ReadSide {
        ReadSide::of(Arc::new(self))
    }
}

#[async_trait]
impl VenueQueries for FixedPosition {
    async fn venues(&self, _: Option<String>, _: Option<u32>) -> Result<Page<VenueView>, QueryError> {
        Ok(Page { items: Vec::new(), next_cursor: None })
    }

    async fn venue(&self, _: VenueId) -> Result<Option<VenueView>, QueryError> {
        Ok(None)
    }
}

#[async_trait]
impl CatalogueQueries for FixedPosition {
    async fn concerts(&self, _: ConcertSearch) -> Result<Page<ConcertSummary>, QueryError> {
        Ok(Page { items: Vec::new(), next_cursor: None })
    }

    async fn drafts(&self, _: Option<String>, _: Option<u32>) -> Result<Page<DraftSummary>, QueryError> {
        Ok(Page { items: Vec::new(), next_cursor: None })
    }

    async fn concert(&self, _: ConcertId, _: bool) -> Result<Option<ConcertView>, QueryError> {
        Ok(None)
    }
}

#[async_trait]
impl CartQueries for FixedPosition {
    async fn cart(&self, _: CustomerId, _: DateTime<Utc>) -> Result<CartView, QueryError> {
        Ok(CartView { items: Vec::new(), total: None })
    }
}

#[async_trait]
impl OrderQueries for FixedPosition {
    async fn orders(&self, _: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError> {
        Ok(Vec::new())
    }

    async fn order(&self, _: OrderId) -> Result<Option<OrderView>, QueryError> {
        Ok(None)
    }

    async fn ticket_order(&self, _: &TicketCode) -> Result<Option<OrderId>, QueryError> {
        Ok(None)
    }
}

#[async_trait]
impl AttendeeQueries for FixedPosition {
    async fn attendees(&self, _: ConcertId) -> Result<Vec<AttendeeView>, QueryError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl SalesQueries for FixedPosition {
    async fn sales(&self, _: ConcertId) -> Result<Vec<DailySales>, QueryError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl ReadProgress for FixedPosition {
    async fn position(&self) -> Result<Position, QueryError> {
        Ok(self.0)
    }
}

/// A state over an in-memory log, with read models that are always caught up.
pub(crate) fn test_state() -> ApiState {
    let auth = AuthState::new(Verifier::new(&test_secret(), TEST_ISSUER));
    ApiState::new(auth, Arc::new(test_shop()), FixedPosition(Position(u64::MAX)).read_side())
}

/// The production routes plus routes that exist only to exercise the extractors.
pub(crate) fn test_app() -> Router {
    let test_routes = Router::new()
        .route("/test/echo", post(echo))
        .route("/test/me", get(me))
        .route("/test/admin", get(admin))
        .route("/test/concerts/{concert_id}", get(concert))
        .route("/test/search", get(search));
    let state = test_state();
    with_shared_behaviour(routes(&state).merge(test_routes), state)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Venue {
    name: String,
    capacity: u32,
}

async fn echo(ApiJson(venue): ApiJson<Venue>) -> ApiJson<Venue> {
    ApiJson(venue)
}

async fn me(caller: Caller) -> ApiJson<serde_json::Value> {
    ApiJson(serde_json::json!({"user_id": caller.user_id, "admin": caller.admin}))
}

async fn admin(admin: Admin) -> ApiJson<serde_json::Value> {
    ApiJson(serde_json::json!({"user_id": admin.user_id}))
}

#[derive(Debug, Deserialize)]
struct ConcertPath {
    concert_id: Uuid,
}

async fn concert(ApiPath(path): ApiPath<ConcertPath>) -> String {
    path.concert_id.to_string()
}

#[derive(Debug, Deserialize)]
struct Search {
    limit: u32,
}

async fn search(ApiQuery(search): ApiQuery<Search>) -> String {
    search.limit.to_string()
}

/// Splits a response into status, headers and the whole body.
pub(crate) async fn read(response: Response) -> (StatusCode, HeaderMap, Bytes) {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, RESPONSE_BYTES_MAX).await.expect("a test response body is small");
    (parts.status, parts.headers, body)
}

/// Sends one request through `app`.
pub(crate) async fn send(app: Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = app.oneshot(request).await.expect("an axum router never fails");
    read(response).await
}

/// Checks that a response is a problem: the problem content type, and a JSON body whose `status` is the HTTP one.
pub(crate) fn problem_body(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> serde_json::Value {
    let problem: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|error| panic!("a problem body is JSON ({error}): {}", String::from_utf8_lossy(body)));
    assert_eq!(headers.get(CONTENT_TYPE).map(|value| value.as_bytes()), Some(PROBLEM_CONTENT_TYPE.as_bytes()));
    assert_eq!(problem["status"].as_u64(), Some(u64::from(status.as_u16())), "problem: {problem}");
    assert!(problem["title"].is_string() && problem["type"].is_string(), "problem: {problem}");
    problem
}

/// Sends a request that must fail with `expected`, and returns the problem.
pub(crate) async fn send_problem(app: Router, request: Request<Body>, expected: StatusCode) -> serde_json::Value {
    let (status, headers, body) = send(app, request).await;
    let problem = problem_body(status, &headers, &body);
    assert_eq!(status, expected, "unexpected status; problem: {problem}");
    problem
}
