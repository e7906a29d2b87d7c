//! The OpenAPI 3.1 document of the REST API, served at `GET /openapi.json`. It is generated from the code: each
//! handler's `#[utoipa::path]` (method, path, parameters, body, responses, security) and the `ToSchema` derives of
//! the request documents (`dto.rs`), the response documents (`views.rs`) and [`Problem`]. [`ApiDoc`]'s `paths(...)`
//! list is the one list of documented routes; `tests/openapi.rs` checks it against the routes the router serves.
//!
//! The problem responses that many operations share (a 401 for a missing token, a 503 when busy, ...) are response
//! components, one per status and meaning (the `ToResponse` types below), registered in [`ApiDoc`] and referenced by
//! each handler as `(status = 401, response = Unauthorized)`. An operation whose status means something more
//! specific (which resource was not found) keeps its own inline response.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

use crate::json::ApiJson;
use crate::problem::{FieldError, Problem};

/// The name of the bearer security scheme that protected operations require.
pub const BEARER_SCHEME: &str = "bearer";

/// The OpenAPI document: every route of the API, its schemas and its security scheme.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Cloudbash",
        description = "Concert tickets: venues, concerts and ticket types for organisers; carts, checkout and \
                       orders for buyers; the event log for operators. Every error is an RFC 9457 problem \
                       (`application/problem+json`)."
    ),
    paths(
        crate::health,
        crate::ready::ready,
        openapi_json,
        crate::commands::venues::create_venue,
        crate::commands::venues::delete_venue,
        crate::commands::concerts::create_concert,
        crate::commands::concerts::update_concert,
        crate::commands::concerts::schedule_concert,
        crate::commands::concerts::add_ticket_type,
        crate::commands::concerts::remove_ticket_type,
        crate::commands::concerts::publish_concert,
        crate::commands::concerts::cancel_concert,
        crate::commands::customers::disable_customer,
        crate::commands::customers::enable_customer,
        crate::commands::cart::add_cart_item,
        crate::commands::cart::remove_cart_item,
        crate::commands::cart::checkout,
        crate::commands::door::check_in_at_door,
        crate::queries::venues,
        crate::queries::venue,
        crate::queries::concerts,
        crate::queries::drafts,
        crate::queries::concert,
        crate::queries::attendees,
        crate::queries::sales,
        crate::queries::cart,
        crate::queries::orders,
        crate::queries::order,
        crate::payments::order_payment,
        crate::payments::stripe_webhook,
        crate::payments::tickets_pdf,
        crate::exports::attendees_csv,
        crate::events::events,
        crate::events::aggregate_events,
        crate::live::live_events,
    ),
    components(
        schemas(Problem, FieldError),
        responses(
            MalformedRequest,
            UnparsablePathOrKey,
            InvalidQuery,
            InvalidPathOrQuery,
            UnparsablePath,
            Unauthorized,
            Forbidden,
            CustomerDisabled,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            KeyReused,
            Busy,
            RateLimited,
        )
    ),
    modifiers(&BearerSecurity, &RateLimitedCommands),
    tags(
        (name = "venues", description = "Where concerts take place."),
        (name = "concerts", description = "Concerts, their schedule and ticket types."),
        (name = "customers", description = "Disabling a customer, whose purchases are then refused, and enabling them again."),
        (name = "cart", description = "A buyer's held tickets and checkout."),
        (name = "orders", description = "What buyers bought."),
        (name = "tickets", description = "Check-in at the door."),
        (name = "log", description = "The event log, for operators."),
        (name = "operations", description = "Liveness and this document."),
    )
)]
pub struct ApiDoc;

/// A 400 of a command with a body.
#[derive(Debug, ToResponse)]
#[response(
    description = "Malformed JSON, an unparsable path parameter or `Idempotency-Key`.",
    content_type = "application/problem+json"
)]
pub struct MalformedRequest(pub Problem);

/// A 400 of a command without a body.
#[derive(Debug, ToResponse)]
#[response(
    description = "An unparsable path parameter or `Idempotency-Key`.",
    content_type = "application/problem+json"
)]
pub struct UnparsablePathOrKey(pub Problem);

/// A 400 of a listing.
#[derive(Debug, ToResponse)]
#[response(
    description = "Invalid query parameters, each named in `errors`.",
    content_type = "application/problem+json"
)]
pub struct InvalidQuery(pub Problem);

/// A 400 of a paged list under an id.
#[derive(Debug, ToResponse)]
#[response(
    description = "An unparsable path parameter, or invalid query parameters, each named in `errors`.",
    content_type = "application/problem+json"
)]
pub struct InvalidPathOrQuery(pub Problem);

/// A 400 of a read by id.
#[derive(Debug, ToResponse)]
#[response(description = "An unparsable path parameter.", content_type = "application/problem+json")]
pub struct UnparsablePath(pub Problem);

/// A 401 of an operation that requires a token.
#[derive(Debug, ToResponse)]
#[response(
    description = "No bearer token, or one that is not valid (see `WWW-Authenticate`).",
    content_type = "application/problem+json"
)]
pub struct Unauthorized(pub Problem);

/// A 403 of an administrators' operation.
#[derive(Debug, ToResponse)]
#[response(description = "The caller is not an administrator.", content_type = "application/problem+json")]
pub struct Forbidden(pub Problem);

/// A 403 of a buyer's command.
#[derive(Debug, ToResponse)]
#[response(description = "An organiser has disabled this customer.", content_type = "application/problem+json")]
pub struct CustomerDisabled(pub Problem);

/// A 404 of a command.
#[derive(Debug, ToResponse)]
#[response(description = "Something the command names does not exist.", content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// A 409 of a command.
#[derive(Debug, ToResponse)]
#[response(description = "The current state refuses the command.", content_type = "application/problem+json")]
pub struct Conflict(pub Problem);

/// A 413 of a command with a body.
#[derive(Debug, ToResponse)]
#[response(description = "The body is larger than 64 KiB.", content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub Problem);

/// A 415 of a command with a body.
#[derive(Debug, ToResponse)]
#[response(description = "The body is not sent as `application/json`.", content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub Problem);

/// A 422 of a command.
#[derive(Debug, ToResponse)]
#[response(
    description = "The body has missing, unknown or invalid fields (each named in `errors`), the command is invalid \
                   whatever the state, or the `Idempotency-Key` was used for a different request.",
    content_type = "application/problem+json"
)]
pub struct Unprocessable(pub Problem);

/// A 422 of a command that is otherwise never refused as invalid.
#[derive(Debug, ToResponse)]
#[response(
    description = "The `Idempotency-Key` was used for a different request (another method, path or body).",
    content_type = "application/problem+json"
)]
pub struct KeyReused(pub Problem);

/// A 503 of a command.
#[derive(Debug, ToResponse)]
#[response(
    description = "Too many concurrent changes; retry after `Retry-After` seconds with the same `Idempotency-Key`.",
    content_type = "application/problem+json"
)]
pub struct Busy(pub Problem);

/// A 429 of a command.
#[derive(Debug, ToResponse)]
#[response(
    description = "The caller sent more commands than the server takes from one caller; retry after \
                   `Retry-After` seconds.",
    content_type = "application/problem+json"
)]
pub struct RateLimited(pub Problem);

/// Adds the 429 [`RateLimited`] to every command (POST, PUT, PATCH, DELETE): the edge limits each caller's
/// commands before any handler runs (`edge::limit_commands`), so no handler lists it itself.
#[derive(Debug)]
struct RateLimitedCommands;

impl Modify for RateLimitedCommands {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let commands = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in commands.into_iter().flatten() {
                let rate_limited = utoipa::openapi::Ref::from_response_name("RateLimited");
                operation.responses.responses.insert("429".to_owned(), rate_limited.into());
            }
        }
    }
}

/// Adds the bearer JWT scheme: Cognito-shaped access tokens (see [`crate::auth`]).
#[derive(Debug)]
struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("A Cognito access token (`token_use: access`); administrators are in the `admin` group."))
            .build();
        components.add_security_scheme(BEARER_SCHEME, SecurityScheme::Http(scheme));
    }
}

/// This document, generated from the code.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "The OpenAPI 3.1 document of this API.",
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object))
)]
pub(crate) async fn openapi_json() -> ApiJson<utoipa::openapi::OpenApi> {
    ApiJson(ApiDoc::openapi())
}
