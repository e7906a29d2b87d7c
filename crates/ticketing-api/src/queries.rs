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
use utoipa::IntoParams;

use crate::ApiState;
use crate::auth::{Admin, Caller};
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::limits::{EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX};
use crate::openapi::{Forbidden, InvalidQuery, Unauthorized, UnparsablePath};
use crate::paths::{AggregatePath, ConcertPath, OrderPath, VenuePath};
use crate::problem::{FieldError, Problem};
use crate::views::{
    Attendee, Cart, Concert, ConcertListed, DaySales, DraftListed, EventRecord, Items, Order, PageBody, Venue,
};

/// The read routes. Paths and parameter names are those of the command routes (`{concertId}`), so that both
/// routers merge into one route per path.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/venues", get(venues))
        .route("/venues/{venueId}", get(venue))
        .route("/concerts", get(concerts))
        .route("/concerts/drafts", get(drafts))
        .route("/concerts/{concertId}", get(concert))
        .route("/concerts/{concertId}/attendees", get(attendees))
        .route("/concerts/{concertId}/sales", get(sales))
        .route("/cart", get(cart))
        .route("/orders", get(orders))
        .route("/orders/{orderId}", get(order))
        .route("/events", get(events))
        .route("/aggregates/{aggregateId}/events", get(aggregate_events))
}

/// `?cursor=&limit=` of a paged list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

impl PageQuery {
    /// The cursor and page size, or a 400 naming what is wrong. A cursor's content is the read model's business: a
    /// forged one is refused there (400 too).
    fn checked(self) -> Result<(Option<String>, Option<u32>), Problem> {
        let mut params = Params::default();
        let limit = params.limit(self.limit, PAGE_SIZE_MAX);
        params.check()?;
        Ok((present(self.cursor), limit))
    }
}

/// `GET /concerts`'s filters. Times stay text here so that a malformed one is reported with its name and value.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConcertQuery {
    /// Part of the concert's or the venue's name, any case.
    q: Option<String>,
    /// Part of the venue's city or address, any case.
    location: Option<String>,
    /// Concerts starting at or after this RFC 3339 time.
    #[param(format = DateTime)]
    from: Option<String>,
    /// Concerts starting at or before this RFC 3339 time.
    #[param(format = DateTime)]
    to: Option<String>,
    /// The genre, exactly but in any case.
    genre: Option<String>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /events?after=&limit=`: `after` is a position (a previous page's `nextCursor`), 0 for the start.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Show events after this position (a previous page's `nextCursor`); 0, the default, for the start.
    after: Option<u64>,
    /// Events per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
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

#[utoipa::path(
    get,
    path = "/venues",
    tag = "venues",
    summary = "Lists venues, a page at a time.",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of venues.", body = PageBody<Venue>),
        (status = 400, response = InvalidQuery)
    ),
)]
pub(crate) async fn venues(
    State(queries): State<Arc<dyn Queries>>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<Venue>>, Problem> {
    let (cursor, limit) = query.checked()?;
    let page = queries.venues(cursor, limit).await?;
    Ok(ApiJson(PageBody::from_page(page, Venue::from)))
}

#[utoipa::path(
    get,
    path = "/venues/{venueId}",
    tag = "venues",
    summary = "Shows a venue.",
    params(VenuePath),
    responses(
        (status = 200, description = "The venue.", body = Venue),
        (status = 400, response = UnparsablePath),
        (status = 404, description = "No venue has this id.", body = Problem, content_type = "application/problem+json")
    ),
)]
pub(crate) async fn venue(
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<VenuePath>,
) -> Result<ApiJson<Venue>, Problem> {
    match queries.venue(VenueId(path.venue_id)).await? {
        Some(view) => Ok(ApiJson(view.into())),
        None => Err(Problem::not_found("No venue has this id.")),
    }
}

#[utoipa::path(
    get,
    path = "/concerts",
    tag = "concerts",
    summary = "Finds published concerts by name, location, date range and genre.",
    params(ConcertQuery),
    responses(
        (status = 200, description = "A page of concerts.", body = PageBody<ConcertListed>),
        (status = 400, response = InvalidQuery)
    ),
)]
pub(crate) async fn concerts(
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

#[utoipa::path(
    get,
    path = "/concerts/drafts",
    tag = "concerts",
    summary = "Lists draft concerts by name: what organisers are preparing.",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of drafts.", body = PageBody<DraftListed>),
        (status = 400, response = InvalidQuery),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn drafts(
    _admin: Admin,
    State(queries): State<Arc<dyn Queries>>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<DraftListed>>, Problem> {
    let (cursor, limit) = query.checked()?;
    let page = queries.drafts(cursor, limit).await?;
    Ok(ApiJson(PageBody::from_page(page, DraftListed::from)))
}

#[utoipa::path(
    get,
    path = "/concerts/{concertId}",
    tag = "concerts",
    summary = "Shows a concert with its ticket types; drafts only to administrators.",
    params(ConcertPath),
    responses(
        (status = 200, description = "The concert.", body = Concert),
        (status = 400, response = UnparsablePath),
        (status = 401, description = "A bearer token that is not valid (see `WWW-Authenticate`); without one the caller is anonymous.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No concert has this id, or it is a draft and the caller is not an administrator.", body = Problem, content_type = "application/problem+json")
    ),
    security((), ("bearer" = [])),
)]
pub(crate) async fn concert(
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

#[utoipa::path(
    get,
    path = "/concerts/{concertId}/attendees",
    tag = "concerts",
    summary = "Lists a concert's tickets sold and their check-ins.",
    params(ConcertPath),
    responses(
        (status = 200, description = "The attendees.", body = Items<Attendee>),
        (status = 400, response = UnparsablePath),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No concert has this id.", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn attendees(
    _admin: Admin,
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<ApiJson<Items<Attendee>>, Problem> {
    let concert_id = ConcertId(path.concert_id);
    known_concert(queries.as_ref(), concert_id).await?;
    let views = queries.attendees(concert_id).await?;
    Ok(ApiJson(Items::from_views(views, Attendee::from)))
}

#[utoipa::path(
    get,
    path = "/concerts/{concertId}/sales",
    tag = "concerts",
    summary = "A concert's sales per UTC day.",
    params(ConcertPath),
    responses(
        (status = 200, description = "The sales per day.", body = Items<DaySales>),
        (status = 400, response = UnparsablePath),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No concert has this id.", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn sales(
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
#[utoipa::path(
    get,
    path = "/cart",
    tag = "cart",
    summary = "Shows the caller's cart (empty when they have none).",
    responses(
        (status = 200, description = "The cart.", body = Cart),
        (status = 401, response = Unauthorized)
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn cart(
    caller: Caller,
    State(queries): State<Arc<dyn Queries>>,
    State(shop): State<Arc<Shop>>,
) -> Result<ApiJson<Cart>, Problem> {
    let now = shop.log().clock().now();
    let view = queries.cart(CustomerId(caller.user_id), now).await?;
    Ok(ApiJson(view.into()))
}

/// The caller's orders, newest first; an administrator sees everyone's.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    summary = "Lists the caller's orders, newest first; an administrator's lists everyone's.",
    responses(
        (status = 200, description = "The orders.", body = Items<Order>),
        (status = 401, response = Unauthorized)
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn orders(
    caller: Caller,
    State(queries): State<Arc<dyn Queries>>,
) -> Result<ApiJson<Items<Order>>, Problem> {
    let customer = (!caller.admin).then_some(CustomerId(caller.user_id));
    let views = queries.orders(customer).await?;
    Ok(ApiJson(Items::from_views(views, Order::from)))
}

#[utoipa::path(
    get,
    path = "/orders/{orderId}",
    tag = "orders",
    summary = "Shows an order of the caller (any order to an administrator).",
    params(OrderPath),
    responses(
        (status = 200, description = "The order.", body = Order),
        (status = 400, response = UnparsablePath),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No order of the caller has this id.", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn order(
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
#[utoipa::path(
    get,
    path = "/aggregates/{aggregateId}/events",
    tag = "log",
    summary = "Reads every event of one aggregate, oldest first.",
    params(AggregatePath),
    responses(
        (status = 200, description = "The events.", body = Items<EventRecord>),
        (status = 400, response = UnparsablePath),
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
