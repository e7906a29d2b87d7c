//! What an order's events do to the read models of what was bought: orders
//! with their tickets, attendees for the door, and daily sales. An order is
//! listed from its placing, with where its payment stands; its tickets, its
//! attendees and its sales count only once they are valid (placed paid, or
//! paid later), and until they are paid back (their concert was cancelled:
//! the sales report shows the refund on its day).

use sqlx_core::query::query;
use sqlx_postgres::PgConnection;
use ticketing::{OrderEvent, OrderStatus, PaidTickets};

use super::Id;
use crate::rows::{Refusal, int, one_row};

pub(super) async fn order(
    connection: &mut PgConnection,
    order_id: Id,
    version: i64,
    fact: OrderEvent,
) -> Result<(), Refusal> {
    let touches_tickets = matches!(fact, OrderEvent::Refunded { .. } | OrderEvent::TicketCheckedIn { .. });
    if let OrderEvent::Placed { customer_id, total, placed_at, .. } = &fact {
        let status = fact.status_after().unwrap_or(OrderStatus::Paid);
        query(
            "INSERT INTO orders (order_id, customer_id, total_amount, currency, placed_at, status, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(order_id)
        .bind(customer_id.0)
        .bind(int(total.amount)?)
        .bind(total.currency.as_str().to_owned())
        .bind(*placed_at)
        .bind(status.as_str())
        .bind(version)
        .execute(&mut *connection)
        .await?;
    }
    let moved = fact.status_after().filter(|_| !matches!(fact, OrderEvent::Placed { .. }));
    if let Some(status) = moved {
        let changed = query("UPDATE orders SET status = $2, version = $3 WHERE order_id = $1")
            .bind(order_id)
            .bind(status.as_str())
            .bind(version)
            .execute(&mut *connection)
            .await?
            .rows_affected();
        one_row(changed, "paying an unknown order")?;
    }
    if let Some(PaidTickets { lines, .. }) = fact.paid_tickets() {
        // Nested loops, not an iterator chain: the future must stay `Send`.
        let mut seq: u64 = 0;
        for line in lines {
            for code in &line.ticket_codes {
                query(
                    "INSERT INTO order_tickets (order_id, code, seq, concert_id, ticket_type_id, version) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(order_id)
                .bind(code.as_str().to_owned())
                .bind(int(seq)?)
                .bind(line.concert_id.0)
                .bind(line.ticket_type_id.0)
                .bind(version)
                .execute(&mut *connection)
                .await?;
                seq += 1;
            }
        }
    }
    if let OrderEvent::Refunded { concert_id, .. } = &fact {
        query("DELETE FROM order_tickets WHERE order_id = $1 AND concert_id = $2")
            .bind(order_id)
            .bind(concert_id.0)
            .execute(&mut *connection)
            .await?;
    }
    if let OrderEvent::TicketCheckedIn { code, checked_in_at } = fact {
        let changed =
            query("UPDATE order_tickets SET checked_in_at = $3, version = $4 WHERE order_id = $1 AND code = $2")
                .bind(order_id)
                .bind(code.as_str().to_owned())
                .bind(checked_in_at)
                .bind(version)
                .execute(&mut *connection)
                .await?
                .rows_affected();
        one_row(changed, "checking in an unknown ticket")?;
    }
    // A change to its tickets is a change to the order: its row carries that event's version.
    if touches_tickets {
        query("UPDATE orders SET version = $2 WHERE order_id = $1")
            .bind(order_id)
            .bind(version)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

pub(super) async fn attendees(
    connection: &mut PgConnection,
    order_id: Id,
    version: i64,
    fact: OrderEvent,
) -> Result<(), Refusal> {
    if let Some(PaidTickets { customer_id, lines, .. }) = fact.paid_tickets() {
        for line in lines {
            for code in &line.ticket_codes {
                query(
                    "INSERT INTO attendees (ticket_code, concert_id, order_id, customer_id, ticket_type_id, \
                     version) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(code.as_str().to_owned())
                .bind(line.concert_id.0)
                .bind(order_id)
                .bind(customer_id.0)
                .bind(line.ticket_type_id.0)
                .bind(version)
                .execute(&mut *connection)
                .await?;
            }
        }
    }
    if let OrderEvent::Refunded { concert_id, .. } = &fact {
        query("UPDATE attendees SET refunded = true, version = $3 WHERE order_id = $1 AND concert_id = $2")
            .bind(order_id)
            .bind(concert_id.0)
            .bind(version)
            .execute(&mut *connection)
            .await?;
    }
    if let OrderEvent::TicketCheckedIn { code, checked_in_at } = fact {
        let changed =
            query("UPDATE attendees SET checked_in_at = $3, version = $4 WHERE ticket_code = $1 AND order_id = $2")
                .bind(code.as_str().to_owned())
                .bind(order_id)
                .bind(checked_in_at)
                .bind(version)
                .execute(&mut *connection)
                .await?
                .rows_affected();
        one_row(changed, "checking in an unknown ticket")?;
    }
    Ok(())
}

/// Adds a paid order's lines to its concerts' days (the day it was paid),
/// at the prices paid, and a refund's lines to the day it was paid back.
/// Every other order event only moves the version guard.
pub(super) async fn sales(connection: &mut PgConnection, fact: OrderEvent) -> Result<(), Refusal> {
    let (lines, day, refund) = match (fact.paid_tickets(), &fact) {
        (Some(PaidTickets { lines, paid_at, .. }), _) => (lines, paid_at, false),
        (None, OrderEvent::Refunded { lines, refunded_at, .. }) => (lines.as_slice(), *refunded_at, true),
        _ => return Ok(()),
    };
    let day = day.date_naive();
    for line in lines {
        let money = line.unit_price.times(line.quantity)?;
        let (count, amount) = (i64::from(line.quantity.get()), int(money.amount)?);
        let (sold, refunded) = if refund { ((0, 0), (count, amount)) } else { ((count, amount), (0, 0)) };
        let changed = query(
            "INSERT INTO sales (concert_id, day, currency, tickets, revenue_amount, tickets_refunded, \
             refunded_amount) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (concert_id, day) DO UPDATE SET \
             tickets = sales.tickets + excluded.tickets, \
             revenue_amount = sales.revenue_amount + excluded.revenue_amount, \
             tickets_refunded = sales.tickets_refunded + excluded.tickets_refunded, \
             refunded_amount = sales.refunded_amount + excluded.refunded_amount \
             WHERE sales.currency = excluded.currency",
        )
        .bind(line.concert_id.0)
        .bind(day)
        .bind(money.currency.as_str().to_owned())
        .bind(sold.0)
        .bind(sold.1)
        .bind(refunded.0)
        .bind(refunded.1)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        one_row(changed, "a sale in a second currency for one concert")?;
    }
    Ok(())
}
