//! Check-in at a concert's door by ticket code.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use ticketing::{ConcertId, TicketCode};
use ticketing_app::queries::OrderQueries;
use ticketing_app::{AppError, Shop};

use crate::auth::Admin;
use crate::context::IdempotencyKey;
use crate::json::ApiPath;
use crate::openapi::{Busy, Conflict, Forbidden, NotFound, Unauthorized, UnparsablePathOrKey, Unprocessable};
use crate::paths::DoorTicketPath;
use crate::problem::{FieldError, Problem};

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
    State(orders): State<Arc<dyn OrderQueries>>,
    ApiPath(path): ApiPath<DoorTicketPath>,
) -> Result<StatusCode, Problem> {
    let code = ticket_code(path.code)?;
    // A ticket lives inside its order's aggregate: the attendee read model maps its code to the order. A code the
    // client has seen is there, since the checkout that issued it answered only once the read models caught up.
    let Some(order_id) = orders.ticket_order(&code).await.map_err(AppError::store)? else {
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
