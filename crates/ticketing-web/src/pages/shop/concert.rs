//! A concert's page with its ticket types and live availability, and the form that puts tickets in the cart.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::extract::rejection::FormRejection;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use ticketing::limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX;
use uuid::Uuid;

use super::When;
use crate::api::{ApiError, Command};
use crate::limits::AVAILABILITY_POLL_INTERVAL;
use crate::messages::Message;
use crate::model::{Concert, ConcertProfile, ConcertStatus};
use crate::money;
use crate::pages::{Ctx, Layout, PageError, Section, render, see_other};

/// A ticket type on the concert's page.
#[derive(Debug)]
struct TicketTypeRow {
    id: Uuid,
    name: String,
    price: String,
    available: u32,
    /// The most one purchase may take: what is left, and the domain's limit per purchase.
    max_quantity: u32,
    /// The `Idempotency-Key` of this row's form.
    key: Uuid,
}

#[derive(Template)]
#[template(path = "concert.html")]
struct ConcertPage {
    layout: Layout,
    id: Uuid,
    name: String,
    profile: ConcertProfile,
    venue: String,
    city: String,
    starts: Option<When>,
    ends: Option<String>,
    status: ConcertStatus,
    ticket_types: Vec<TicketTypeRow>,
    signed_in: bool,
    poll_seconds: u64,
    /// The most tickets of this concert one purchase may hold (the domain's limit).
    purchase_max: u32,
}

pub(super) async fn concert_page(ctx: Ctx, Path(concert_id): Path<String>) -> Response {
    let page = match Uuid::try_parse(&concert_id) {
        Ok(concert_id) => show_concert(&ctx, concert_id, None, StatusCode::OK).await,
        Err(_) => Err(PageError::NotFound),
    };
    ctx.finish(page)
}

async fn show_concert(
    ctx: &Ctx,
    concert_id: Uuid,
    error: Option<Message>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let token = ctx.session.as_ref().map(|session| session.token.as_str());
    let concert: Concert = ctx.state.api().get(&format!("/concerts/{concert_id}"), token).await?;
    let mut layout = ctx.layout(&concert.name, Section::Programme);
    layout.error = error;
    let zone = ctx.zone;
    let ticket_types = concert
        .ticket_types
        .iter()
        .map(|ticket_type| TicketTypeRow {
            id: ticket_type.id,
            name: ticket_type.name.clone(),
            price: money::format(&ticket_type.price),
            available: ticket_type.available,
            max_quantity: ticket_type.available.min(TICKETS_PER_CONCERT_PER_PURCHASE_MAX),
            key: Uuid::new_v4(),
        })
        .collect();
    let page = ConcertPage {
        layout,
        id: concert.id,
        name: concert.name,
        profile: concert.profile,
        venue: concert.venue.name,
        city: concert.venue.city,
        starts: concert.starts_at.map(|starts| When::new(zone, starts)),
        ends: concert.ends_at.map(|ends| zone.time(ends)),
        status: concert.status,
        ticket_types,
        signed_in: ctx.session.is_some(),
        poll_seconds: AVAILABILITY_POLL_INTERVAL.as_secs(),
        purchase_max: TICKETS_PER_CONCERT_PER_PURCHASE_MAX,
    };
    render(&page, status)
}

#[derive(Debug, Deserialize)]
pub(super) struct AddToCartForm {
    concert_id: Uuid,
    ticket_type_id: Uuid,
    quantity: String,
    key: Option<Uuid>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AddCartItem {
    concert_id: Uuid,
    ticket_type_id: Uuid,
    quantity: u32,
}

pub(super) async fn add_to_cart(ctx: Ctx, form: Result<Form<AddToCartForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(PageError::Form("Choose a ticket type and how many tickets you want.".to_owned())));
    };
    let back = format!("/shop/concerts/{}", form.concert_id);
    let Some(session) = ctx.session.as_ref() else {
        return ctx.finish(Err(PageError::SignIn { next: back }));
    };
    let quantity = match form.quantity.trim().parse::<u32>() {
        Ok(quantity) if quantity > 0 => quantity,
        _ => {
            let message = Message::new("Enter how many tickets you want, as a whole number from 1.");
            let page = show_concert(&ctx, form.concert_id, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await;
            return ctx.finish(page);
        }
    };
    let body = AddCartItem { concert_id: form.concert_id, ticket_type_id: form.ticket_type_id, quantity };
    let command = Command {
        method: Method::POST,
        path: "/cart/items".to_owned(),
        token: &session.token,
        body: Some(&body),
        key: form.key,
    };
    match ctx.state.api().command(command).await {
        Ok(_) => see_other("/shop/cart?done=added"),
        Err(ApiError::Problem(problem)) if problem.status != 401 => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            let page = show_concert(&ctx, form.concert_id, Some(Message::from_problem(&problem)), status).await;
            ctx.finish(page)
        }
        Err(error) => ctx.finish(Err(error.into())),
    }
}
