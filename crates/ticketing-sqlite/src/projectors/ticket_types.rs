//! Each concert's ticket types with their held, sold and available counts.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::params;
use ticketing::ConcertEvent;

use super::TICKET_TYPES;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, one_row};

/// Each concert's ticket types with held, sold and available counts.
#[derive(Debug, Default)]
pub struct TicketTypesProjector;

const TICKET_TYPE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "ticket_types",
        columns: "ticket_type_id TEXT PRIMARY KEY, concert_id TEXT NOT NULL, seq INTEGER NOT NULL, \
                  name TEXT NOT NULL, price_amount INTEGER NOT NULL, currency TEXT NOT NULL, \
                  quantity INTEGER NOT NULL, held INTEGER NOT NULL, sold INTEGER NOT NULL, \
                  available INTEGER NOT NULL, version INTEGER NOT NULL",
        indexes: &["concert_id, seq"],
    },
    applied_table("ticket_types_applied"),
];

impl SqliteProjector for TicketTypesProjector {
    fn name(&self) -> &str {
        TICKET_TYPES
    }

    fn tables(&self) -> &[TableSpec] {
        TICKET_TYPE_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Concert(fact)) = decode(event, &[Kind::Concert])? else {
            return Ok(());
        };
        if !admit(tables, "ticket_types_applied", event)? {
            return Ok(());
        }
        let table = tables.name("ticket_types");
        let concert_id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        match fact {
            ConcertEvent::TicketTypeAdded { ticket_type_id, name, price, quantity } => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {table} (ticket_type_id, concert_id, seq, name, price_amount, currency, \
                         quantity, held, sold, available, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?7, ?8)"
                    ),
                    params![
                        ticket_type_id.to_string(),
                        concert_id,
                        int(event.position.0)?,
                        name.as_str(),
                        int(price.amount)?,
                        price.currency.as_str(),
                        quantity.get(),
                        version
                    ],
                )?;
            }
            ConcertEvent::TicketTypeRemoved { ticket_type_id } => {
                let changed = execute(
                    connection,
                    &format!("DELETE FROM {table} WHERE ticket_type_id = ?1"),
                    [ticket_type_id.to_string()],
                )?;
                one_row(changed, "removing an unknown ticket type")?;
            }
            ConcertEvent::TicketsHeld { ticket_type_id, quantity, .. } => {
                adjust(tables, &ticket_type_id.to_string(), i64::from(quantity.get()), 0, version)?;
            }
            ConcertEvent::HoldReleased { ticket_type_id, quantity, .. }
            | ConcertEvent::HoldExpired { ticket_type_id, quantity, .. } => {
                adjust(tables, &ticket_type_id.to_string(), -i64::from(quantity.get()), 0, version)?;
            }
            ConcertEvent::TicketsSold { holds, .. } => {
                for hold in holds {
                    let count = i64::from(hold.quantity.get());
                    adjust(tables, &hold.ticket_type_id.to_string(), -count, count, version)?;
                }
            }
            ConcertEvent::Created { .. }
            | ConcertEvent::DetailsUpdated { .. }
            | ConcertEvent::Scheduled { .. }
            | ConcertEvent::Published { .. }
            | ConcertEvent::Cancelled {}
            // Held for an order instead of a cart: still held.
            | ConcertEvent::HoldsAwaitingPayment { .. } => {}
        }
        Ok(())
    }
}

/// Moves a ticket type's held and sold counts, keeping `available` in step.
fn adjust(tables: &Tables<'_>, ticket_type_id: &str, held: i64, sold: i64, version: i64) -> Result<(), ApplyError> {
    let table = tables.name("ticket_types");
    let changed = execute(
        tables.connection(),
        &format!(
            "UPDATE {table} SET held = held + ?2, sold = sold + ?3, \
             available = quantity - (held + ?2) - (sold + ?3), version = ?4 WHERE ticket_type_id = ?1"
        ),
        params![ticket_type_id, held, sold, version],
    )?;
    one_row(changed, "tickets of an unknown ticket type")
}
