//! Tickets sold and revenue per concert per day, and what was paid back
//! when a concert was cancelled.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::params;
use ticketing::{OrderEvent, PaidTickets};

use super::SALES;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, one_row};

/// Tickets sold and revenue per concert per UTC day of the sale, at the
/// prices paid (from the orders, which carry them); tickets paid back and
/// the amount per UTC day of the refund.
#[derive(Debug, Default)]
pub struct SalesProjector;

const SALES_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "sales",
        columns: "concert_id TEXT NOT NULL, day TEXT NOT NULL, tickets INTEGER NOT NULL, \
                  revenue_amount INTEGER NOT NULL, currency TEXT NOT NULL, \
                  tickets_refunded INTEGER NOT NULL DEFAULT 0, refunded_amount INTEGER NOT NULL DEFAULT 0, \
                  PRIMARY KEY (concert_id, day)",
        indexes: &[],
    },
    applied_table("sales_applied"),
];

impl SqliteProjector for SalesProjector {
    fn name(&self) -> &str {
        SALES
    }

    fn tables(&self) -> &[TableSpec] {
        SALES_TABLES
    }

    /// 2: refunds have columns of their own.
    fn shape(&self) -> u32 {
        2
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Order(fact)) = decode(event, &[Kind::Order])? else {
            return Ok(());
        };
        // Tickets count as sold on the day they are paid for, and as paid back on the day they are.
        let (lines, day, refund) = match (fact.paid_tickets(), &fact) {
            (Some(PaidTickets { lines, paid_at, .. }), _) => (lines, paid_at, false),
            (None, OrderEvent::Refunded { lines, refunded_at, .. }) => (lines.as_slice(), *refunded_at, true),
            _ => return Ok(()),
        };
        // Rows add up many orders, so the guard table alone keeps their versions.
        if !admit(tables, "sales_applied", event)? {
            return Ok(());
        }
        let table = tables.name("sales");
        let day = day.date_naive().to_string();
        for line in lines {
            let money = line.unit_price.times(line.quantity)?;
            let (count, amount) = (line.quantity.get(), int(money.amount)?);
            let (sold, refunded) = if refund { ((0, 0), (count, amount)) } else { ((count, amount), (0, 0)) };
            let changed = execute(
                tables.connection(),
                &format!(
                    "INSERT INTO {table} (concert_id, day, currency, tickets, revenue_amount, tickets_refunded, \
                     refunded_amount) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (concert_id, day) DO UPDATE SET \
                     tickets = tickets + excluded.tickets, revenue_amount = revenue_amount + excluded.revenue_amount, \
                     tickets_refunded = tickets_refunded + excluded.tickets_refunded, \
                     refunded_amount = refunded_amount + excluded.refunded_amount \
                     WHERE currency = excluded.currency"
                ),
                params![
                    line.concert_id.to_string(),
                    day,
                    money.currency.as_str(),
                    sold.0,
                    sold.1,
                    refunded.0,
                    refunded.1
                ],
            )?;
            one_row(changed, "a sale in a second currency for one concert")?;
        }
        Ok(())
    }
}
