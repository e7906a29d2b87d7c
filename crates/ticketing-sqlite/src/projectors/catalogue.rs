//! The catalogue: concerts with their venue, status, schedule and profile.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::{OptionalExtension, params};
use ticketing::{ConcertEvent, ConcertProfile, VenueEvent};

use super::CATALOGUE;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, one_row, time};

/// Concerts with their venue's name, city and address, status and schedule:
/// what search and the concert page read. The concert's profile is kept
/// whole as JSON (a new field of it needs no column); its genre also has a
/// column of its own, for search.
#[derive(Debug, Default)]
pub struct CatalogueProjector;

const CATALOGUE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "catalogue",
        columns: "concert_id TEXT PRIMARY KEY, name TEXT NOT NULL, profile TEXT NOT NULL, genre TEXT, \
                  status TEXT NOT NULL, starts_at TEXT, ends_at TEXT, venue_id TEXT NOT NULL, \
                  venue_name TEXT NOT NULL, venue_city TEXT NOT NULL, venue_address TEXT NOT NULL, \
                  version INTEGER NOT NULL",
        indexes: &["status, starts_at, concert_id", "lower(name)", "lower(genre)", "venue_id"],
    },
    TableSpec {
        name: "catalogue_venues",
        columns: "venue_id TEXT PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, address TEXT NOT NULL, \
                  version INTEGER NOT NULL",
        indexes: &[],
    },
    applied_table("catalogue_applied"),
];

impl SqliteProjector for CatalogueProjector {
    fn name(&self) -> &str {
        CATALOGUE
    }

    fn tables(&self) -> &[TableSpec] {
        CATALOGUE_TABLES
    }

    /// 2: the concert's profile is kept whole, as JSON (it had a column per
    /// field).
    fn shape(&self) -> u32 {
        2
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(fact) = decode(event, &[Kind::Venue, Kind::Concert])? else {
            return Ok(());
        };
        if !admit(tables, "catalogue_applied", event)? {
            return Ok(());
        }
        let connection = tables.connection();
        let id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let catalogue = tables.name("catalogue");
        let venues = tables.name("catalogue_venues");
        match fact {
            Fact::Venue(VenueEvent::Created { name, address, city, .. }) => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {venues} (venue_id, name, city, address, version) VALUES (?1, ?2, ?3, ?4, ?5)"
                    ),
                    params![id, name.as_str(), city.as_str(), address.as_str(), version],
                )?;
            }
            Fact::Venue(_) => {
                execute(
                    connection,
                    &format!("UPDATE {venues} SET version = ?2 WHERE venue_id = ?1"),
                    params![id, version],
                )?;
            }
            Fact::Concert(ConcertEvent::Created { name, venue_id, profile, .. }) => {
                let changed = execute(
                    connection,
                    &format!(
                        "INSERT INTO {catalogue} (concert_id, name, profile, genre, status, venue_id, \
                         venue_name, venue_city, venue_address, version) \
                         SELECT ?1, ?2, ?3, ?4, 'draft', venue_id, name, city, address, ?5 \
                         FROM {venues} WHERE venue_id = ?6"
                    ),
                    params![
                        id,
                        name.as_str(),
                        serde_json::to_string(&profile)?,
                        profile.genre.as_ref().map(|text| text.as_str()),
                        version,
                        venue_id.to_string()
                    ],
                )?;
                one_row(changed, "a concert at an unknown venue")?;
            }
            Fact::Concert(ConcertEvent::DetailsUpdated { name, profile: changes }) => {
                let stored: Option<String> = connection
                    .prepare_cached(&format!("SELECT profile FROM {catalogue} WHERE concert_id = ?1"))?
                    .query_row([&id], |row| row.get(0))
                    .optional()?;
                let Some(stored) = stored else {
                    return Ok(());
                };
                let profile = serde_json::from_str::<ConcertProfile>(&stored)?.changed_by(&changes);
                execute(
                    connection,
                    &format!(
                        "UPDATE {catalogue} SET name = coalesce(?2, name), profile = ?3, genre = ?4, version = ?5 \
                         WHERE concert_id = ?1"
                    ),
                    params![
                        id,
                        name.as_ref().map(|text| text.as_str()),
                        serde_json::to_string(&profile)?,
                        profile.genre.as_ref().map(|text| text.as_str()),
                        version
                    ],
                )?;
            }
            Fact::Concert(ConcertEvent::Scheduled { starts_at, ends_at }) => {
                execute(
                    connection,
                    &format!("UPDATE {catalogue} SET starts_at = ?2, ends_at = ?3, version = ?4 WHERE concert_id = ?1"),
                    params![id, time(starts_at), time(ends_at), version],
                )?;
            }
            Fact::Concert(ConcertEvent::Published { .. }) => set_status(tables, &id, "published", version)?,
            Fact::Concert(ConcertEvent::Cancelled {}) => set_status(tables, &id, "cancelled", version)?,
            Fact::Concert(_) => {
                execute(
                    connection,
                    &format!("UPDATE {catalogue} SET version = ?2 WHERE concert_id = ?1"),
                    params![id, version],
                )?;
            }
            Fact::Cart(_) | Fact::Order(_) => {}
        }
        Ok(())
    }
}

fn set_status(tables: &Tables<'_>, concert_id: &str, status: &str, version: i64) -> Result<(), ApplyError> {
    let catalogue = tables.name("catalogue");
    execute(
        tables.connection(),
        &format!("UPDATE {catalogue} SET status = ?2, version = ?3 WHERE concert_id = ?1"),
        params![concert_id, status, version],
    )?;
    Ok(())
}
