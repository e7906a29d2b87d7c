//! Orders with their tickets. An order is listed from its placing, with
//! where its payment stands; its tickets only once they are valid (placed
//! paid, or paid later), so no code is shown before it is paid for, and
//! until they are paid back (their concert was cancelled).

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::params;
use ticketing::{OrderEvent, OrderStatus, PaidTickets};

use super::ORDERS;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, one_row, time};

/// Orders with their tickets.
#[derive(Debug, Default)]
pub struct OrdersProjector;

const ORDER_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "orders",
        columns: "order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, total_amount INTEGER NOT NULL, \
                  currency TEXT NOT NULL, placed_at TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL",
        indexes: &["customer_id, placed_at", "placed_at"],
    },
    TableSpec {
        name: "order_tickets",
        columns: "order_id TEXT NOT NULL, code TEXT NOT NULL, seq INTEGER NOT NULL, concert_id TEXT NOT NULL, \
                  ticket_type_id TEXT NOT NULL, checked_in_at TEXT, version INTEGER NOT NULL, \
                  PRIMARY KEY (order_id, code)",
        indexes: &["order_id, seq"],
    },
    applied_table("orders_applied"),
];

impl SqliteProjector for OrdersProjector {
    fn name(&self) -> &str {
        ORDERS
    }

    fn tables(&self) -> &[TableSpec] {
        ORDER_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Order(fact)) = decode(event, &[Kind::Order])? else {
            return Ok(());
        };
        if !admit(tables, "orders_applied", event)? {
            return Ok(());
        }
        let orders = tables.name("orders");
        let tickets = tables.name("order_tickets");
        let order_id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        let touches_tickets = matches!(fact, OrderEvent::Refunded { .. } | OrderEvent::TicketCheckedIn { .. });
        if let OrderEvent::Placed { customer_id, total, placed_at, .. } = &fact {
            let status = fact.status_after().unwrap_or(OrderStatus::Paid);
            execute(
                connection,
                &format!(
                    "INSERT INTO {orders} (order_id, customer_id, total_amount, currency, placed_at, status, version) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    order_id,
                    customer_id.to_string(),
                    int(total.amount)?,
                    total.currency.as_str(),
                    time(*placed_at),
                    status.as_str(),
                    version
                ],
            )?;
        }
        let moved = fact.status_after().filter(|_| !matches!(fact, OrderEvent::Placed { .. }));
        if let Some(status) = moved {
            let changed = execute(
                connection,
                &format!("UPDATE {orders} SET status = ?2, version = ?3 WHERE order_id = ?1"),
                params![order_id, status.as_str(), version],
            )?;
            one_row(changed, "paying an unknown order")?;
        }
        if let Some(PaidTickets { lines, .. }) = fact.paid_tickets() {
            {
                let mut insert = connection.prepare_cached(&format!(
                    "INSERT INTO {tickets} (order_id, code, seq, concert_id, ticket_type_id, version) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))?;
                let codes = lines.iter().flat_map(|line| line.ticket_codes.iter().map(move |code| (line, code)));
                for (seq, (line, code)) in codes.enumerate() {
                    insert.execute(params![
                        order_id,
                        code.as_str(),
                        int(seq as u64)?,
                        line.concert_id.to_string(),
                        line.ticket_type_id.to_string(),
                        version
                    ])?;
                }
            }
        }
        if let OrderEvent::Refunded { concert_id, .. } = &fact {
            execute(
                connection,
                &format!("DELETE FROM {tickets} WHERE order_id = ?1 AND concert_id = ?2"),
                params![order_id, concert_id.to_string()],
            )?;
        }
        if let OrderEvent::TicketCheckedIn { code, checked_in_at } = fact {
            let changed = execute(
                connection,
                &format!("UPDATE {tickets} SET checked_in_at = ?3, version = ?4 WHERE order_id = ?1 AND code = ?2"),
                params![order_id, code.as_str(), time(checked_in_at), version],
            )?;
            one_row(changed, "checking in an unknown ticket")?;
        }
        // A change to its tickets is a change to the order: its row carries that event's version.
        if touches_tickets {
            execute(
                connection,
                &format!("UPDATE {orders} SET version = ?2 WHERE order_id = ?1"),
                params![order_id, version],
            )?;
        }
        Ok(())
    }
}
