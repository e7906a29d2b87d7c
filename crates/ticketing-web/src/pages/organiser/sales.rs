//! A concert's sales report: tickets and revenue per day, as two charts and a table, and what was paid back when
//! the concert was cancelled.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::fetch_concert;
use crate::chart::{self, BarChart};
use crate::model::{DaySales, Items};
use crate::money;
use crate::pages::{Ctx, Layout, Section, render};

/// A day of the sales table.
#[derive(Debug)]
struct SalesRow {
    day: String,
    tickets: u64,
    revenue: String,
    /// Tickets paid back that day, and the amount.
    refunded: (u64, String),
}

#[derive(Template)]
#[template(path = "organiser/sales.html")]
struct SalesPage {
    layout: Layout,
    id: Uuid,
    concert: String,
    /// Tickets per day, and revenue per day.
    charts: [BarChart; 2],
    rows: Vec<SalesRow>,
    tickets_total: u64,
    revenue_total: String,
    /// Tickets paid back, and the amount; `None` when nothing was.
    refunded_total: Option<(u64, String)>,
    width: u32,
    height: u32,
}

pub(super) async fn sales_page(ctx: Ctx, Path(concert_id): Path<Uuid>) -> Response {
    let page = async {
        let session = ctx.organiser()?;
        let concert = fetch_concert(&ctx, concert_id).await?;
        let sales: Items<DaySales> =
            ctx.state.api().get(&format!("/concerts/{concert_id}/sales"), Some(&session.token)).await?;
        let currency = sales
            .items
            .first()
            .map(|sale| sale.revenue.currency.clone())
            .or_else(|| concert.ticket_types.first().map(|ticket_type| ticket_type.price.currency.clone()))
            .unwrap_or_else(|| "EUR".to_owned());
        let days = chart::days(&sales.items);
        let (tickets_chart, revenue_chart) = chart::sales_charts(&days, &currency);
        let tickets_total = sales.items.iter().map(|sale| sale.tickets_sold).sum();
        let revenue_total: u64 = sales.items.iter().map(|sale| sale.revenue.amount).sum();
        let tickets_refunded: u64 = sales.items.iter().map(|sale| sale.tickets_refunded).sum();
        let refunded: u64 =
            sales.items.iter().filter_map(|sale| sale.refunded.as_ref()).map(|money| money.amount).sum();
        let in_currency = |amount| money::format(&crate::model::Money { amount, currency: currency.clone() });
        let refunded_total = (tickets_refunded > 0).then(|| (tickets_refunded, in_currency(refunded)));
        let rows = sales
            .items
            .iter()
            .rev()
            .map(|sale| SalesRow {
                day: sale.day.format("%a %-d %b %Y").to_string(),
                tickets: sale.tickets_sold,
                revenue: money::format(&sale.revenue),
                refunded: (sale.tickets_refunded, in_currency(sale.refunded.as_ref().map_or(0, |money| money.amount))),
            })
            .collect();
        let page = SalesPage {
            layout: ctx.layout(&format!("Sales of {}", concert.name), Section::Concerts),
            id: concert_id,
            concert: concert.name,
            charts: [tickets_chart, revenue_chart],
            rows,
            tickets_total,
            revenue_total: in_currency(revenue_total),
            refunded_total,
            width: chart::WIDTH,
            height: chart::HEIGHT,
        };
        render(&page, StatusCode::OK)
    };
    let page = page.await;
    ctx.finish(page)
}
