//! The payment step of a purchase. Checkout answers with what the buyer's
//! browser needs to pay (the provider's client secret); `GET
//! /orders/{orderId}/payment` gives it again, starting the payment at the
//! provider if checkout could not. The provider says how it went on `POST
//! /payments/stripe/webhook`: signed with the shop's webhook secret, checked
//! before anything else is read, and acted on once however often it comes.
//! A paid order's tickets are at `GET /orders/{orderId}/tickets.pdf`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use ticketing::{CustomerId, OrderId};
use ticketing_app::documents::TicketDocuments;
use ticketing_app::payments::WebhookError;
use ticketing_app::{AppError, OrderPayment, Settlement, Shop};
use utoipa::ToSchema;

use crate::ApiState;
use crate::auth::Caller;
use crate::json::{ApiJson, ApiPath};
use crate::openapi::{Busy, Unauthorized, UnparsablePath};
use crate::paths::OrderPath;
use crate::problem::Problem;

/// How an order is paid.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentView {
    /// Who collects it: `stripe`, or `test` (the built-in provider, which
    /// marks orders paid at checkout) or `none` (nothing to pay).
    #[schema(examples("stripe"))]
    provider: String,
    /// Where the order stands: `pendingPayment`, `paid`, `failed`,
    /// `expired` or `refunded`.
    #[schema(pattern = "^(pendingPayment|paid|failed|expired|refunded)$", examples("pendingPayment"))]
    status: &'static str,
    /// What the provider's script in the buyer's browser needs to take the
    /// payment (Stripe.js's `confirmCardPayment`), while the order awaits
    /// it; absent once it is settled, or while the provider cannot be
    /// reached (ask again).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl From<OrderPayment> for PaymentView {
    fn from(payment: OrderPayment) -> Self {
        PaymentView {
            provider: payment.provider,
            status: payment.status.as_str(),
            client_secret: payment.session.map(|session| session.client_secret),
        }
    }
}

/// The payment of an order just placed: its session, or, when the provider
/// cannot be reached now, the order's status alone; the buyer asks again.
pub(crate) async fn after_checkout(
    shop: &Shop,
    context: &es_core::CommandContext,
    customer: CustomerId,
    order_id: OrderId,
) -> PaymentView {
    match shop.order_payment(context, Some(customer), order_id).await {
        Ok(payment) => payment.into(),
        Err(error) => {
            tracing::warn!(%order_id, error = %error, "the order's payment could not be started at checkout");
            let provider = shop.payments().map_or("test", |provider| provider.name()).to_owned();
            PaymentView { provider, status: ticketing::OrderStatus::PendingPayment.as_str(), client_secret: None }
        }
    }
}

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/orders/{orderId}/payment", get(order_payment))
        .route("/payments/stripe/webhook", post(stripe_webhook))
        .route("/orders/{orderId}/tickets.pdf", get(tickets_pdf))
        .route("/concerts/{concertId}/attendees.csv", get(crate::exports::attendees_csv))
}

#[utoipa::path(
    get,
    path = "/orders/{orderId}/tickets.pdf",
    tag = "orders",
    summary = "The tickets of a paid order of the caller as a PDF: one page per ticket, with its QR code.",
    params(OrderPath),
    responses(
        (status = 200, description = "The tickets.", content_type = "application/pdf", body = Vec<u8>),
        (status = 400, response = UnparsablePath),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No paid order of the caller has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = Busy)
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn tickets_pdf(
    caller: Caller,
    State(shop): State<Arc<Shop>>,
    State(documents): State<Option<Arc<dyn TicketDocuments>>>,
    ApiPath(path): ApiPath<OrderPath>,
) -> Result<Response, Problem> {
    let Some(documents) = documents else {
        return Err(Problem::not_found("This shop draws no tickets as PDF."));
    };
    let customer = (!caller.admin).then_some(CustomerId(caller.user_id));
    let sheet = match shop.ticket_sheet(customer, OrderId(path.order_id)).await {
        Ok(sheet) => sheet,
        Err(AppError::NotFound(_)) => return Err(Problem::not_found("No paid order of yours has this id.")),
        Err(error) => return Err(error.into()),
    };
    let pdf = documents.tickets_pdf(&sheet).map_err(|error| Problem::internal_error(&error))?;
    let disposition = format!("inline; filename=\"tickets-{}.pdf\"", path.order_id);
    Ok(([(CONTENT_TYPE, "application/pdf".to_owned()), (CONTENT_DISPOSITION, disposition)], pdf).into_response())
}

#[utoipa::path(
    get,
    path = "/orders/{orderId}/payment",
    tag = "orders",
    summary = "Shows how an order of the caller is paid, starting its payment at the provider if needed.",
    params(OrderPath),
    responses(
        (status = 200, description = "The payment.", body = PaymentView),
        (status = 400, response = UnparsablePath),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No order of the caller has this id.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The payment provider refused to take this payment.", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = Busy)
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn order_payment(
    caller: Caller,
    State(shop): State<Arc<Shop>>,
    ApiPath(path): ApiPath<OrderPath>,
) -> Result<ApiJson<PaymentView>, Problem> {
    let customer = (!caller.admin).then_some(CustomerId(caller.user_id));
    let context = es_core::CommandContext::default();
    match shop.order_payment(&context, customer, OrderId(path.order_id)).await {
        Ok(payment) => Ok(ApiJson(payment.into())),
        Err(AppError::NotFound(_)) => Err(Problem::not_found("No order of yours has this id.")),
        Err(error) => Err(error.into()),
    }
}

/// What a notification did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NoticeTaken {
    /// `paid`, `failed`, `repeated` (handled before), `returned` (the money
    /// came too late and was paid back) or `ignored` (not about an order of
    /// this shop).
    #[schema(examples("paid"))]
    outcome: &'static str,
}

#[utoipa::path(
    post,
    path = "/payments/stripe/webhook",
    tag = "payments",
    summary = "Takes a notification from Stripe about a payment (signed with the shop's webhook secret).",
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the body: `t=<unix time>,v1=<HMAC-SHA256>`.")),
    request_body(content = String, content_type = "application/json", description = "A Stripe event, exactly as sent."),
    responses(
        (status = 200, description = "The notification was taken.", body = NoticeTaken),
        (status = 400, description = "The signature is missing, wrong or too old, or the body is not a Stripe event.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The shop takes no payments from Stripe.", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = Busy)
    ),
)]
pub(crate) async fn stripe_webhook(
    State(shop): State<Arc<Shop>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiJson<NoticeTaken>, Problem> {
    let Some(provider) = shop.payments().filter(|provider| provider.name() == "stripe") else {
        return Err(Problem::not_found("This shop takes no payments from Stripe."));
    };
    let signature = headers.get("stripe-signature").and_then(|value| value.to_str().ok());
    let notice = match provider.verify_notice(signature, &body, chrono::Utc::now()) {
        Ok(Some(notice)) => notice,
        Ok(None) => return Ok(ApiJson(NoticeTaken { outcome: "ignored" })),
        Err(WebhookError::BadSignature) => {
            return Err(Problem::bad_request("The Stripe-Signature header is missing, wrong or too old."));
        }
        Err(WebhookError::Malformed(why)) => {
            return Err(Problem::bad_request(format!("The notification cannot be read: {why}.")));
        }
    };
    let outcome = match shop.settle_payment(&notice).await {
        Ok(Settlement::Paid) => "paid",
        Ok(Settlement::Failed) => "failed",
        Ok(Settlement::Repeated) => "repeated",
        Ok(Settlement::Returned) => "returned",
        // Signed by this shop's secret but about no order of it: nothing to do,
        // and nothing to retry.
        Err(AppError::NotFound(_)) => "ignored",
        Err(error) => return Err(error.into()),
    };
    tracing::info!(notice = %notice.notice_id, order_id = %notice.order_id, outcome, "payment notice taken");
    Ok(ApiJson(NoticeTaken { outcome }))
}
