//! The organiser's hold on customers: disabling one (story AD02), whose
//! purchases are then refused with a 403, and enabling them again.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use ticketing::CustomerId;
use ticketing_app::Shop;

use crate::auth::Admin;
use crate::context::IdempotencyKey;
use crate::json::ApiPath;
use crate::openapi::{Busy, Forbidden, KeyReused, Unauthorized, UnparsablePathOrKey};
use crate::paths::CustomerPath;
use crate::problem::Problem;

#[utoipa::path(
    post,
    path = "/customers/{customerId}/disable",
    tag = "customers",
    summary = "Disables the customer: from now on their cart takes no tickets and checks nothing out (403).",
    description = "What they already bought stays theirs; tickets they hold run out as usual. Disabling a disabled \
                   customer changes nothing.",
    params(CustomerPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 200, description = "The customer is disabled."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = KeyReused),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn disable_customer(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<CustomerPath>,
) -> Result<StatusCode, Problem> {
    shop.disable_customer(&key.context(admin.user_id), CustomerId(path.customer_id)).await?;
    Ok(StatusCode::OK)
}

#[utoipa::path(
    post,
    path = "/customers/{customerId}/enable",
    tag = "customers",
    summary = "Enables a disabled customer again.",
    params(CustomerPath, ("Idempotency-Key" = Option<Uuid>, Header, nullable = false, description = "A UUID naming this request: a retry with the same key returns the first response; the same key with another method, path or body is a 422.")),
    responses(
        (status = 200, description = "The customer may buy again."),
        (status = 400, response = UnparsablePathOrKey),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = KeyReused),
        (status = 503, response = Busy)
    ),
    security(("bearer" = []))
)]
pub(crate) async fn enable_customer(
    admin: Admin,
    key: IdempotencyKey,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<CustomerPath>,
) -> Result<StatusCode, Problem> {
    shop.enable_customer(&key.context(admin.user_id), CustomerId(path.customer_id)).await?;
    Ok(StatusCode::OK)
}
