//! The rows the queries read and how they become views: the tuples sqlx decodes, the columns they name, and the
//! checks that turn a number or a word the database holds into a count, an amount or a status (a value that fits
//! none is a corrupt read model, reported as such).

use chrono::{DateTime, Utc};
use ticketing::{ConcertId, Currency, CustomerId, Money, OrderId, TicketTypeId, VenueId};
use ticketing_app::queries::{
    AttendeeView, ConcertStatusView, OrderStatus, OrderTicketView, OrderView, QueryError, VenueView,
};
use uuid::Uuid;

use crate::error::PostgresError;

pub(super) fn corrupt(what: String) -> QueryError {
    PostgresError::Corrupt(what).into()
}

pub(super) fn database(error: sqlx_core::Error) -> QueryError {
    PostgresError::from(error).into()
}

pub(super) fn unsigned(value: i64) -> Result<u64, QueryError> {
    u64::try_from(value).map_err(|_| corrupt(format!("{value} where a count or amount belongs")))
}

pub(super) fn count(value: i64) -> Result<u32, QueryError> {
    u32::try_from(value).map_err(|_| corrupt(format!("{value} where a count belongs")))
}

pub(super) fn money(amount: i64, currency: &str) -> Result<Money, QueryError> {
    let currency = Currency::new(currency).map_err(|error| corrupt(error.to_string()))?;
    Ok(Money::new(unsigned(amount)?, currency))
}

pub(super) fn status(text: &str) -> Result<ConcertStatusView, QueryError> {
    match text {
        "draft" => Ok(ConcertStatusView::Draft),
        "published" => Ok(ConcertStatusView::Published),
        "cancelled" => Ok(ConcertStatusView::Cancelled),
        other => Err(corrupt(format!("concert status {other:?}"))),
    }
}

/// A `LIKE` pattern matching `text` anywhere, lowered as the columns are
/// (ASCII only), its wildcards taken literally.
pub(super) fn containing(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character.to_ascii_lowercase());
    }
    pattern.push('%');
    pattern
}

pub(super) type VenueRow = (Uuid, String, String, String, i64, Option<String>, Option<String>);

pub(super) fn venue_view(
    (id, name, address, city, capacity, description, web_url): VenueRow,
) -> Result<VenueView, QueryError> {
    Ok(VenueView { id: VenueId(id), name, address, city, capacity: count(capacity)?, description, web_url })
}

pub(super) const VENUE_COLUMNS: &str = "venue_id, name, address, city, capacity, description, web_url";

pub(super) type ConcertSummaryRow = (Uuid, String, Option<String>, DateTime<Utc>, DateTime<Utc>, Uuid, String, String);

pub(super) type DraftRow = (Uuid, String, Option<String>, Option<DateTime<Utc>>, Uuid, String, String);

pub(super) type ConcertRow =
    (Uuid, String, String, String, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Uuid, String, String);

pub(super) type TicketTypeRow = (Option<Uuid>, Option<String>, Option<i64>, Option<String>, Option<i64>, Option<i64>);

/// An order's columns, then one ticket's (absent for an order without any).
pub(super) type OrderRow = (Uuid, Uuid, i64, String, DateTime<Utc>, String, Option<String>, Option<Uuid>, Option<Uuid>);

pub(super) const ORDER_SELECT: &str = "SELECT o.order_id, o.customer_id, o.total_amount, o.currency, o.placed_at, \
     o.status, t.code, t.concert_id, t.ticket_type_id FROM orders o LEFT JOIN order_tickets t ON t.order_id = o.order_id";

/// The columns of an attendee, in [`AttendeeRow`]'s order.
pub(super) const ATTENDEE_COLUMNS: &str = "ticket_code, order_id, customer_id, ticket_type_id, checked_in_at";

/// One row of `attendees`.
pub(super) type AttendeeRow = (String, Uuid, Uuid, Uuid, Option<DateTime<Utc>>);

pub(super) fn attendee_view(
    (ticket_code, order_id, customer_id, ticket_type_id, checked_in_at): AttendeeRow,
) -> AttendeeView {
    AttendeeView {
        ticket_code,
        order_id: OrderId(order_id),
        customer_id: CustomerId(customer_id),
        ticket_type_id: TicketTypeId(ticket_type_id),
        checked_in_at,
    }
}

/// Orders from rows sorted by order, then ticket.
pub(super) fn orders_from(rows: Vec<OrderRow>) -> Result<Vec<OrderView>, QueryError> {
    let mut orders: Vec<OrderView> = Vec::new();
    for (id, customer, total, currency, placed_at, status, code, concert, ticket_type) in rows {
        if orders.last().is_none_or(|order| order.id.0 != id) {
            orders.push(OrderView {
                id: OrderId(id),
                customer_id: CustomerId(customer),
                status: OrderStatus::parse(&status).ok_or_else(|| corrupt(format!("order status {status:?}")))?,
                total: money(total, &currency)?,
                tickets: Vec::new(),
                placed_at,
            });
        }
        if let (Some(code), Some(concert), Some(ticket_type), Some(order)) =
            (code, concert, ticket_type, orders.last_mut())
        {
            order.tickets.push(OrderTicketView {
                code,
                concert_id: ConcertId(concert),
                ticket_type_id: TicketTypeId(ticket_type),
            });
        }
    }
    Ok(orders)
}

/// A concert row with one of its ticket types (all `None` without any):
/// more columns than sqlx's tuples decode, so decoded here.
pub(super) struct ConcertAndTicketType(pub(super) ConcertRow, pub(super) TicketTypeRow);

impl<'r> sqlx_core::from_row::FromRow<'r, sqlx_postgres::PgRow> for ConcertAndTicketType {
    fn from_row(row: &'r sqlx_postgres::PgRow) -> Result<Self, sqlx_core::Error> {
        use sqlx_core::row::Row;
        let concert = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
            row.try_get(7)?,
            row.try_get(8)?,
        );
        let ticket_type =
            (row.try_get(9)?, row.try_get(10)?, row.try_get(11)?, row.try_get(12)?, row.try_get(13)?, row.try_get(14)?);
        Ok(Self(concert, ticket_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_pattern_matches_the_text_anywhere_and_takes_wildcards_literally() {
        assert_eq!(containing("CRAB"), "%crab%");
        assert_eq!(containing("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(containing("Éclair"), "%Éclair%", "only ASCII is lowered, as SQLite's lower does");
    }
}
