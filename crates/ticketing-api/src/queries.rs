//! The read routes: the public catalogue (venues, published concerts), a customer's own cart and orders, an
//! administrator's lists for the door and the books (attendees, daily sales), and the log itself for operators.
//! Each handler authenticates as its route requires, reads and checks its query parameters (every invalid one is
//! named in one 400 problem), asks the read models through [`Queries`] (or the log through `EventLog`), and maps the
//! views into the documents of `views.rs`. Nothing here writes.
//!
//! What a caller may not see is answered as if it did not exist (404), not 403: a draft concert for anyone but an
//! administrator, another customer's order. A 403 would confirm that the id is real.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use es_core::{AggregateId, Position, Version};
use serde::Deserialize;
use ticketing::{ConcertId, CustomerId, OrderId, VenueId};
use ticketing_app::Shop;
use ticketing_app::queries::{ConcertSearch, PAGE_SIZE_MAX, Queries};
use uuid::Uuid;

use crate::ApiState;
use crate::auth::{Admin, Caller};
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::limits::{EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX};
use crate::problem::{FieldError, Problem};
use crate::views::{Attendee, Cart, Concert, ConcertListed, DaySales, EventRecord, Items, Order, PageBody, Venue};

/// The read routes. Paths and parameter names are those of the command routes (`{concertId}`), so that both
/// routers merge into one route per path.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/venues", get(venues))
        .route("/venues/{venueId}", get(venue))
        .route("/concerts", get(concerts))
        .route("/concerts/{concertId}", get(concert))
        .route("/concerts/{concertId}/attendees", get(attendees))
        .route("/concerts/{concertId}/sales", get(sales))
        .route("/cart", get(cart))
        .route("/orders", get(orders))
        .route("/orders/{orderId}", get(order))
        .route("/events", get(events))
        .route("/aggregates/{aggregateId}/events", get(aggregate_events))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VenuePath {
    venue_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConcertPath {
    concert_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPath {
    order_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggregatePath {
    aggregate_id: Uuid,
}

/// `?cursor=&limit=` of a paged list.
#[derive(Debug, Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// `GET /concerts`'s filters. Times stay text here so that a malformed one is reported with its name and value.
#[derive(Debug, Deserialize)]
struct ConcertQuery {
    q: Option<String>,
    location: Option<String>,
    from: Option<String>,
    to: Option<String>,
    genre: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /events?after=&limit=`: `after` is a position (a previous page's `nextCursor`), 0 for the start.
#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<u64>,
    limit: Option<u32>,
}

/// Invalid query parameters, collected so that one 400 names them all.
#[derive(Debug, Default)]
struct Params {
    errors: Vec<FieldError>,
}

impl Params {
    /// `limit` if absent or within `1..=max`; otherwise records why not.
    fn limit(&mut self, limit: Option<u32>, max: u32) -> Option<u32> {
        match limit {
            Some(value) if value == 0 || value > max => {
                self.errors.push(FieldError::new("limit", format!("must be between 1 and {max}, not {value}")));
                None
            }
            other => other,
        }
    }

    /// An optional RFC 3339 time, in UTC.
    fn time(&mut self, name: &str, text: Option<String>) -> Option<DateTime<Utc>> {
        let text = present(text)?;
        match DateTime::parse_from_rfc3339(&text) {
            Ok(time) => Some(time.with_timezone(&Utc)),
            Err(error) => {
                self.errors.push(FieldError::new(name, format!("`{text}` is not an RFC 3339 time: {error}")));
                None
            }
        }
    }

    /// Ok when every parameter was valid; otherwise the 400 problem naming each invalid one.
    fn check(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            return Ok(());
        }
        Err(Problem::bad_request("The query string has invalid parameters.").with_errors(self.errors))
    }
}

/// A text parameter, or `None` when absent or blank (`?q=` means no filter, not "names containing nothing").
fn present(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

async fn venues(
    State(queries): State<Arc<dyn Queries>>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<Venue>>, Problem> {
    let mut params = Params::default();
    let limit = params.limit(query.limit, PAGE_SIZE_MAX);
    // A cursor's content is the read model's business: a forged one is refused there (400 too).
    let cursor = present(query.cursor);
    params.check()?;
    let page = queries.venues(cursor, limit).await?;
    Ok(ApiJson(PageBody::from_page(page, Venue::from)))
}

async fn venue(
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<VenuePath>,
) -> Result<ApiJson<Venue>, Problem> {
    match queries.venue(VenueId(path.venue_id)).await? {
        Some(view) => Ok(ApiJson(view.into())),
        None => Err(Problem::not_found("No venue has this id.")),
    }
}

async fn concerts(
    State(queries): State<Arc<dyn Queries>>,
    ApiQuery(query): ApiQuery<ConcertQuery>,
) -> Result<ApiJson<PageBody<ConcertListed>>, Problem> {
    let mut params = Params::default();
    let from = params.time("from", query.from);
    let to = params.time("to", query.to);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        params.errors.push(FieldError::new("to", "must not be before from"));
    }
    let limit = params.limit(query.limit, PAGE_SIZE_MAX);
    // A cursor's content is the read model's business: a forged one is refused there (400 too).
    let cursor = present(query.cursor);
    params.check()?;
    let search = ConcertSearch {
        q: present(query.q),
        location: present(query.location),
        from,
        to,
        genre: present(query.genre),
        limit,
        cursor,
    };
    let page = queries.concerts(search).await?;
    Ok(ApiJson(PageBody::from_page(page, ConcertListed::from)))
}

async fn concert(
    caller: Option<Caller>,
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<ApiJson<Concert>, Problem> {
    let include_drafts = caller.is_some_and(|caller| caller.admin);
    match queries.concert(ConcertId(path.concert_id), include_drafts).await? {
        Some(view) => Ok(ApiJson(view.into())),
        None => Err(Problem::not_found("No concert has this id.")),
    }
}

/// 404 unless the concert exists (drafts included): an administrator's typo should not read as "no attendees".
async fn known_concert(queries: &dyn Queries, concert_id: ConcertId) -> Result<(), Problem> {
    match queries.concert(concert_id, true).await? {
        Some(_) => Ok(()),
        None => Err(Problem::not_found("No concert has this id.")),
    }
}

async fn attendees(
    _admin: Admin,
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<ApiJson<Items<Attendee>>, Problem> {
    let concert_id = ConcertId(path.concert_id);
    known_concert(queries.as_ref(), concert_id).await?;
    let views = queries.attendees(concert_id).await?;
    Ok(ApiJson(Items::from_views(views, Attendee::from)))
}

async fn sales(
    _admin: Admin,
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<ApiJson<Items<DaySales>>, Problem> {
    let concert_id = ConcertId(path.concert_id);
    known_concert(queries.as_ref(), concert_id).await?;
    let views = queries.sales(concert_id).await?;
    Ok(ApiJson(Items::from_views(views, DaySales::from)))
}

/// The caller's own cart; an empty one when they have none. Holds that have run out by the shop's clock are not
/// shown (the expiry process removes them from the log later).
async fn cart(
    caller: Caller,
    State(queries): State<Arc<dyn Queries>>,
    State(shop): State<Arc<Shop>>,
) -> Result<ApiJson<Cart>, Problem> {
    let now = shop.log().clock().now();
    let view = queries.cart(CustomerId(caller.user_id), now).await?;
    Ok(ApiJson(view.into()))
}

/// The caller's orders, newest first; an administrator sees everyone's.
async fn orders(caller: Caller, State(queries): State<Arc<dyn Queries>>) -> Result<ApiJson<Items<Order>>, Problem> {
    let customer = (!caller.admin).then_some(CustomerId(caller.user_id));
    let views = queries.orders(customer).await?;
    Ok(ApiJson(Items::from_views(views, Order::from)))
}

async fn order(
    caller: Caller,
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<OrderPath>,
) -> Result<ApiJson<Order>, Problem> {
    match queries.order(OrderId(path.order_id)).await? {
        Some(view) if caller.admin || view.customer_id == CustomerId(caller.user_id) => Ok(ApiJson(view.into())),
        _ => Err(Problem::not_found("No order of yours has this id.")),
    }
}

/// A page of the whole log after `after`, in commit order. `nextCursor` is the last position shown, to pass as
/// `after`, while the log holds more; it is `null` once the page reaches the log's head.
async fn events(
    _admin: Admin,
    State(shop): State<Arc<Shop>>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<ApiJson<PageBody<EventRecord>>, Problem> {
    let mut params = Params::default();
    let limit = params.limit(query.limit, EVENTS_PAGE_MAX);
    params.check()?;
    let after = Position(query.after.unwrap_or(Position::START.0));
    let log = shop.log();
    let records =
        log.read_all(after, limit.unwrap_or(EVENTS_PAGE_DEFAULT)).await.map_err(|error| Problem::internal(&error))?;
    let head = log.store().head().await.map_err(|error| Problem::internal(&error))?;
    let next_cursor = records.last().filter(|last| last.position < head).map(|last| last.position.0.to_string());
    Ok(ApiJson(PageBody::new(records.into_iter().map(EventRecord::from).collect(), next_cursor)))
}

/// Every event of one aggregate, oldest first; 404 when it has none (no such aggregate).
async fn aggregate_events(
    _admin: Admin,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<AggregatePath>,
) -> Result<ApiJson<Items<EventRecord>>, Problem> {
    let records = shop
        .log()
        .load(AggregateId(path.aggregate_id), Version::INITIAL)
        .await
        .map_err(|error| Problem::internal(&error))?;
    if records.is_empty() {
        return Err(Problem::not_found("No aggregate has this id."));
    }
    Ok(ApiJson(Items::from_views(records, EventRecord::from)))
}
