//! Paying for an order by card, where checkout leads when the shop takes payments with Stripe. The page shows what
//! is due and mounts Stripe.js's card form (`assets/pay.js`); the card goes from the browser to Stripe, never here.
//! Whether the order is paid is not the script's word but the API's, which learns it from Stripe's signed
//! notification: the script follows the order through `status`, and the page, loaded again, shows where the
//! order stands (a paid one sends the buyer on to their orders). Without script the page says that paying needs
//! it, because Stripe's card form does.
//!
//! The order's state is read from the read side (`GET /orders/{id}`), as the orders page reads it, so that the
//! orders page shows an order paid once this page saw it paid; only a pending order's page asks the API for its
//! payment (`GET /orders/{id}/payment`), which asks Stripe.

use askama::Template;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use crate::api::ApiError;
use crate::assets;
use crate::limits::PAYMENT_POLL_INTERVAL;
use crate::messages::Message;
use crate::model::{Order, OrderPayment};
use crate::money;
use crate::pages::{Ctx, Layout, PageError, Section, render, see_other};

/// The card form: what the script needs to mount Stripe.js and pay.
#[derive(Debug)]
struct CardForm {
    script_url: String,
    pay_js: String,
    publishable_key: String,
    client_secret: String,
    status_url: String,
    poll_seconds: u64,
}

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage {
    layout: Layout,
    total: String,
    /// Set while the order can be paid here.
    card: Option<CardForm>,
    /// Where the order stands when it cannot be paid here (now).
    standing: Option<&'static str>,
    /// Whether its tickets went back on sale (the buyer starts again).
    gone: bool,
}

/// Where a paid order is shown.
fn paid_href(order_id: Uuid) -> String {
    format!("/shop/orders?placed={order_id}#order-{order_id}")
}

pub(super) async fn pay_page(ctx: Ctx, order_id: Result<Path<Uuid>, PathRejection>) -> Response {
    let Ok(Path(order_id)) = order_id else {
        return ctx.finish(Err(PageError::NotFound));
    };
    let page = show(&ctx, order_id).await;
    ctx.finish(page)
}

async fn show(ctx: &Ctx, order_id: Uuid) -> Result<Response, PageError> {
    let session = ctx.session()?;
    let order: Order = match ctx.state.api().get(&format!("/orders/{order_id}"), Some(&session.token)).await {
        Ok(order) => order,
        Err(error) if error.is_status(StatusCode::NOT_FOUND) => return Err(PageError::NotFound),
        Err(error) => return Err(error.into()),
    };
    let mut page = PayPage {
        layout: ctx.layout("Pay for your order", Section::Orders),
        total: money::format(&order.total),
        card: None,
        standing: None,
        gone: false,
    };
    match order.status.as_str() {
        "paid" => return Ok(see_other(&paid_href(order_id))),
        status @ ("failed" | "expired") => {
            page.standing = Some(settled(status));
            page.gone = true;
        }
        _ => match ctx.state.stripe() {
            None => {
                page.standing = Some(
                    "This order awaits payment, but the shop takes no card payments on these pages. Its tickets are \
                     held for 10 minutes after checkout.",
                );
            }
            Some(stripe) => {
                let path = format!("/orders/{order_id}/payment");
                let payment: OrderPayment = match ctx.state.api().get(&path, Some(&session.token)).await {
                    Ok(payment) => payment,
                    Err(ApiError::Problem(problem)) if problem.status == 422 => {
                        page.layout.error = Some(Message::from_problem(&problem));
                        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
                    }
                    Err(error) => return Err(error.into()),
                };
                match (payment.status.as_str(), payment.client_secret) {
                    ("paid", _) => return Ok(see_other(&paid_href(order_id))),
                    ("pendingPayment", Some(client_secret)) if payment.provider == "stripe" => {
                        page.card = Some(CardForm {
                            script_url: stripe.script_url().to_owned(),
                            pay_js: assets::url("pay.js"),
                            publishable_key: stripe.publishable_key().to_owned(),
                            client_secret,
                            status_url: format!("/shop/orders/{order_id}/status"),
                            poll_seconds: PAYMENT_POLL_INTERVAL.as_secs(),
                        });
                        let mut response = render(&page, StatusCode::OK)?;
                        response.headers_mut().insert(CONTENT_SECURITY_POLICY, stripe.policy().clone());
                        return Ok(response);
                    }
                    ("pendingPayment", _) => {
                        page.standing = Some(
                            "The payment service cannot be reached just now. Please reload this page in a moment; \
                             your tickets stay held for 10 minutes after checkout.",
                        );
                    }
                    // Settled between the two reads.
                    (status, _) => {
                        page.standing = Some(settled(status));
                        page.gone = true;
                    }
                }
            }
        },
    }
    render(&page, StatusCode::OK)
}

/// What the page says of an order that can no longer be paid.
fn settled(status: &str) -> &'static str {
    match status {
        "expired" => "The order was not paid in time, so its tickets went back on sale.",
        _ => "The payment failed, so the order is cancelled and its tickets went back on sale. No money was taken.",
    }
}

/// Where an order stands, for the payment page's script: `{"status": "paid"}`; failures as problems.
pub(super) async fn order_status(ctx: Ctx, order_id: Result<Path<Uuid>, PathRejection>) -> Response {
    let Ok(Path(order_id)) = order_id else {
        return problem(StatusCode::BAD_REQUEST, "The order id is not a UUID.");
    };
    let Some(session) = ctx.session.as_ref() else {
        return problem(StatusCode::UNAUTHORIZED, "Sign in to follow your order.");
    };
    match ctx.state.api().get::<Order>(&format!("/orders/{order_id}"), Some(&session.token)).await {
        Ok(order) => {
            let body = json!({ "status": order.status }).to_string();
            let no_store = HeaderValue::from_static("no-store");
            ([(CONTENT_TYPE, HeaderValue::from_static("application/json")), (CACHE_CONTROL, no_store)], body)
                .into_response()
        }
        Err(ApiError::Problem(found)) => {
            let status = StatusCode::from_u16(found.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            problem(status, &Message::from_problem(&found).headline)
        }
        Err(error) => problem(StatusCode::INTERNAL_SERVER_ERROR, &Message::from_api(&error).headline),
    }
}

/// An RFC 7807 problem, as the API writes them.
fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("application/problem+json")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (status, headers, body.to_string()).into_response()
}
