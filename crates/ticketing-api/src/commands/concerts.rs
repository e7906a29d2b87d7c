//! The organiser's concert routes: create, edit, schedule, add and remove ticket types, publish, cancel.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ticketing::{ConcertId, TicketTypeId};
use ticketing_app::Shop;

use super::created;
use crate::auth::Admin;
use crate::context::IdempotencyKey;
use crate::dto::{AddTicketType, CreateConcert, Created, ScheduleConcert, UpdateConcert};
use crate::json::{ApiJson, ApiPath};
use crate::openapi::{
    Busy, Conflict, Forbidden, KeyReused, MalformedRequest, NotFound, PayloadTooLarge, Unauthorized,
    UnparsablePathOrKey, Unprocessable, UnsupportedMediaType,
};
use crate::paths::{ConcertPath, TicketTypePath};
use crate::problem::Problem;

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
