//! The log itself, for operators: `GET /events` pages through the whole log in commit order, and
//! `GET /aggregates/{aggregateId}/events` through one aggregate's events, oldest first. Both read the log, not the
//! read models, and both are paged: the whole log by position (`?after=`, a previous page's `nextCursor`), one
//! aggregate with the `?cursor=&limit=` of every other paged list, its cursor the version of the last event shown.
//! (`GET /events/live` follows the log as it grows, in `live.rs`.)

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use es_core::{AggregateId, Position, Version};
use serde::Deserialize;
use ticketing_app::Shop;
use ticketing_app::queries::page_size;
use utoipa::IntoParams;

use crate::ApiState;
use crate::auth::Admin;
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::limits::{EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, LOG_POSITION_MAX};
use crate::openapi::{Forbidden, InvalidPathOrQuery, InvalidQuery, Unauthorized};
use crate::params::{PageQuery, Params};
use crate::paths::AggregatePath;
use crate::problem::{FieldError, Problem};
use crate::views::{EventRecord, PageBody};

/// The log's routes. They need no read models, but like the other read routes they are served only with them.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/events", get(events)).route("/aggregates/{aggregateId}/events", get(aggregate_events))
}

/// `GET /events?after=&limit=`: `after` is a position (a previous page's `nextCursor`), 0 for the start.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Show events after this position (a previous page's `nextCursor`); 0, the default, for the start.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9223372036854775807_u64)]
    after: Option<String>,
    /// Events per page (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// A page of the whole log after `after`, in commit order. `nextCursor` is the last position shown, to pass as
/// `after`, while the log holds more; it is `null` once the page reaches the log's head.
#[utoipa::path(
    get,
    path = "/events",
    tag = "log",
    summary = "Reads the whole log after a position, in commit order.",
    params(EventsQuery),
    responses(
        (status = 200, description = "A page of events; `nextCursor` is the `after` of the next page, `null` at the head.", body = PageBody<EventRecord>),
        (status = 400, response = InvalidQuery),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn events(
    _admin: Admin,
    State(shop): State<Arc<Shop>>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<ApiJson<PageBody<EventRecord>>, Problem> {
    let mut params = Params::default();
    let after = params.position("after", query.after).unwrap_or(Position::START);
    let limit = params.limit(query.limit, EVENTS_PAGE_MAX).unwrap_or(EVENTS_PAGE_DEFAULT);
    params.check()?;
    let log = shop.log();
    let records = log.read_all(after, limit).await.map_err(|error| Problem::internal_error(&error))?;
    let head = log.store().head().await.map_err(|error| Problem::internal_error(&error))?;
    let next_cursor = records.last().filter(|last| last.position < head).map(|last| last.position.0.to_string());
    Ok(ApiJson(PageBody::new(records.into_iter().map(EventRecord::from).collect(), next_cursor)))
}

/// A page of one aggregate's events, oldest first; 404 when it has none (no such aggregate). The page is read from
/// the store as stored: the kernel has no paged read of one aggregate that upcasts, and reading the whole stream
/// for every page would defeat paging. (The shop registers no upcasters, so this is what `GET /events` shows.)
#[utoipa::path(
    get,
    path = "/aggregates/{aggregateId}/events",
    tag = "log",
    summary = "Reads one aggregate's events, oldest first, a page at a time.",
    params(AggregatePath, PageQuery),
    responses(
        (status = 200, description = "A page of events.", body = PageBody<EventRecord>),
        (status = 400, response = InvalidPathOrQuery),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No aggregate has this id.", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn aggregate_events(
    _admin: Admin,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<AggregatePath>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<EventRecord>>, Problem> {
    let (cursor, limit) = query.checked()?;
    let after = cursor.as_deref().map(version_of).transpose()?;
    let limit = page_size(limit);
    let mut records = shop
        .log()
        .store()
        .load(AggregateId(path.aggregate_id), after.unwrap_or(Version::INITIAL), limit + 1)
        .await
        .map_err(|error| Problem::internal_error(&error))?;
    if records.is_empty() && after.is_none() {
        return Err(Problem::not_found("No aggregate has this id."));
    }
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_cursor = more.then(|| records.last().map(|last| last.aggregate_version.0.to_string())).flatten();
    Ok(ApiJson(PageBody::new(records.into_iter().map(EventRecord::from).collect(), next_cursor)))
}

/// The version in a cursor of [`aggregate_events`]; a 400 naming `cursor` for anything it did not hand out. No
/// aggregate has more events than the log has positions, hence the bound.
fn version_of(cursor: &str) -> Result<Version, Problem> {
    match cursor.parse::<u64>() {
        Ok(version) if (1..=LOG_POSITION_MAX).contains(&version) => Ok(Version(version)),
        _ => Err(Problem::bad_request("The query parameter `cursor` is invalid.")
            .with_errors(vec![FieldError::new("cursor", "is not a cursor this API handed out")])),
    }
}
