//! Tickets sold and revenue per concert per day.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::params;
use ticketing::PaidTickets;

use super::SALES;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, one_row};

/// Tickets sold and revenue per concert per UTC day of the sale, at the
/// prices paid (from the orders, which carry them).
#[derive(Debug, Default)]
pub struct SalesProjector;

const SALES_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "sales",
        columns: "concert_id TEXT NOT NULL, day TEXT NOT NULL, tickets INTEGER NOT NULL, \
                  revenue_amount INTEGER NOT NULL, currency TEXT NOT NULL, PRIMARY KEY (concert_id, day)",
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

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Order(fact)) = decode(event, &[Kind::Order])? else {
            return Ok(());
        };
        // Tickets count as sold on the day they are paid for.
        let Some(PaidTickets { lines, paid_at, .. }) = fact.paid_tickets() else {
            return Ok(());
        };
        // Rows add up many orders, so the guard table alone keeps their versions.
        if !admit(tables, "sales_applied", event)? {
            return Ok(());
        }
        let table = tables.name("sales");
        let day = paid_at.date_naive().to_string();
        for line in lines {
            let revenue = line.unit_price.times(line.quantity)?;
            let changed = execute(
                tables.connection(),
                &format!(
                    "INSERT INTO {table} (concert_id, day, tickets, revenue_amount, currency) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (concert_id, day) DO UPDATE SET \
                     tickets = tickets + excluded.tickets, revenue_amount = revenue_amount + excluded.revenue_amount \
                     WHERE currency = excluded.currency"
                ),
                params![
                    line.concert_id.to_string(),
                    day,
                    line.quantity.get(),
                    int(revenue.amount)?,
                    revenue.currency.as_str()
                ],
            )?;
            one_row(changed, "a sale in a second currency for one concert")?;
        }
        Ok(())
    }
}
