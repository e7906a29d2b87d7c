//! The buyer's routes: put tickets in their own cart, take them out, check out.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ticketing::{CustomerId, HoldId};
use ticketing_app::Shop;

use super::created;
use crate::auth::Caller;
use crate::context::IdempotencyKey;
use crate::dto::{AddCartItem, CartItemCreated, CheckedOut, Checkout};
use crate::json::{ApiJson, ApiPath};
use crate::openapi::{
    Busy, Conflict, CustomerDisabled, KeyReused, MalformedRequest, NotFound, PayloadTooLarge, Unauthorized,
    UnparsablePathOrKey, Unprocessable, UnsupportedMediaType,
};
use crate::paths::CartItemPath;
use crate::problem::Problem;

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
        (status = 403, response = CustomerDisabled),
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
    summary = "Buys the caller's cart: an order with one ticket code per ticket, paid at once or awaiting its payment.",
    params(("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    request_body(content = Option<Checkout>, content_type = "application/json", description = "Optional: where to mail the tickets."),
    responses(
        (status = 201, description = "The order was placed; `payment` says how it is paid.", body = CheckedOut, headers(("Location" = String, description = "The address of what was created."))),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = CustomerDisabled),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn checkout(
    caller: Caller,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    body: Option<ApiJson<Checkout>>,
) -> Result<Response, Problem> {
    let (context, customer) = (key.context(caller.user_id), CustomerId(caller.user_id));
    let deliver_to = body.and_then(|ApiJson(body)| body.email);
    let order_id = shop.checkout_to(&context, customer, deliver_to).await?;
    let payment = crate::payments::after_checkout(&shop, &context, customer, order_id).await;
    Ok(created(format!("/orders/{order_id}"), CheckedOut { order_id: order_id.as_uuid(), payment }))
}
