//! The catalogue's queries: the search of published concerts, the
//! organisers' drafts, and one concert with its ticket types.
//!
//! Case-insensitive matching uses SQLite's `lower`, which folds ASCII only;
//! both sides go through it, so matching is at least consistent.

use es_core::async_trait;
use rusqlite::{OptionalExtension, params};
use ticketing::{ConcertId, VenueId};
use ticketing_app::queries::{
    CatalogueQueries, ConcertSearch, ConcertStatusView, ConcertSummary, ConcertView, DraftSummary, Page, QueryError,
    TicketTypeView, VenueRef, decode_cursor, encode_cursor, page, page_size,
};

use super::{SqliteQueries, bad, count_at, money_at, optional_time_at, store, time_at, uuid_at};
use crate::rows::time;

fn status(text: &str) -> Option<ConcertStatusView> {
    match text {
        "draft" => Some(ConcertStatusView::Draft),
        "published" => Some(ConcertStatusView::Published),
        "cancelled" => Some(ConcertStatusView::Cancelled),
        _ => None,
    }
}

#[async_trait]
impl CatalogueQueries for SqliteQueries {
    async fn concerts(&self, search: ConcertSearch) -> Result<Page<ConcertSummary>, QueryError> {
        let after = search.cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(search.limit);
        self.read(move |connection| {
            let (key, id) = after.map_or((None, None), |(key, id)| (Some(key), Some(id.to_string())));
            let rows = connection
                .prepare_cached(
                    "SELECT concert_id, name, genre, starts_at, ends_at, venue_id, venue_name, venue_city \
                     FROM catalogue WHERE status = 'published' AND starts_at IS NOT NULL \
                     AND (?1 IS NULL OR instr(lower(name), lower(?1)) > 0 OR instr(lower(venue_name), lower(?1)) > 0) \
                     AND (?2 IS NULL OR instr(lower(venue_city), lower(?2)) > 0 \
                          OR instr(lower(venue_address), lower(?2)) > 0) \
                     AND (?3 IS NULL OR starts_at >= ?3) AND (?4 IS NULL OR starts_at <= ?4) \
                     AND (?5 IS NULL OR lower(genre) = lower(?5)) \
                     AND (?6 IS NULL OR starts_at > ?6 OR (starts_at = ?6 AND concert_id > ?7)) \
                     ORDER BY starts_at, concert_id LIMIT ?8",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map(
                            params![
                                search.q,
                                search.location,
                                search.from.map(time),
                                search.to.map(time),
                                search.genre,
                                key,
                                id,
                                i64::from(limit) + 1
                            ],
                            |row| {
                                Ok(ConcertSummary {
                                    id: ConcertId(uuid_at(row, 0)?),
                                    name: row.get(1)?,
                                    genre: row.get(2)?,
                                    starts_at: time_at(row, 3)?,
                                    ends_at: time_at(row, 4)?,
                                    venue: VenueRef {
                                        id: VenueId(uuid_at(row, 5)?),
                                        name: row.get(6)?,
                                        city: row.get(7)?,
                                    },
                                })
                            },
                        )?
                        .collect()
                })
                .map_err(store)?;
            Ok(page(rows, limit, |concert: &ConcertSummary| encode_cursor(&time(concert.starts_at), concert.id.0)))
        })
        .await
    }

    async fn drafts(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<DraftSummary>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        self.read(move |connection| {
            let (key, id) = after.map_or((None, None), |(key, id)| (Some(key), Some(id.to_string())));
            let rows = connection
                .prepare_cached(
                    "SELECT concert_id, name, genre, starts_at, venue_id, venue_name, venue_city \
                     FROM catalogue WHERE status = 'draft' \
                     AND (?1 IS NULL OR name > ?1 OR (name = ?1 AND concert_id > ?2)) \
                     ORDER BY name, concert_id LIMIT ?3",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map(params![key, id, i64::from(limit) + 1], |row| {
                            Ok(DraftSummary {
                                id: ConcertId(uuid_at(row, 0)?),
                                name: row.get(1)?,
                                genre: row.get(2)?,
                                starts_at: optional_time_at(row, 3)?,
                                venue: VenueRef { id: VenueId(uuid_at(row, 4)?), name: row.get(5)?, city: row.get(6)? },
                            })
                        })?
                        .collect()
                })
                .map_err(store)?;
            Ok(page(rows, limit, |draft: &DraftSummary| encode_cursor(&draft.name, draft.id.0)))
        })
        .await
    }

    async fn concert(&self, id: ConcertId, include_drafts: bool) -> Result<Option<ConcertView>, QueryError> {
        self.read(move |connection| {
            let found = connection
                .query_row(
                    "SELECT concert_id, name, profile, status, starts_at, ends_at, \
                     venue_id, venue_name, venue_city FROM catalogue \
                     WHERE concert_id = ?1 AND (status <> 'draft' OR ?2)",
                    params![id.to_string(), include_drafts],
                    |row| {
                        let profile: String = row.get(2)?;
                        let text: String = row.get(3)?;
                        let status = status(&text).ok_or_else(|| bad(3, QueryError::store(text)))?;
                        Ok(ConcertView {
                            id: ConcertId(uuid_at(row, 0)?),
                            name: row.get(1)?,
                            profile: serde_json::from_str(&profile).map_err(|error| bad(2, error))?,
                            status,
                            starts_at: optional_time_at(row, 4)?,
                            ends_at: optional_time_at(row, 5)?,
                            venue: VenueRef { id: VenueId(uuid_at(row, 6)?), name: row.get(7)?, city: row.get(8)? },
                            ticket_types: Vec::new(),
                        })
                    },
                )
                .optional()
                .map_err(store)?;
            let Some(mut concert) = found else {
                return Ok(None);
            };
            concert.ticket_types = connection
                .prepare_cached(
                    "SELECT ticket_type_id, name, price_amount, currency, quantity, available \
                     FROM ticket_types WHERE concert_id = ?1 ORDER BY seq",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map([id.to_string()], |row| {
                            Ok(TicketTypeView {
                                id: ticketing::TicketTypeId(uuid_at(row, 0)?),
                                name: row.get(1)?,
                                price: money_at(row, 2, 3)?,
                                quantity: count_at(row, 4)?,
                                available: count_at(row, 5)?,
                            })
                        })?
                        .collect()
                })
                .map_err(store)?;
            Ok(Some(concert))
        })
        .await
    }
}
