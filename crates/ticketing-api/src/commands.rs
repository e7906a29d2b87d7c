//! The command routes: the organiser's (venues, concerts, ticket types, check-in; administrators only) and the
//! buyer's (cart and checkout; any signed-in caller, acting on their own cart). Each handler authenticates first,
//! so that an anonymous or unauthorised request learns nothing about paths or bodies, then reads the
//! `Idempotency-Key`, the path and the body, converts the body into domain values (`dto.rs`), calls one `Shop`
//! handler and turns its error into a problem (`error.rs`).
//!
//! Statuses: 201 with the new id (and a `Location`) for what creates something, 204 for deletions, 200 for the
//! other state changes. A retried request with the same `Idempotency-Key` gets the first response again; the same
//! key with a different request (method, path or body) is a 422 (`context.rs`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, patch, post};
use ticketing::{ConcertId, CustomerId, HoldId, TicketCode, TicketTypeId, VenueId};
use ticketing_app::queries::Queries;
use ticketing_app::{AppError, Shop};

use crate::ApiState;
use crate::auth::{Admin, Caller};
use crate::context::{IdempotencyKey, fingerprint_request};
use crate::dto::{
    AddCartItem, AddTicketType, CartItemCreated, CheckedOut, CreateConcert, CreateVenue, Created, ScheduleConcert,
    UpdateConcert,
};
use crate::json::{ApiJson, ApiPath};
use crate::openapi::{
    Busy, Conflict, Forbidden, KeyReused, MalformedRequest, NotFound, PayloadTooLarge, Unauthorized,
    UnparsablePathOrKey, Unprocessable, UnsupportedMediaType,
};
use crate::paths::{CartItemPath, ConcertPath, DoorTicketPath, TicketTypePath, VenuePath};
use crate::problem::{FieldError, Problem};

/// The command routes. Path parameters are named alike across routes (`{concertId}`), as the router requires of
/// routes sharing a prefix; read routes for the same paths are added by merging another router. Every route runs
/// in the scope of its request's fingerprint (`context.rs`).
pub(crate) fn routes() -> Router<ApiState> {
    let routes = Router::new()
        .route("/venues", post(create_venue))
        .route("/venues/{venueId}", delete(delete_venue))
        .route("/concerts", post(create_concert))
        .route("/concerts/{concertId}", patch(update_concert))
        .route("/concerts/{concertId}/schedule", post(schedule_concert))
        .route("/concerts/{concertId}/ticket-types", post(add_ticket_type))
        .route("/concerts/{concertId}/ticket-types/{ticketTypeId}", delete(remove_ticket_type))
        .route("/concerts/{concertId}/publish", post(publish_concert))
        .route("/concerts/{concertId}/cancel", post(cancel_concert))
        .route("/cart/items", post(add_cart_item))
        .route("/cart/items/{itemId}", delete(remove_cart_item))
        .route("/cart/checkout", post(checkout))
        .route("/concerts/{concertId}/tickets/{code}/check-in", post(check_in_at_door));
    routes.route_layer(middleware::from_fn(fingerprint_request))
}

/// A 201 with a JSON body and the new resource's address.
fn created(location: String, body: impl serde::Serialize) -> Response {
    let mut response = (StatusCode::CREATED, ApiJson(body)).into_response();
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

#[utoipa::path(
    post,
    path = "/venues",
    tag = "venues",
    summary = "Creates a venue.",
    params(("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    request_body = CreateVenue,
    responses(
        (status = 201, description = "The venue was created.", body = Created, headers(("Location" = String, description = "The address of what was created."))),
        (status = 400, response = MalformedRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_venue(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiJson(body): ApiJson<CreateVenue>,
) -> Result<Response, Problem> {
    let profile = body.into_profile()?;
    let venue_id = shop.create_venue(&key.context(admin.user_id), profile).await?;
    Ok(created(format!("/venues/{venue_id}"), Created { id: venue_id.as_uuid() }))
}

#[utoipa::path(
    delete,
    path = "/venues/{venueId}",
    tag = "venues",
    summary = "Deletes a venue no concert is booked at.",
    params(VenuePath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 204, description = "The venue was deleted."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = KeyReused),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete_venue(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<VenuePath>,
) -> Result<StatusCode, Problem> {
    shop.delete_venue(&key.context(admin.user_id), VenueId(path.venue_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/concerts",
    tag = "concerts",
    summary = "Creates a draft concert at a venue.",
    params(("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    request_body = CreateConcert,
    responses(
        (status = 201, description = "The draft concert was created.", body = Created, headers(("Location" = String, description = "The address of what was created."))),
        (status = 400, response = MalformedRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiJson(body): ApiJson<CreateConcert>,
) -> Result<Response, Problem> {
    let form = body.into_form()?;
    let concert_id = shop.create_concert(&key.context(admin.user_id), form).await?;
    Ok(created(format!("/concerts/{concert_id}"), Created { id: concert_id.as_uuid() }))
}

#[utoipa::path(
    patch,
    path = "/concerts/{concertId}",
    tag = "concerts",
    summary = "Changes the fields present in the body.",
    params(ConcertPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    request_body = UpdateConcert,
    responses(
        (status = 200, description = "The concert was updated."),
        (status = 400, response = MalformedRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<ConcertPath>,
    ApiJson(body): ApiJson<UpdateConcert>,
) -> Result<StatusCode, Problem> {
    let update = body.into_update()?;
    shop.update_concert_details(&key.context(admin.user_id), ConcertId(path.concert_id), update).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    post,
    path = "/concerts/{concertId}/schedule",
    tag = "concerts",
    summary = "Schedules the concert, booking its venue.",
    params(ConcertPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    request_body = ScheduleConcert,
    responses(
        (status = 200, description = "The concert was scheduled."),
        (status = 400, response = MalformedRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn schedule_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<ConcertPath>,
    ApiJson(body): ApiJson<ScheduleConcert>,
) -> Result<StatusCode, Problem> {
    let (starts_at, ends_at) = body.into_times()?;
    shop.schedule_concert(&key.context(admin.user_id), ConcertId(path.concert_id), starts_at, ends_at).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    post,
    path = "/concerts/{concertId}/ticket-types",
    tag = "concerts",
    summary = "Adds a ticket type to the concert.",
    params(ConcertPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    request_body = AddTicketType,
    responses(
        (status = 201, description = "The ticket type was added.", body = Created, headers(("Location" = String, description = "The address of what was created."))),
        (status = 400, response = MalformedRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_ticket_type(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<ConcertPath>,
    ApiJson(body): ApiJson<AddTicketType>,
) -> Result<Response, Problem> {
    let new = body.into_ticket_type()?;
    let concert_id = ConcertId(path.concert_id);
    let ticket_type_id =
        shop.add_ticket_type(&key.context(admin.user_id), concert_id, new.name, new.price, new.quantity).await?;
    let location = format!("/concerts/{concert_id}/ticket-types/{ticket_type_id}");
    Ok(created(location, Created { id: ticket_type_id.as_uuid() }))
}

#[utoipa::path(
    delete,
    path = "/concerts/{concertId}/ticket-types/{ticketTypeId}",
    tag = "concerts",
    summary = "Removes a ticket type of which nothing is held or sold.",
    params(TicketTypePath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 204, description = "The ticket type was removed."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = KeyReused),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn remove_ticket_type(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<TicketTypePath>,
) -> Result<StatusCode, Problem> {
    let (concert_id, ticket_type_id) = (ConcertId(path.concert_id), TicketTypeId(path.ticket_type_id));
    shop.remove_ticket_type(&key.context(admin.user_id), concert_id, ticket_type_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/concerts/{concertId}/publish",
    tag = "concerts",
    summary = "Publishes the concert: it is listed and on sale.",
    params(ConcertPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 200, description = "The concert was published."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn publish_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<StatusCode, Problem> {
    shop.publish_concert(&key.context(admin.user_id), ConcertId(path.concert_id)).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    post,
    path = "/concerts/{concertId}/cancel",
    tag = "concerts",
    summary = "Cancels the concert.",
    params(ConcertPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 200, description = "The concert was cancelled."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = KeyReused),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn cancel_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<StatusCode, Problem> {
    shop.cancel_concert(&key.context(admin.user_id), ConcertId(path.concert_id)).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    post,
    path = "/cart/items",
    tag = "cart",
    summary = "Holds tickets in the caller's cart until the hold runs out.",
    params(("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    request_body = AddCartItem,
    responses(
        (status = 201, description = "The tickets are held.", body = CartItemCreated, headers(("Location" = String, description = "The address of what was created."))),
        (status = 400, response = MalformedRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn add_cart_item(
    caller: Caller,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiJson(body): ApiJson<AddCartItem>,
) -> Result<Response, Problem> {
    let item = body.into_item()?;
    let context = key.context(caller.user_id);
    let reservation =
        shop.reserve(&context, CustomerId(caller.user_id), item.concert_id, item.ticket_type_id, item.quantity).await?;
    let id = reservation.hold_id.as_uuid();
    Ok(created(format!("/cart/items/{id}"), CartItemCreated { id, expires_at: reservation.expires_at }))
}

#[utoipa::path(
    delete,
    path = "/cart/items/{itemId}",
    tag = "cart",
    summary = "Removes an item from the caller's cart, releasing its tickets.",
    params(CartItemPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 204, description = "The item was removed."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = KeyReused),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn remove_cart_item(
    caller: Caller,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<CartItemPath>,
) -> Result<StatusCode, Problem> {
    shop.remove_cart_item(&key.context(caller.user_id), CustomerId(caller.user_id), HoldId(path.item_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/cart/checkout",
    tag = "cart",
    summary = "Buys the caller's cart: an order with one ticket code per ticket.",
    params(("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 201, description = "The order was placed.", body = CheckedOut, headers(("Location" = String, description = "The address of what was created."))),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn checkout(
    caller: Caller,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
) -> Result<Response, Problem> {
    let order_id = shop.checkout(&key.context(caller.user_id), CustomerId(caller.user_id)).await?;
    Ok(created(format!("/orders/{order_id}"), CheckedOut { order_id: order_id.as_uuid() }))
}

#[utoipa::path(
    post,
    path = "/concerts/{concertId}/tickets/{code}/check-in",
    tag = "tickets",
    summary = "Checks in the ticket with this code at this concert's door, once.",
    description = "A ticket of another concert is a 422; a ticket of a cancelled concert, or one checked in before, \
                   a 409.",
    params(DoorTicketPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 200, description = "The ticket was checked in."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn check_in_at_door(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    State(queries): State<Arc<dyn Queries>>,
    ApiPath(path): ApiPath<DoorTicketPath>,
) -> Result<StatusCode, Problem> {
    let code = ticket_code(path.code)?;
    // A ticket lives inside its order's aggregate: the attendee read model maps its code to the order. A code the
    // client has seen is there, since the checkout that issued it answered only once the read models caught up.
    let Some(order_id) = queries.ticket_order(&code).await.map_err(AppError::store)? else {
        return Err(Problem::not_found("No ticket has this code."));
    };
    shop.check_in_at_door(&key.context(admin.user_id), ConcertId(path.concert_id), order_id, code).await?;
    Ok(StatusCode::OK)
}

/// A ticket code from a path. A code of the wrong shape cannot be on any ticket: like any unparsable path
/// parameter, a 400.
fn ticket_code(code: String) -> Result<TicketCode, Problem> {
    TicketCode::new(code).map_err(|error| {
        Problem::bad_request(format!("A path parameter is invalid: {error}."))
            .with_errors(vec![FieldError::new("code", error.to_string())])
    })
}
