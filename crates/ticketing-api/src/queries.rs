//! The read routes over the read models: the public catalogue (venues, published concerts), a customer's own cart
//! and orders, an administrator's lists for the door and the books (attendees, daily sales). Each handler
//! authenticates as its route requires, reads and checks its query parameters (`params.rs`: every invalid one is
//! named in one 400 problem), asks the one read model it needs through its port (`ticketing_app::queries`), and maps the views into the documents of
//! `views.rs`. Nothing here writes. (The log's own routes are in `events.rs`.)
//!
//! Lists that grow with the shop's business are paged alike, with `?cursor=&limit=` ([`PageQuery`]) and a
//! `nextCursor`: venues, concerts, drafts, orders, a concert's attendees. A concert's daily sales stay one list: one
//! row per day of sales.
//!
//! What a caller may not see is answered as if it did not exist (404), not 403: a draft concert for anyone but an
//! administrator, another customer's order. A 403 would confirm that the id is real.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use ticketing::{ConcertId, CustomerId, OrderId, VenueId};
use ticketing_app::Shop;
use ticketing_app::queries::{
    AttendeeQueries, CartQueries, CatalogueQueries, ConcertSearch, OrderQueries, PAGE_SIZE_MAX, SalesQueries,
    VenueQueries,
};
use utoipa::IntoParams;

use crate::ApiState;
use crate::auth::{Admin, Caller};
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::{Forbidden, InvalidPathOrQuery, InvalidQuery, Unauthorized, UnparsablePath};
use crate::params::{PageQuery, Params, text_filter};
use crate::paths::{ConcertPath, OrderPath, VenuePath};
use crate::problem::Problem;
use crate::views::{Attendee, Cart, Concert, ConcertListed, DaySales, DraftListed, Items, Order, PageBody, Venue};

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
}

/// `GET /concerts`'s filters. Every parameter stays text here so that an invalid one is reported with its name and
/// value (`params.rs`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConcertQuery {
    /// Part of the concert's or the venue's name, any case; blank means no filter.
    q: Option<String>,
    /// Part of the venue's city or address, any case; blank means no filter.
    location: Option<String>,
    /// Concerts starting at or after this RFC 3339 time.
    #[param(format = DateTime, min_length = 1)]
    from: Option<String>,
    /// Concerts starting at or before this RFC 3339 time.
    #[param(format = DateTime, min_length = 1)]
    to: Option<String>,
    /// The genre, exactly but in any case; blank means no filter.
    genre: Option<String>,
    /// Items per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `nextCursor` of the previous page.
    #[param(min_length = 1)]
    cursor: Option<String>,
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
    State(venues): State<Arc<dyn VenueQueries>>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<Venue>>, Problem> {
    let (cursor, limit) = query.checked()?;
    let page = venues.venues(cursor, limit).await?;
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
    State(venues): State<Arc<dyn VenueQueries>>,
    ApiPath(path): ApiPath<VenuePath>,
) -> Result<ApiJson<Venue>, Problem> {
    match venues.venue(VenueId(path.venue_id)).await? {
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
    State(catalogue): State<Arc<dyn CatalogueQueries>>,
    ApiQuery(query): ApiQuery<ConcertQuery>,
) -> Result<ApiJson<PageBody<ConcertListed>>, Problem> {
    let mut params = Params::default();
    let from = params.time("from", query.from);
    let to = params.time("to", query.to);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        params.refuse("to", "must not be before from");
    }
    let limit = params.limit(query.limit, PAGE_SIZE_MAX);
    // A cursor's content is the read model's business: a forged one is refused there (400 too).
    let cursor = params.cursor(query.cursor);
    params.check()?;
    let search = ConcertSearch {
        q: text_filter(query.q),
        location: text_filter(query.location),
        from,
        to,
        genre: text_filter(query.genre),
        limit,
        cursor,
    };
    let page = catalogue.concerts(search).await?;
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
    State(catalogue): State<Arc<dyn CatalogueQueries>>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<DraftListed>>, Problem> {
    let (cursor, limit) = query.checked()?;
    let page = catalogue.drafts(cursor, limit).await?;
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
    State(catalogue): State<Arc<dyn CatalogueQueries>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<ApiJson<Concert>, Problem> {
    let include_drafts = caller.is_some_and(|caller| caller.admin);
    match catalogue.concert(ConcertId(path.concert_id), include_drafts).await? {
        Some(view) => Ok(ApiJson(view.into())),
        None => Err(Problem::not_found("No concert has this id.")),
    }
}

/// 404 unless the concert exists (drafts included): an administrator's typo should not read as "no attendees".
async fn known_concert(catalogue: &dyn CatalogueQueries, concert_id: ConcertId) -> Result<(), Problem> {
    match catalogue.concert(concert_id, true).await? {
        Some(_) => Ok(()),
        None => Err(Problem::not_found("No concert has this id.")),
    }
}

#[utoipa::path(
    get,
    path = "/concerts/{concertId}/attendees",
    tag = "concerts",
    summary = "Lists a concert's tickets sold and their check-ins, by ticket code, a page at a time.",
    params(ConcertPath, PageQuery),
    responses(
        (status = 200, description = "A page of attendees.", body = PageBody<Attendee>),
        (status = 400, response = InvalidPathOrQuery),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No concert has this id.", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn attendees(
    _admin: Admin,
    State(catalogue): State<Arc<dyn CatalogueQueries>>,
    State(attendees): State<Arc<dyn AttendeeQueries>>,
    ApiPath(path): ApiPath<ConcertPath>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<Attendee>>, Problem> {
    let (cursor, limit) = query.checked()?;
    let concert_id = ConcertId(path.concert_id);
    known_concert(catalogue.as_ref(), concert_id).await?;
    let page = attendees.attendees_page(concert_id, cursor, limit).await?;
    Ok(ApiJson(PageBody::from_page(page, Attendee::from)))
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
    State(catalogue): State<Arc<dyn CatalogueQueries>>,
    State(sales): State<Arc<dyn SalesQueries>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<ApiJson<Items<DaySales>>, Problem> {
    let concert_id = ConcertId(path.concert_id);
    known_concert(catalogue.as_ref(), concert_id).await?;
    let views = sales.sales(concert_id).await?;
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
    State(carts): State<Arc<dyn CartQueries>>,
    State(shop): State<Arc<Shop>>,
) -> Result<ApiJson<Cart>, Problem> {
    let now = shop.log().clock().now();
    let view = carts.cart(CustomerId(caller.user_id), now).await?;
    Ok(ApiJson(view.into()))
}

/// The caller's orders, newest first, a page at a time; an administrator pages through everyone's.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    summary = "Lists the caller's orders, newest first, a page at a time; an administrator's lists everyone's.",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of orders.", body = PageBody<Order>),
        (status = 400, response = InvalidQuery),
        (status = 401, response = Unauthorized)
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn orders(
    caller: Caller,
    State(orders): State<Arc<dyn OrderQueries>>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<ApiJson<PageBody<Order>>, Problem> {
    let (cursor, limit) = query.checked()?;
    let customer = (!caller.admin).then_some(CustomerId(caller.user_id));
    let page = orders.orders_page(customer, cursor, limit).await?;
    Ok(ApiJson(PageBody::from_page(page, Order::from)))
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
    State(orders): State<Arc<dyn OrderQueries>>,
    ApiPath(path): ApiPath<OrderPath>,
) -> Result<ApiJson<Order>, Problem> {
    match orders.order(OrderId(path.order_id)).await? {
        Some(view) if caller.admin || view.customer_id == CustomerId(caller.user_id) => Ok(ApiJson(view.into())),
        _ => Err(Problem::not_found("No order of yours has this id.")),
    }
}
