//! The venues as listed and shown.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::params;
use ticketing::VenueEvent;

use super::VENUES;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int};

/// Venues as listed and shown; deleted ones stay, marked.
#[derive(Debug, Default)]
pub struct VenuesProjector;

const VENUE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "venues",
        columns: "venue_id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, city TEXT NOT NULL, \
                  capacity INTEGER NOT NULL, description TEXT, web_url TEXT, deleted INTEGER NOT NULL, \
                  version INTEGER NOT NULL",
        indexes: &["deleted, name, venue_id"],
    },
    applied_table("venues_applied"),
];

impl SqliteProjector for VenuesProjector {
    fn name(&self) -> &str {
        VENUES
    }

    fn tables(&self) -> &[TableSpec] {
        VENUE_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Venue(fact)) = decode(event, &[Kind::Venue])? else {
            return Ok(());
        };
        if !admit(tables, "venues_applied", event)? {
            return Ok(());
        }
        let venues = tables.name("venues");
        let id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        match fact {
            VenueEvent::Created { name, address, city, capacity, description, web_url } => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {venues} (venue_id, name, address, city, capacity, description, web_url, \
                         deleted, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)"
                    ),
                    params![
                        id,
                        name.as_str(),
                        address.as_str(),
                        city.as_str(),
                        capacity.get(),
                        description.as_ref().map(|text| text.as_str()),
                        web_url.as_ref().map(|url| url.as_str()),
                        version
                    ],
                )?;
            }
            VenueEvent::Deleted { .. } => {
                execute(
                    connection,
                    &format!("UPDATE {venues} SET deleted = 1, version = ?2 WHERE venue_id = ?1"),
                    params![id, version],
                )?;
            }
            VenueEvent::Booked { .. } | VenueEvent::BookingReleased { .. } | VenueEvent::BookingPublished { .. } => {
                execute(
                    connection,
                    &format!("UPDATE {venues} SET version = ?2 WHERE venue_id = ?1"),
                    params![id, version],
                )?;
            }
        }
        Ok(())
    }
}
