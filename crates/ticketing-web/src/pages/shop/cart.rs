//! The cart: its items with their holds counting down, removing one, and checkout, which leads to the orders
//! page, or to the payment page (`pay.rs`) when the order is paid by card.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::{When, lookup_concerts};
use crate::api::{ApiError, Command};
use crate::dates::{countdown, remaining};
use crate::messages::Message;
use crate::model::{Cart, CheckedOut};
use crate::money;
use crate::pages::{Ctx, Layout, PageError, Section, render, see_other};

/// What the cart page confirms after a redirect; a fixed set, so the query string cannot put words on the page.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CartDone {
    Added,
    Removed,
}

#[derive(Debug, Deserialize)]
pub(super) struct CartQuery {
    done: Option<CartDone>,
}

/// A line of the cart.
#[derive(Debug)]
struct CartLine {
    id: Uuid,
    concert: String,
    concert_href: String,
    starts: Option<When>,
    ticket_type: String,
    quantity: u32,
    unit_price: String,
    line_total: String,
    /// Seconds until the hold runs out, for the script's countdown.
    seconds_left: u64,
    /// The countdown as rendered: "14:59".
    countdown: String,
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    lines: Vec<CartLine>,
    total: Option<String>,
    /// The `Idempotency-Key` of the checkout form.
    key: Uuid,
}

pub(super) async fn cart_page(ctx: Ctx, query: Result<Query<CartQuery>, QueryRejection>) -> Response {
    let done = query.ok().and_then(|Query(query)| query.done);
    let notice = done.map(|done| match done {
        CartDone::Added => "Added to your cart. The tickets are held for you for 15 minutes.",
        CartDone::Removed => "Removed from your cart; the tickets are released.",
    });
    let page = show_cart(&ctx, notice.map(str::to_owned), None, StatusCode::OK).await;
    ctx.finish(page)
}

async fn show_cart(
    ctx: &Ctx,
    notice: Option<String>,
    error: Option<Message>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let session = ctx.session()?;
    let cart: Cart = ctx.state.api().get("/cart", Some(&session.token)).await?;
    let concerts = lookup_concerts(ctx, cart.items.iter().map(|item| item.concert_id).collect()).await?;
    let now = Utc::now();
    let lines = cart
        .items
        .iter()
        .map(|item| {
            let concert = concerts.get(&item.concert_id);
            let left = remaining(now, item.expires_at);
            CartLine {
                id: item.id,
                concert: concert.map_or_else(|| "A concert".to_owned(), |concert| concert.name.clone()),
                concert_href: format!("/shop/concerts/{}", item.concert_id),
                starts: concert.and_then(|concert| concert.starts_at).map(|starts| When::new(ctx.zone, starts)),
                ticket_type: concert
                    .and_then(|concert| concert.ticket_type(item.ticket_type_id))
                    .map_or_else(|| "Tickets".to_owned(), |ticket_type| ticket_type.name.clone()),
                quantity: item.quantity,
                unit_price: money::format(&item.unit_price),
                line_total: money::times(&item.unit_price, item.quantity)
                    .map_or_else(|| "—".to_owned(), |total| money::format(&total)),
                seconds_left: left.as_secs(),
                countdown: countdown(left),
            }
        })
        .collect();
    let mut layout = ctx.layout("Your cart", Section::Cart);
    layout.notice = notice;
    layout.error = error;
    let page = CartPage { layout, lines, total: cart.total.as_ref().map(money::format), key: Uuid::new_v4() };
    render(&page, status)
}

pub(super) async fn remove_from_cart(ctx: Ctx, Path(item_id): Path<Uuid>) -> Response {
    let Some(session) = ctx.session.as_ref() else {
        return ctx.finish(Err(PageError::SignIn { next: "/shop/cart".to_owned() }));
    };
    let command = Command::<()> {
        method: Method::DELETE,
        path: format!("/cart/items/{item_id}"),
        token: &session.token,
        body: None,
        key: None,
    };
    match ctx.state.api().command(command).await {
        Ok(_) => see_other("/shop/cart?done=removed"),
        Err(error) => cart_refusal(&ctx, error).await,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CheckoutForm {
    key: Option<Uuid>,
    /// Where the tickets are mailed once paid; empty: nowhere.
    email: Option<String>,
}

pub(super) async fn checkout(ctx: Ctx, form: Result<Form<CheckoutForm>, FormRejection>) -> Response {
    let Some(session) = ctx.session.as_ref() else {
        return ctx.finish(Err(PageError::SignIn { next: "/shop/cart".to_owned() }));
    };
    let (key, email) = form.map_or((None, None), |Form(form)| (form.key, form.email));
    // The API checks the address; a bad one comes back as its refusal, shown on the cart.
    let body = email.filter(|email| !email.trim().is_empty()).map(|email| serde_json::json!({"email": email.trim()}));
    let command = Command {
        method: Method::POST,
        path: "/cart/checkout".to_owned(),
        token: &session.token,
        body: body.as_ref(),
        key,
    };
    match ctx.state.api().command_json::<serde_json::Value, CheckedOut>(command).await {
        Ok(checked_out) => {
            let (order_id, provider) = (checked_out.order_id, checked_out.payment.provider);
            match provider.as_str() {
                // Paid by card on the next page.
                "stripe" => see_other(&format!("/shop/orders/{order_id}/pay")),
                "test" => see_other(&format!("/shop/orders?placed={order_id}&test=1#order-{order_id}")),
                _ => see_other(&format!("/shop/orders?placed={order_id}#order-{order_id}")),
            }
        }
        Err(error) => cart_refusal(&ctx, error).await,
    }
}

/// The cart again, with the API's refusal as its message.
async fn cart_refusal(ctx: &Ctx, error: ApiError) -> Response {
    match error {
        ApiError::Problem(problem) if problem.status != 401 => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            let page = show_cart(ctx, None, Some(Message::from_problem(&problem)), status).await;
            ctx.finish(page)
        }
        error => ctx.finish(Err(error.into())),
    }
}
