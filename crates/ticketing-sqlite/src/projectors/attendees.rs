//! Ticket holders per concert, for the door: the valid tickets, from their
//! payment until they are paid back (then marked, so that the door still
//! finds a refunded ticket's order and can say why it is refused).

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::params;
use ticketing::{OrderEvent, PaidTickets};

use super::ATTENDEES;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, one_row, time};

/// Ticket holders per concert, for the door: looked up by code.
#[derive(Debug, Default)]
pub struct AttendeesProjector;

const ATTENDEE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "attendees",
        columns: "ticket_code TEXT PRIMARY KEY, concert_id TEXT NOT NULL, order_id TEXT NOT NULL, \
                  customer_id TEXT NOT NULL, ticket_type_id TEXT NOT NULL, checked_in_at TEXT, \
                  refunded INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL",
        indexes: &["concert_id, ticket_code"],
    },
    applied_table("attendees_applied"),
];

impl SqliteProjector for AttendeesProjector {
    fn name(&self) -> &str {
        ATTENDEES
    }

    fn tables(&self) -> &[TableSpec] {
        ATTENDEE_TABLES
    }

    /// 2: tickets paid back are marked, not listed.
    fn shape(&self) -> u32 {
        2
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Order(fact)) = decode(event, &[Kind::Order])? else {
            return Ok(());
        };
        if !admit(tables, "attendees_applied", event)? {
            return Ok(());
        }
        let table = tables.name("attendees");
        let order_id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        if let Some(PaidTickets { customer_id, lines, .. }) = fact.paid_tickets() {
            {
                // A code issued twice is refused here (primary key): the door
                // must never find two tickets under one code.
                let mut insert = connection.prepare_cached(&format!(
                    "INSERT INTO {table} (ticket_code, concert_id, order_id, customer_id, ticket_type_id, version) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))?;
                for line in lines {
                    for code in &line.ticket_codes {
                        insert.execute(params![
                            code.as_str(),
                            line.concert_id.to_string(),
                            order_id,
                            customer_id.to_string(),
                            line.ticket_type_id.to_string(),
                            version
                        ])?;
                    }
                }
            }
        }
        // Tickets of a cancelled concert that were paid back are no longer listed; their codes still lead the
        // door to their order, which says why they do not let anyone in.
        if let OrderEvent::Refunded { concert_id, .. } = &fact {
            execute(
                connection,
                &format!("UPDATE {table} SET refunded = 1, version = ?3 WHERE order_id = ?1 AND concert_id = ?2"),
                params![order_id, concert_id.to_string(), version],
            )?;
        }
        if let OrderEvent::TicketCheckedIn { code, checked_in_at } = fact {
            let changed = execute(
                connection,
                &format!(
                    "UPDATE {table} SET checked_in_at = ?3, version = ?4 WHERE ticket_code = ?1 AND order_id = ?2"
                ),
                params![code.as_str(), order_id, time(checked_in_at), version],
            )?;
            one_row(changed, "checking in an unknown ticket")?;
        }
        Ok(())
    }
}
