//! The read side's queries over the read models in PostgreSQL, answering
//! exactly as the embedded mode's `SqliteQueries` does: the same order, the
//! same page cursors (byte for byte), the same search. Names are compared
//! and sorted in the "C" collation and lowered ASCII only, as SQLite's
//! `lower` does; times are compared at the millisecond precision SQLite's
//! text keeps. Every query is one statement, so it reads one snapshot.
//!
//! Carts are not here: they live in DynamoDB, and [`CartReader`] is how the
//! queries reach them.
//!
//! The rows and how they become views are in `rows`; the [`Queries`]
//! implementation stays whole here, one method per query of the port, so that
//! each statement is read beside the answer it makes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use es_core::{AggregateId, Position, Version, async_trait, format_created, parse_created, truncate_to_millis};
use sqlx_core::query_as::query_as;
use sqlx_core::query_builder::QueryBuilder;
use sqlx_postgres::{PgPool, Postgres};
use ticketing::{ConcertId, CustomerId, OrderId, TicketCode, TicketTypeId, VenueId};
use ticketing_app::queries::{
    AttendeeView, CartView, ConcertSearch, ConcertSummary, ConcertView, DailySales, DraftSummary, OrderView, Page,
    Queries, QueryError, TicketTypeView, VenueRef, VenueView, decode_cursor, encode_cursor, page, page_size,
};
use ticketing_app::written::Written;
use uuid::Uuid;

use crate::error::PostgresError;
use crate::projectors::ReadModel;
use crate::rows::Kind;

mod rows;

use self::rows::{
    ATTENDEE_COLUMNS, AttendeeRow, ConcertAndTicketType, ConcertRow, ConcertSummaryRow, DraftRow, ORDER_SELECT,
    OrderRow, TicketTypeRow, VENUE_COLUMNS, VenueRow, attendee_view, containing, corrupt, count, database, money,
    orders_from, status, unsigned, venue_view,
};

/// Where the queries read carts from. Carts are a key-value read model in
/// DynamoDB (`ticketing_dynamodb::DynamoDbCarts`, which implements this);
/// any `Fn(CustomerId, DateTime<Utc>) -> impl Future<Output = Result<CartView,
/// QueryError>>` does too, for other stores and for tests.
#[async_trait]
pub trait CartReader: Send + Sync + 'static {
    /// A customer's cart: the items still live at `now`, with their total.
    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError>;

    /// The last applied version of each of `aggregates` that is a cart here
    /// (read-your-writes, [`Queries::shows`]). By default none: a reader
    /// that cannot tell makes a request that wrote a cart wait its bound.
    async fn applied_versions(&self, aggregates: &[AggregateId]) -> Result<HashMap<AggregateId, Version>, QueryError> {
        let _ = aggregates;
        Ok(HashMap::new())
    }
}

#[async_trait]
impl CartReader for ticketing_dynamodb::DynamoDbCarts {
    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError> {
        ticketing_dynamodb::DynamoDbCarts::cart(self, customer, now).await
    }

    async fn applied_versions(&self, aggregates: &[AggregateId]) -> Result<HashMap<AggregateId, Version>, QueryError> {
        es_aws_bus::sink::BusSink::applied_versions(self, aggregates).await.map_err(QueryError::store)
    }
}

#[async_trait]
impl<F, Answer> CartReader for F
where
    F: Fn(CustomerId, DateTime<Utc>) -> Answer + Send + Sync + 'static,
    Answer: Future<Output = Result<CartView, QueryError>> + Send + 'static,
{
    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError> {
        self(customer, now).await
    }
}

/// [`Queries`] over the read models in PostgreSQL, and carts from a
/// [`CartReader`].
#[derive(Clone)]
pub struct PostgresQueries {
    pool: PgPool,
    carts: Arc<dyn CartReader>,
}

impl std::fmt::Debug for PostgresQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresQueries").field("pool", &self.pool).finish_non_exhaustive()
    }
}

impl PostgresQueries {
    /// The pool the queries use.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Queries over the (migrated) database behind `pool`, with carts from
    /// `carts`.
    pub fn new(pool: PgPool, carts: Arc<dyn CartReader>) -> Self {
        Self { pool, carts }
    }

    /// Whether the database answers a statement: a readiness probe.
    pub async fn ping(&self) -> Result<(), QueryError> {
        query_as::<_, (i32,)>("SELECT 1").fetch_one(&self.pool).await.map_err(PostgresError::from)?;
        Ok(())
    }

    /// The version of `aggregate` that every read model here that reads its
    /// kind has applied, at least: what a caller waits for to read its own
    /// writes ("until version N of aggregate A is visible"). `None` while
    /// any of them has applied nothing of it, and for aggregates no read
    /// model here reads (carts: ask the carts read model). An event of a
    /// type this release does not know moves no read model's version.
    pub async fn applied_version(&self, aggregate: AggregateId) -> Result<Option<Version>, QueryError> {
        Ok(self.applied_versions(&[aggregate]).await?.remove(&aggregate))
    }

    /// [`PostgresQueries::applied_version`] of several aggregates in one
    /// query: the aggregates missing from the answer are those not applied
    /// everywhere (or not read here).
    pub async fn applied_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, QueryError> {
        let ids: Vec<Uuid> = aggregates.iter().map(|aggregate| aggregate.0).collect();
        let rows: Vec<(Uuid, String, String, i64)> =
            query_as("SELECT aggregate_id, sink, kind, version FROM applied_versions WHERE aggregate_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await
                .map_err(PostgresError::from)?;
        let mut by_aggregate: HashMap<Uuid, (&str, HashMap<&str, i64>)> = HashMap::new();
        for (aggregate, sink, kind, version) in &rows {
            by_aggregate.entry(*aggregate).or_insert_with(|| (kind.as_str(), HashMap::new())).1.insert(sink, *version);
        }
        let mut applied = HashMap::with_capacity(by_aggregate.len());
        'aggregates: for (aggregate, (kind, by_sink)) in by_aggregate {
            let kind = Kind::parse(kind).ok_or_else(|| corrupt(format!("aggregate kind {kind:?}")))?;
            let mut lowest: Option<Version> = None;
            for model in ReadModel::ALL.into_iter().filter(|model| model.reads().contains(&kind)) {
                let Some(&version) = by_sink.get(model.name()) else {
                    continue 'aggregates;
                };
                let version = Version(unsigned(version)?);
                lowest = Some(lowest.map_or(version, |lowest| lowest.min(version)));
            }
            if let Some(lowest) = lowest {
                applied.insert(AggregateId(aggregate), lowest);
            }
        }
        Ok(applied)
    }
}

#[async_trait]
impl Queries for PostgresQueries {
    async fn venues(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<VenueView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {VENUE_COLUMNS} FROM venues WHERE NOT deleted"));
        if let Some((name, id)) = after {
            sql.push(" AND (name, venue_id) > (").push_bind(name).push(" COLLATE \"C\", ").push_bind(id).push(")");
        }
        sql.push(" ORDER BY name, venue_id LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<VenueRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        let venues = rows.into_iter().map(venue_view).collect::<Result<Vec<_>, _>>()?;
        Ok(page(venues, limit, |venue: &VenueView| encode_cursor(&venue.name, venue.id.0)))
    }

    async fn venue(&self, id: VenueId) -> Result<Option<VenueView>, QueryError> {
        let row: Option<VenueRow> =
            query_as(&format!("SELECT {VENUE_COLUMNS} FROM venues WHERE venue_id = $1 AND NOT deleted"))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(database)?;
        row.map(venue_view).transpose()
    }

    async fn concerts(&self, search: ConcertSearch) -> Result<Page<ConcertSummary>, QueryError> {
        let after = match search.cursor.as_deref().map(decode_cursor).transpose()? {
            Some((key, id)) => Some((parse_created(&key).map_err(|_| QueryError::InvalidCursor)?, id)),
            None => None,
        };
        let limit = page_size(search.limit);
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT c.concert_id, c.name, c.genre, c.starts_at, c.ends_at, v.venue_id, v.name, v.city \
             FROM catalogue c JOIN catalogue_venues v ON v.venue_id = c.venue_id \
             WHERE c.status = 'published' AND c.starts_at IS NOT NULL",
        );
        // Filters as semi-joins, so that each can use its trigram index.
        if let Some(q) = &search.q {
            let pattern = containing(q);
            sql.push(" AND c.concert_id IN (SELECT concert_id FROM catalogue WHERE lower(name) LIKE ")
                .push_bind(pattern.clone())
                .push(" UNION ALL SELECT k.concert_id FROM catalogue k JOIN catalogue_venues w ")
                .push("ON w.venue_id = k.venue_id WHERE lower(w.name) LIKE ")
                .push_bind(pattern)
                .push(")");
        }
        if let Some(location) = &search.location {
            let pattern = containing(location);
            sql.push(" AND c.venue_id IN (SELECT venue_id FROM catalogue_venues WHERE lower(city) LIKE ")
                .push_bind(pattern.clone())
                .push(" OR lower(address) LIKE ")
                .push_bind(pattern)
                .push(")");
        }
        if let Some(from) = search.from {
            sql.push(" AND c.starts_at >= ").push_bind(truncate_to_millis(from));
        }
        if let Some(to) = search.to {
            sql.push(" AND c.starts_at <= ").push_bind(truncate_to_millis(to));
        }
        if let Some(genre) = &search.genre {
            sql.push(" AND lower(c.genre) = ").push_bind(genre.to_ascii_lowercase()).push(" COLLATE \"C\"");
        }
        if let Some((starts_at, id)) = after {
            sql.push(" AND (c.starts_at, c.concert_id) > (").push_bind(starts_at).push(", ").push_bind(id).push(")");
        }
        sql.push(" ORDER BY c.starts_at, c.concert_id LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<ConcertSummaryRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        let concerts: Vec<ConcertSummary> = rows
            .into_iter()
            .map(|(id, name, genre, starts_at, ends_at, venue_id, venue_name, venue_city)| ConcertSummary {
                id: ConcertId(id),
                name,
                genre,
                starts_at,
                ends_at,
                venue: VenueRef { id: VenueId(venue_id), name: venue_name, city: venue_city },
            })
            .collect();
        Ok(page(concerts, limit, |concert: &ConcertSummary| {
            encode_cursor(&format_created(concert.starts_at), concert.id.0)
        }))
    }

    async fn drafts(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<DraftSummary>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT c.concert_id, c.name, c.genre, c.starts_at, v.venue_id, v.name, v.city \
             FROM catalogue c JOIN catalogue_venues v ON v.venue_id = c.venue_id WHERE c.status = 'draft'",
        );
        if let Some((name, id)) = after {
            sql.push(" AND (c.name, c.concert_id) > (")
                .push_bind(name)
                .push(" COLLATE \"C\", ")
                .push_bind(id)
                .push(")");
        }
        sql.push(" ORDER BY c.name, c.concert_id LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<DraftRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        let drafts: Vec<DraftSummary> = rows
            .into_iter()
            .map(|(id, name, genre, starts_at, venue_id, venue_name, venue_city)| DraftSummary {
                id: ConcertId(id),
                name,
                genre,
                starts_at,
                venue: VenueRef { id: VenueId(venue_id), name: venue_name, city: venue_city },
            })
            .collect();
        Ok(page(drafts, limit, |draft: &DraftSummary| encode_cursor(&draft.name, draft.id.0)))
    }

    async fn concert(&self, id: ConcertId, include_drafts: bool) -> Result<Option<ConcertView>, QueryError> {
        let rows: Vec<(ConcertRow, TicketTypeRow)> = query_as::<_, ConcertAndTicketType>(
            "SELECT c.concert_id, c.name, c.description, c.genre, c.image_url, c.status, c.starts_at, c.ends_at, \
             v.venue_id, v.name, v.city, \
             t.ticket_type_id, t.name, t.price_amount, t.currency, t.quantity, t.available \
             FROM catalogue c JOIN catalogue_venues v ON v.venue_id = c.venue_id \
             LEFT JOIN ticket_types t ON t.concert_id = c.concert_id \
             WHERE c.concert_id = $1 AND (c.status <> 'draft' OR $2) ORDER BY t.seq",
        )
        .bind(id.0)
        .bind(include_drafts)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?
        .into_iter()
        .map(|ConcertAndTicketType(concert, ticket_type)| (concert, ticket_type))
        .collect();
        let Some((
            (
                concert_id,
                name,
                description,
                genre,
                image_url,
                status_text,
                starts_at,
                ends_at,
                venue_id,
                venue_name,
                venue_city,
            ),
            _,
        )) = rows.first().cloned()
        else {
            return Ok(None);
        };
        let mut ticket_types = Vec::new();
        for (_, ticket_type) in rows {
            let (Some(id), Some(name), Some(amount), Some(currency), Some(quantity), Some(available)) = ticket_type
            else {
                continue;
            };
            ticket_types.push(TicketTypeView {
                id: TicketTypeId(id),
                name,
                price: money(amount, &currency)?,
                quantity: count(quantity)?,
                available: count(available)?,
            });
        }
        Ok(Some(ConcertView {
            id: ConcertId(concert_id),
            name,
            description,
            genre,
            image_url,
            status: status(&status_text)?,
            starts_at,
            ends_at,
            venue: VenueRef { id: VenueId(venue_id), name: venue_name, city: venue_city },
            ticket_types,
        }))
    }

    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError> {
        self.carts.cart(customer, now).await
    }

    async fn orders_page(
        &self,
        customer: Option<CustomerId>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<OrderView>, QueryError> {
        let after = match cursor.as_deref().map(decode_cursor).transpose()? {
            Some((key, id)) => Some((parse_created(&key).map_err(|_| QueryError::InvalidCursor)?, id)),
            None => None,
        };
        let limit = page_size(limit);
        let (placed, id) = after.map_or((None, None), |(placed, id)| (Some(placed), Some(id)));
        // The page's orders first, then their tickets: one row per ticket.
        let rows: Vec<OrderRow> = query_as(&format!(
            "{ORDER_SELECT} WHERE o.order_id IN (SELECT order_id FROM orders \
             WHERE ($1::uuid IS NULL OR customer_id = $1) \
             AND ($2::timestamptz IS NULL OR (placed_at, order_id) < ($2, $3)) \
             ORDER BY placed_at DESC, order_id DESC LIMIT $4) \
             ORDER BY o.placed_at DESC, o.order_id DESC, t.seq"
        ))
        .bind(customer.map(|customer| customer.0))
        .bind(placed)
        .bind(id)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        Ok(page(orders_from(rows)?, limit, |order| encode_cursor(&format_created(order.placed_at), order.id.0)))
    }

    async fn orders(&self, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError> {
        let mut sql = QueryBuilder::<Postgres>::new(ORDER_SELECT);
        if let Some(customer) = customer {
            sql.push(" WHERE o.customer_id = ").push_bind(customer.0);
        }
        sql.push(" ORDER BY o.placed_at DESC, o.order_id DESC, t.seq");
        let rows: Vec<OrderRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        orders_from(rows)
    }

    async fn order(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        let rows: Vec<OrderRow> = query_as(&format!("{ORDER_SELECT} WHERE o.order_id = $1 ORDER BY t.seq"))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(orders_from(rows)?.pop())
    }

    async fn ticket_order(&self, code: &TicketCode) -> Result<Option<OrderId>, QueryError> {
        let row: Option<(Uuid,)> = query_as("SELECT order_id FROM attendees WHERE ticket_code = $1")
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        Ok(row.map(|(id,)| OrderId(id)))
    }

    async fn attendees(&self, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError> {
        let rows: Vec<AttendeeRow> = query_as(&format!(
            "SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE concert_id = $1 ORDER BY ticket_code, order_id"
        ))
        .bind(concert_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        Ok(rows.into_iter().map(attendee_view).collect())
    }

    async fn attendees_page(
        &self,
        concert_id: ConcertId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<AttendeeView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        let (code, order) = after.map_or((None, None), |(code, order)| (Some(code), Some(order)));
        let rows: Vec<AttendeeRow> = query_as(&format!(
            "SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE concert_id = $1 \
             AND ($2::text IS NULL OR (ticket_code, order_id) > ($2, $3)) \
             ORDER BY ticket_code, order_id LIMIT $4"
        ))
        .bind(concert_id.0)
        .bind(code)
        .bind(order)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        let attendees: Vec<AttendeeView> = rows.into_iter().map(attendee_view).collect();
        Ok(page(attendees, limit, |attendee| encode_cursor(&attendee.ticket_code, attendee.order_id.0)))
    }

    async fn sales(&self, concert_id: ConcertId) -> Result<Vec<DailySales>, QueryError> {
        let rows: Vec<(NaiveDate, i64, i64, String)> =
            query_as("SELECT day, tickets, revenue_amount, currency FROM sales WHERE concert_id = $1 ORDER BY day")
                .bind(concert_id.0)
                .fetch_all(&self.pool)
                .await
                .map_err(database)?;
        rows.into_iter()
            .map(|(day, tickets, revenue, currency)| {
                Ok(DailySales { day, tickets_sold: unsigned(tickets)?, revenue: money(revenue, &currency)? })
            })
            .collect()
    }

    /// Always [`Position::START`]: the bus has no global position, and the
    /// read models apply each aggregate's events as they come, so no
    /// position of the log is known to be applied everywhere (the highest
    /// applied one is not: an earlier event of another aggregate may still
    /// be on its way). Wait with [`PostgresQueries::applied_version`]
    /// instead.
    async fn position(&self) -> Result<Position, QueryError> {
        Ok(Position::START)
    }

    /// Every aggregate written is applied at its version or later, here or
    /// in the carts read model (an aggregate is read by one or the other).
    async fn shows(&self, written: &Written) -> Result<bool, QueryError> {
        let ids: Vec<AggregateId> = written.versions.iter().map(|(aggregate_id, _)| *aggregate_id).collect();
        let here = self.applied_versions(&ids).await?;
        let pending: Vec<(AggregateId, Version)> = written
            .versions
            .iter()
            .filter(|(aggregate_id, version)| here.get(aggregate_id).is_none_or(|applied| applied < version))
            .copied()
            .collect();
        if pending.is_empty() {
            return Ok(true);
        }
        let ids: Vec<AggregateId> = pending.iter().map(|(aggregate_id, _)| *aggregate_id).collect();
        let carts = self.carts.applied_versions(&ids).await?;
        Ok(pending
            .iter()
            .all(|(aggregate_id, version)| carts.get(aggregate_id).is_some_and(|applied| applied >= version)))
    }
}
