//! The queries over what was bought: orders with their tickets, newest
//! first, and a concert's attendees by ticket code, whole or a page at a
//! time. Pages are keyset pages with the cursors every backend hands out
//! (`ticketing_app::queries::encode_cursor`): an order's is its time placed
//! and id, an attendee's its ticket code and order id. Each function runs on
//! the read connection of [`SqliteQueries`].

use es_core::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use ticketing::{ConcertId, CustomerId, OrderId, TicketCode};
use ticketing_app::queries::{
    AttendeeQueries, AttendeeView, OrderQueries, OrderStatus, OrderTicketView, OrderView, Page, QueryError,
    decode_cursor, encode_cursor, page, page_size,
};
use uuid::Uuid;

use super::{SqliteQueries, money_at, optional_time_at, store, time_at, uuid_at};
use crate::rows::time;

const ORDER_COLUMNS: &str = "order_id, customer_id, total_amount, currency, placed_at, status";

const ATTENDEE_COLUMNS: &str = "ticket_code, order_id, customer_id, ticket_type_id, checked_in_at";

/// A customer's orders, or everyone's for `None`, newest first.
pub(crate) fn orders(connection: &Connection, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError> {
    let orders = connection
        .prepare_cached(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE ?1 IS NULL OR customer_id = ?1 \
             ORDER BY placed_at DESC, order_id DESC"
        ))
        .and_then(|mut statement| {
            statement.query_map([customer.map(|customer| customer.to_string())], order_row)?.collect()
        })
        .map_err(store)?;
    with_tickets(connection, orders)
}

/// A page of [`orders`] after the order a cursor named (`after`: its time
/// placed and id).
pub(crate) fn orders_page(
    connection: &Connection,
    customer: Option<CustomerId>,
    after: Option<(String, Uuid)>,
    limit: u32,
) -> Result<Page<OrderView>, QueryError> {
    let (key, id) = after.map_or((None, None), |(key, id)| (Some(key), Some(id.to_string())));
    let rows: Vec<(OrderView, String)> = connection
        .prepare_cached(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE (?1 IS NULL OR customer_id = ?1) \
             AND (?2 IS NULL OR placed_at < ?2 OR (placed_at = ?2 AND order_id < ?3)) \
             ORDER BY placed_at DESC, order_id DESC LIMIT ?4"
        ))
        .and_then(|mut statement| {
            let customer = customer.map(|customer| customer.to_string());
            statement.query_map(params![customer, key, id, i64::from(limit) + 1], order_row)?.collect()
        })
        .map_err(store)?;
    let rows = page(rows, limit, |(order, _)| encode_cursor(&time(order.placed_at), order.id.0));
    Ok(Page { items: with_tickets(connection, rows.items)?, next_cursor: rows.next_cursor })
}

/// One order.
pub(crate) fn order(connection: &Connection, id: OrderId) -> Result<Option<OrderView>, QueryError> {
    let found = connection
        .query_row(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ?1"), [id.to_string()], order_row)
        .optional()
        .map_err(store)?;
    Ok(with_tickets(connection, found.into_iter().collect())?.pop())
}

/// A concert's ticket holders, by ticket code.
pub(crate) fn attendees(connection: &Connection, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError> {
    connection
        .prepare_cached(&format!(
            "SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE concert_id = ?1 AND refunded = 0 ORDER BY ticket_code"
        ))
        .and_then(|mut statement| statement.query_map([concert_id.to_string()], attendee_row)?.collect())
        .map_err(store)
}

/// A page of [`attendees`] after the ticket code a cursor named (`after`;
/// codes are unique, so the order id beside it only completes the cursor).
pub(crate) fn attendees_page(
    connection: &Connection,
    concert_id: ConcertId,
    after: Option<(String, Uuid)>,
    limit: u32,
) -> Result<Page<AttendeeView>, QueryError> {
    let code = after.map(|(code, _)| code);
    let rows = connection
        .prepare_cached(&format!(
            "SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE concert_id = ?1 AND refunded = 0 AND (?2 IS NULL OR ticket_code > ?2) \
             ORDER BY ticket_code LIMIT ?3"
        ))
        .and_then(|mut statement| {
            statement.query_map(params![concert_id.to_string(), code, i64::from(limit) + 1], attendee_row)?.collect()
        })
        .map_err(store)?;
    Ok(page(rows, limit, |attendee: &AttendeeView| encode_cursor(&attendee.ticket_code, attendee.order_id.0)))
}

/// Fills in the tickets of orders read by [`order_row`].
fn with_tickets(connection: &Connection, orders: Vec<(OrderView, String)>) -> Result<Vec<OrderView>, QueryError> {
    let mut statement = connection
        .prepare_cached("SELECT code, concert_id, ticket_type_id FROM order_tickets WHERE order_id = ?1 ORDER BY seq")
        .map_err(store)?;
    let mut result = Vec::with_capacity(orders.len());
    for (mut order, id) in orders {
        order.tickets = statement
            .query_map([id], |row| {
                Ok(OrderTicketView {
                    code: row.get(0)?,
                    concert_id: ConcertId(uuid_at(row, 1)?),
                    ticket_type_id: ticketing::TicketTypeId(uuid_at(row, 2)?),
                })
            })
            .and_then(Iterator::collect)
            .map_err(store)?;
        result.push(order);
    }
    Ok(result)
}

/// An order without its tickets, and its id as stored.
fn order_row(row: &Row<'_>) -> rusqlite::Result<(OrderView, String)> {
    let id: String = row.get(0)?;
    let order = OrderView {
        id: OrderId(uuid_at(row, 0)?),
        customer_id: CustomerId(uuid_at(row, 1)?),
        status: status_at(row, 5)?,
        total: money_at(row, 2, 3)?,
        tickets: Vec::new(),
        placed_at: time_at(row, 4)?,
    };
    Ok((order, id))
}

/// An order's status as stored.
fn status_at(row: &Row<'_>, index: usize) -> rusqlite::Result<OrderStatus> {
    let text: String = row.get(index)?;
    OrderStatus::parse(&text).ok_or_else(|| {
        let error = format!("order status {text:?}");
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error.into())
    })
}

fn attendee_row(row: &Row<'_>) -> rusqlite::Result<AttendeeView> {
    Ok(AttendeeView {
        ticket_code: row.get(0)?,
        order_id: OrderId(uuid_at(row, 1)?),
        customer_id: CustomerId(uuid_at(row, 2)?),
        ticket_type_id: ticketing::TicketTypeId(uuid_at(row, 3)?),
        checked_in_at: optional_time_at(row, 4)?,
    })
}

#[async_trait]
impl OrderQueries for SqliteQueries {
    async fn orders(&self, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError> {
        self.read(move |connection| orders(connection, customer)).await
    }

    async fn orders_page(
        &self,
        customer: Option<CustomerId>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<OrderView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        self.read(move |connection| orders_page(connection, customer, after, limit)).await
    }

    async fn order(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        self.read(move |connection| order(connection, id)).await
    }

    async fn ticket_order(&self, code: &TicketCode) -> Result<Option<OrderId>, QueryError> {
        let code = code.as_str().to_owned();
        self.read(move |connection| {
            connection
                .query_row("SELECT order_id FROM attendees WHERE ticket_code = ?1", [code], |row| uuid_at(row, 0))
                .optional()
                .map(|found| found.map(OrderId))
                .map_err(store)
        })
        .await
    }
}

#[async_trait]
impl AttendeeQueries for SqliteQueries {
    async fn attendees(&self, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError> {
        self.read(move |connection| attendees(connection, concert_id)).await
    }

    async fn attendees_page(
        &self,
        concert_id: ConcertId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<AttendeeView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        self.read(move |connection| attendees_page(connection, concert_id, after, limit)).await
    }
}
