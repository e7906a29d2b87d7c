//! The command routes: the organiser's (venues, concerts, ticket types, customers, check-in; administrators only) and the
//! buyer's (cart and checkout; any signed-in caller, acting on their own cart). Each handler authenticates first,
//! so that an anonymous or unauthorised request learns nothing about paths or bodies, then reads the
//! `Idempotency-Key`, the path and the body, converts the body into domain values (`dto.rs`), calls one `Shop`
//! handler and turns its error into a problem (`error.rs`).
//!
//! Statuses: 201 with the new id (and a `Location`) for what creates something, 204 for deletions, 200 for the
//! other state changes. A retried request with the same `Idempotency-Key` gets the first response again; the same
//! key with a different request (method, path or body) is a 422 (`context.rs`).
//!
//! One module per group of routes: [`venues`], [`concerts`], [`customers`], the buyer's [`cart`], and the [`door`].

pub(crate) mod cart;
pub(crate) mod concerts;
pub(crate) mod customers;
pub(crate) mod door;
pub(crate) mod venues;

use axum::Router;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, patch, post};

use self::cart::{add_cart_item, checkout, remove_cart_item};
use self::concerts::{
    add_ticket_type, cancel_concert, create_concert, publish_concert, remove_ticket_type, schedule_concert,
    update_concert,
};
use self::customers::{disable_customer, enable_customer};
use self::door::check_in_at_door;
use self::venues::{create_venue, delete_venue};
use crate::ApiState;
use crate::context::fingerprint_request;
use crate::json::ApiJson;

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
        .route("/customers/{customerId}/disable", post(disable_customer))
        .route("/customers/{customerId}/enable", post(enable_customer))
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
