//! The command routes: the organiser's (venues, concerts, ticket types, check-in; administrators only) and the
//! buyer's (cart and checkout; any signed-in caller, acting on their own cart). Each handler authenticates first,
//! so that an anonymous or unauthorised request learns nothing about paths or bodies, then reads the
//! `Idempotency-Key`, the path and the body, converts the body into domain values (`dto.rs`), calls one `Shop`
//! handler and turns its error into a problem (`error.rs`).
//!
//! Statuses: 201 with the new id (and a `Location`) for what creates something, 204 for deletions, 200 for the
//! other state changes. A retried request with the same `Idempotency-Key` gets the first response again.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, patch, post};
use serde::Deserialize;
use ticketing::{ConcertId, CustomerId, HoldId, TicketCode, TicketTypeId, VenueId};
use ticketing_app::Shop;
use uuid::Uuid;

use crate::ApiState;
use crate::auth::{Admin, Caller};
use crate::context::IdempotencyKey;
use crate::dto::{
    AddCartItem, AddTicketType, CartItemCreated, CheckedOut, CreateConcert, CreateVenue, Created, ScheduleConcert,
    UpdateConcert,
};
use crate::json::{ApiJson, ApiPath};
use crate::problem::{FieldError, Problem};
use crate::tickets::TicketLocator;

/// The command routes. Path parameters are named alike across routes (`{concertId}`), as the router requires of
/// routes sharing a prefix; read routes for the same paths are added by merging another router.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
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
        .route("/tickets/{code}/check-in", post(check_in))
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
struct TicketTypePath {
    concert_id: Uuid,
    ticket_type_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CartItemPath {
    item_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct TicketPath {
    code: String,
}

/// A 201 with a JSON body and the new resource's address.
fn created(location: String, body: impl serde::Serialize) -> Response {
    let mut response = (StatusCode::CREATED, ApiJson(body)).into_response();
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

async fn create_venue(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiJson(body): ApiJson<CreateVenue>,
) -> Result<Response, Problem> {
    let profile = body.into_profile()?;
    let venue_id = shop.create_venue(&key.context(admin.user_id), profile).await?;
    Ok(created(format!("/venues/{venue_id}"), Created { id: venue_id.as_uuid() }))
}

async fn delete_venue(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<VenuePath>,
) -> Result<StatusCode, Problem> {
    shop.delete_venue(&key.context(admin.user_id), VenueId(path.venue_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiJson(body): ApiJson<CreateConcert>,
) -> Result<Response, Problem> {
    let form = body.into_form()?;
    let concert_id = shop.create_concert(&key.context(admin.user_id), form).await?;
    Ok(created(format!("/concerts/{concert_id}"), Created { id: concert_id.as_uuid() }))
}

async fn update_concert(
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

async fn schedule_concert(
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

async fn add_ticket_type(
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

async fn remove_ticket_type(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<TicketTypePath>,
) -> Result<StatusCode, Problem> {
    let (concert_id, ticket_type_id) = (ConcertId(path.concert_id), TicketTypeId(path.ticket_type_id));
    shop.remove_ticket_type(&key.context(admin.user_id), concert_id, ticket_type_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn publish_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<StatusCode, Problem> {
    shop.publish_concert(&key.context(admin.user_id), ConcertId(path.concert_id)).await?;
    Ok(StatusCode::OK)
}

async fn cancel_concert(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<StatusCode, Problem> {
    shop.cancel_concert(&key.context(admin.user_id), ConcertId(path.concert_id)).await?;
    Ok(StatusCode::OK)
}

async fn add_cart_item(
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

async fn remove_cart_item(
    caller: Caller,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<CartItemPath>,
) -> Result<StatusCode, Problem> {
    shop.remove_cart_item(&key.context(caller.user_id), CustomerId(caller.user_id), HoldId(path.item_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn checkout(caller: Caller, key: IdempotencyKey, State(shop): State<Arc<Shop>>) -> Result<Response, Problem> {
    let order_id = shop.checkout(&key.context(caller.user_id), CustomerId(caller.user_id)).await?;
    Ok(created(format!("/orders/{order_id}"), CheckedOut { order_id: order_id.as_uuid() }))
}

async fn check_in(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    State(tickets): State<Arc<dyn TicketLocator>>,
    ApiPath(path): ApiPath<TicketPath>,
) -> Result<StatusCode, Problem> {
    // A code of the wrong shape cannot be on any ticket: like any unparsable path parameter, a 400.
    let code = TicketCode::new(path.code).map_err(|error| {
        Problem::bad_request(format!("A path parameter is invalid: {error}."))
            .with_errors(vec![FieldError::new("code", error.to_string())])
    })?;
    let Some(order_id) = tickets.order_of(&code).await? else {
        return Err(Problem::not_found("No ticket has this code."));
    };
    shop.check_in(&key.context(admin.user_id), order_id, code).await?;
    Ok(StatusCode::OK)
}
