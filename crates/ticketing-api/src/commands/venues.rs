//! The organiser's venue routes: create and delete.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ticketing::VenueId;
use ticketing_app::Shop;

use super::created;
use crate::auth::Admin;
use crate::context::IdempotencyKey;
use crate::dto::{CreateVenue, Created};
use crate::json::{ApiJson, ApiPath};
use crate::openapi::{
    Busy, Conflict, Forbidden, KeyReused, MalformedRequest, NotFound, PayloadTooLarge, Unauthorized,
    UnparsablePathOrKey, Unprocessable, UnsupportedMediaType,
};
use crate::paths::VenuePath;
use crate::problem::Problem;

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
