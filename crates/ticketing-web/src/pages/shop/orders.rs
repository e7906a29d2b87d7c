//! The fan's orders, newest first, with each ticket as a QR code.

use askama::Template;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{When, lookup_concerts};
use crate::model::Order;
use crate::money;
use crate::pages::{Ctx, Layout, PageError, Section, render};
use crate::qr::{self, TrustedSvg};

#[derive(Debug, Deserialize)]
pub(super) struct OrdersQuery {
    placed: Option<Uuid>,
    /// Set when the order was paid by the built-in test provider.
    test: Option<u8>,
}

/// A ticket of an order, with its QR code.
#[derive(Debug)]
struct TicketCard {
    code: String,
    qr: Option<TrustedSvg>,
    concert: String,
    concert_href: String,
    starts: Option<When>,
    venue: Option<String>,
    ticket_type: String,
}

/// An order with its tickets.
#[derive(Debug)]
struct OrderCard {
    id: Uuid,
    placed: When,
    total: String,
    tickets: Vec<TicketCard>,
    just_placed: bool,
    /// Where its payment stands, for an order that is not simply paid.
    unpaid: Option<&'static str>,
    /// Where an order awaiting payment is paid.
    pay_href: Option<String>,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<OrderCard>,
}

pub(super) async fn orders_page(ctx: Ctx, query: Result<Query<OrdersQuery>, QueryRejection>) -> Response {
    let (placed, test) = query.ok().map_or((None, false), |Query(query)| (query.placed, query.test.is_some()));
    let page = show_orders(&ctx, placed, test).await;
    ctx.finish(page)
}

async fn show_orders(ctx: &Ctx, placed: Option<Uuid>, test: bool) -> Result<Response, PageError> {
    let session = ctx.session()?;
    let orders: Vec<Order> = ctx.state.api().get_all("/orders", Some(&session.token)).await?;
    let concert_ids = orders.iter().flat_map(|order| order.tickets.iter().map(|ticket| ticket.concert_id));
    let concerts = lookup_concerts(ctx, concert_ids.collect()).await?;
    let placed_status =
        placed.and_then(|id| orders.iter().find(|order| order.id == id)).map(|order| order.status.clone());
    let orders = orders
        .into_iter()
        .map(|order| OrderCard {
            pay_href: (order.status == "pendingPayment").then(|| format!("/shop/orders/{}/pay", order.id)),
            id: order.id,
            placed: When::new(ctx.zone, order.placed_at),
            total: money::format(&order.total),
            just_placed: placed == Some(order.id),
            unpaid: match order.status.as_str() {
                "pendingPayment" => Some("Awaiting payment: its tickets are held for 10 minutes."),
                "failed" => Some("The payment failed: its tickets went back on sale."),
                "expired" => Some("Not paid in time: its tickets went back on sale."),
                "refunded" => Some("Its concert was cancelled: the order was paid back and its tickets are void."),
                _ => None,
            },
            tickets: order
                .tickets
                .into_iter()
                .map(|ticket| {
                    let concert = concerts.get(&ticket.concert_id);
                    let qr = qr::ticket_svg(&ticket.code)
                        .inspect_err(|error| tracing::warn!(%error, "a ticket code could not be drawn"))
                        .ok();
                    TicketCard {
                        qr,
                        concert: concert.map_or_else(|| "A concert".to_owned(), |concert| concert.name.clone()),
                        concert_href: format!("/shop/concerts/{}", ticket.concert_id),
                        starts: concert.and_then(|concert| concert.starts_at).map(|starts| When::new(ctx.zone, starts)),
                        venue: concert.map(|concert| format!("{}, {}", concert.venue.name, concert.venue.city)),
                        ticket_type: concert
                            .and_then(|concert| concert.ticket_type(ticket.ticket_type_id))
                            .map_or_else(|| "Ticket".to_owned(), |ticket_type| ticket_type.name.clone()),
                        code: ticket.code,
                    }
                })
                .collect(),
        })
        .collect();
    let mut layout = ctx.layout("My orders", Section::Orders);
    layout.notice = match (placed.is_some(), placed_status.as_deref()) {
        (false, _) => None,
        (true, _) if test => Some(
            "Thank you! Your order is placed and paid by the shop's test provider: no money was taken. Show a \
             ticket's QR code at the door.",
        ),
        (true, Some("paid")) => Some("Thank you! Your order is paid. Show a ticket's QR code at the door."),
        (true, Some("pendingPayment")) => Some("Your order is placed and awaits payment."),
        (true, _) => Some("Your order is placed."),
    }
    .map(str::to_owned);
    render(&OrdersPage { layout, orders }, StatusCode::OK)
}
