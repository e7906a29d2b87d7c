//! The read side's queries over the read models' views (the plain table
//! names, which always point at the live generation). Reads run on tokio's
//! blocking pool, on a connection that cannot write: a GET never changes a
//! read model.
//!
//! Case-insensitive matching uses SQLite's `lower`, which folds ASCII only;
//! both sides go through it, so matching is at least consistent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use es_core::{Position, Projection, async_trait, parse_created};
use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use ticketing::{ConcertId, Currency, CustomerId, Money, OrderId, TicketCode, VenueId};
use ticketing_app::queries::{
    AttendeeView, CartItemView, CartView, ConcertSearch, ConcertStatusView, ConcertSummary, ConcertView, DailySales,
    DraftSummary, OrderView, Page, Queries, QueryError, TicketTypeView, VenueRef, VenueView, decode_cursor,
    encode_cursor, page, page_size,
};
use uuid::Uuid;

use crate::ReadModels;
use crate::purchases;
use crate::rows::time;

/// How long a read waits for a lock held by a projection's commit.
const READ_BUSY_TIMEOUT_MILLIS: u64 = 5_000;

/// [`Queries`] over the read models' SQLite file.
pub struct SqliteQueries {
    connection: Arc<Mutex<Connection>>,
    projections: Vec<Arc<dyn Projection>>,
}

impl std::fmt::Debug for SqliteQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueries").field("projections", &self.projections.len()).finish_non_exhaustive()
    }
}

impl SqliteQueries {
    /// Queries over `read_models` (already opened, so their views exist).
    pub fn open(read_models: &ReadModels) -> Result<Self, QueryError> {
        let connection = Connection::open_with_flags(
            read_models.path(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(store)?;
        connection.busy_timeout(Duration::from_millis(READ_BUSY_TIMEOUT_MILLIS)).map_err(store)?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)), projections: read_models.projections() })
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, QueryError> + Send + 'static,
    ) -> Result<T, QueryError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let connection = connection.lock().map_err(|_| QueryError::store("a reader panicked"))?;
            work(&connection)
        })
        .await
        .map_err(QueryError::store)?
    }
}

pub(crate) fn store(error: rusqlite::Error) -> QueryError {
    QueryError::store(error)
}

pub(crate) fn bad<E: std::error::Error + Send + Sync + 'static>(column: usize, error: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(error))
}

pub(crate) fn uuid_at(row: &Row<'_>, column: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(column)?;
    Uuid::parse_str(&text).map_err(|error| bad(column, error))
}

pub(crate) fn time_at(row: &Row<'_>, column: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(column)?;
    parse_created(&text).map_err(|error| bad(column, error))
}

pub(crate) fn optional_time_at(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(column)?;
    text.map(|text| parse_created(&text).map_err(|error| bad(column, error))).transpose()
}

pub(crate) fn money_at(row: &Row<'_>, amount: usize, currency: usize) -> rusqlite::Result<Money> {
    let value: i64 = row.get(amount)?;
    let value = u64::try_from(value).map_err(|error| bad(amount, error))?;
    let code: String = row.get(currency)?;
    Ok(Money::new(value, Currency::new(&code).map_err(|error| bad(currency, error))?))
}

fn count_at(row: &Row<'_>, column: usize) -> rusqlite::Result<u32> {
    let value: i64 = row.get(column)?;
    u32::try_from(value).map_err(|error| bad(column, error))
}

fn status(text: &str) -> Option<ConcertStatusView> {
    match text {
        "draft" => Some(ConcertStatusView::Draft),
        "published" => Some(ConcertStatusView::Published),
        "cancelled" => Some(ConcertStatusView::Cancelled),
        _ => None,
    }
}

fn venue_row(row: &Row<'_>) -> rusqlite::Result<VenueView> {
    Ok(VenueView {
        id: VenueId(uuid_at(row, 0)?),
        name: row.get(1)?,
        address: row.get(2)?,
        city: row.get(3)?,
        capacity: count_at(row, 4)?,
        description: row.get(5)?,
        web_url: row.get(6)?,
    })
}

const VENUE_COLUMNS: &str = "venue_id, name, address, city, capacity, description, web_url";

#[async_trait]
impl Queries for SqliteQueries {
    async fn venues(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<VenueView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        self.read(move |connection| {
            let (key, id) = after.map_or((None, None), |(key, id)| (Some(key), Some(id.to_string())));
            let rows = connection
                .prepare_cached(&format!(
                    "SELECT {VENUE_COLUMNS} FROM venues WHERE deleted = 0 \
                     AND (?1 IS NULL OR name > ?1 OR (name = ?1 AND venue_id > ?2)) \
                     ORDER BY name, venue_id LIMIT ?3"
                ))
                .and_then(|mut statement| {
                    statement.query_map(params![key, id, i64::from(limit) + 1], venue_row)?.collect()
                })
                .map_err(store)?;
            Ok(page(rows, limit, |venue: &VenueView| encode_cursor(&venue.name, venue.id.0)))
        })
        .await
    }

    async fn venue(&self, id: VenueId) -> Result<Option<VenueView>, QueryError> {
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {VENUE_COLUMNS} FROM venues WHERE venue_id = ?1 AND deleted = 0"),
                    [id.to_string()],
                    venue_row,
                )
                .optional()
                .map_err(store)
        })
        .await
    }

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
                    "SELECT concert_id, name, description, genre, image_url, status, starts_at, ends_at, \
                     venue_id, venue_name, venue_city FROM catalogue \
                     WHERE concert_id = ?1 AND (status <> 'draft' OR ?2)",
                    params![id.to_string(), include_drafts],
                    |row| {
                        let text: String = row.get(5)?;
                        let status = status(&text).ok_or_else(|| bad(5, QueryError::store(text)))?;
                        Ok(ConcertView {
                            id: ConcertId(uuid_at(row, 0)?),
                            name: row.get(1)?,
                            description: row.get(2)?,
                            genre: row.get(3)?,
                            image_url: row.get(4)?,
                            status,
                            starts_at: optional_time_at(row, 6)?,
                            ends_at: optional_time_at(row, 7)?,
                            venue: VenueRef { id: VenueId(uuid_at(row, 8)?), name: row.get(9)?, city: row.get(10)? },
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

    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError> {
        self.read(move |connection| {
            let items: Vec<CartItemView> = connection
                .prepare_cached(
                    "SELECT item_id, concert_id, ticket_type_id, quantity, unit_amount, currency, expires_at \
                     FROM cart_items WHERE customer_id = ?1 AND expires_at > ?2 ORDER BY seq",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map(params![customer.to_string(), time(now)], |row| {
                            Ok(CartItemView {
                                id: ticketing::HoldId(uuid_at(row, 0)?),
                                concert_id: ConcertId(uuid_at(row, 1)?),
                                ticket_type_id: ticketing::TicketTypeId(uuid_at(row, 2)?),
                                quantity: count_at(row, 3)?,
                                unit_price: money_at(row, 4, 5)?,
                                expires_at: time_at(row, 6)?,
                            })
                        })?
                        .collect()
                })
                .map_err(store)?;
            let mut total: Option<Money> = None;
            for item in &items {
                let quantity = ticketing::Quantity::new(item.quantity).map_err(QueryError::store)?;
                let subtotal = item.unit_price.times(quantity).map_err(QueryError::store)?;
                total = Some(match total {
                    None => subtotal,
                    Some(sum) => sum.plus(subtotal).map_err(QueryError::store)?,
                });
            }
            Ok(CartView { items, total })
        })
        .await
    }

    async fn orders(&self, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError> {
        self.read(move |connection| purchases::orders(connection, customer)).await
    }

    async fn orders_page(
        &self,
        customer: Option<CustomerId>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<OrderView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        self.read(move |connection| purchases::orders_page(connection, customer, after, limit)).await
    }

    async fn order(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        self.read(move |connection| purchases::order(connection, id)).await
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

    async fn attendees(&self, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError> {
        self.read(move |connection| purchases::attendees(connection, concert_id)).await
    }

    async fn attendees_page(
        &self,
        concert_id: ConcertId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<AttendeeView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        self.read(move |connection| purchases::attendees_page(connection, concert_id, after, limit)).await
    }

    async fn sales(&self, concert_id: ConcertId) -> Result<Vec<DailySales>, QueryError> {
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT day, tickets, revenue_amount, currency FROM sales WHERE concert_id = ?1 ORDER BY day",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map([concert_id.to_string()], |row| {
                            let day: String = row.get(0)?;
                            let tickets: i64 = row.get(1)?;
                            Ok(DailySales {
                                day: day.parse::<NaiveDate>().map_err(|error| bad(0, error))?,
                                tickets_sold: u64::try_from(tickets).map_err(|error| bad(1, error))?,
                                revenue: money_at(row, 2, 3)?,
                            })
                        })?
                        .collect()
                })
                .map_err(store)
        })
        .await
    }

    async fn position(&self) -> Result<Position, QueryError> {
        let mut lowest: Option<Position> = None;
        for projection in &self.projections {
            let position = projection.position().await.map_err(QueryError::store)?;
            lowest = Some(lowest.map_or(position, |lowest| lowest.min(position)));
        }
        Ok(lowest.unwrap_or(Position::START))
    }
}
