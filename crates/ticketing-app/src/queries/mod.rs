//! The read side's ports: one small trait per read model, the shapes they
//! answer in (`views`), and [`ReadSide`], which puts one backend's answers
//! (or two backends') together for the API.
//!
//! Why a port per read model: a backend implements the read models it
//! serves and nothing else, so that no backend needs another. The embedded
//! SQLite backend serves all of them; on AWS, PostgreSQL serves the
//! relational ones and DynamoDB the carts, and the composition root joins
//! them in a [`ReadSide`]. A handler names the one port it reads.
//!
//! Read models are derived from the log by projections and may lag behind
//! it; [`ReadProgress`] says how far each backend has followed the log, and
//! [`ReadSide::shows`] whether a request's writes can be read yet, so a
//! caller can wait for them. No SQL here.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use es_core::{AggregateId, Position, async_trait, format_created};
use thiserror::Error;

pub use crate::paging::{
    CURSOR_BYTES_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, Page, SortOrder, decode_cursor, encode_cursor, page,
    page_in_memory, page_size,
};
use crate::written::Written;
use ticketing::{ConcertId, CustomerId, OrderId, TicketCode, VenueId};

mod views;

pub use views::{
    AttendeeView, CartItemView, CartView, ConcertSearch, ConcertStatusView, ConcertSummary, ConcertView, DailySales,
    DraftSummary, OrderStatus, OrderTicketView, OrderView, TicketTypeView, VenueRef, VenueView,
};

/// A read model could not answer.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The read-model store failed (or holds something unreadable); the
    /// store's own error is kept as the source, for whoever logs it.
    #[error("read model store: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A page cursor that this backend did not hand out.
    #[error("invalid page cursor")]
    InvalidCursor,
}

impl QueryError {
    /// The store failed with `error` (an error, or a message where there is none).
    pub fn store(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        QueryError::Store(error.into())
    }
}

/// The venues read model.
#[async_trait]
pub trait VenueQueries: Send + Sync + 'static {
    /// Venues that are not deleted, by name then id.
    async fn venues(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<VenueView>, QueryError>;

    /// One venue, unless unknown or deleted.
    async fn venue(&self, id: VenueId) -> Result<Option<VenueView>, QueryError>;
}

/// The catalogue: concerts with their venue and ticket types.
#[async_trait]
pub trait CatalogueQueries: Send + Sync + 'static {
    /// Published concerts matching `search`, by start time then id.
    async fn concerts(&self, search: ConcertSearch) -> Result<Page<ConcertSummary>, QueryError>;

    /// Draft concerts (organisers find what they are preparing), by name
    /// then id. Like search, a concert shows once its venue has arrived.
    async fn drafts(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<DraftSummary>, QueryError>;

    /// One concert; drafts only when `include_drafts` (organisers).
    async fn concert(&self, id: ConcertId, include_drafts: bool) -> Result<Option<ConcertView>, QueryError>;
}

/// The carts read model. Nothing here writes: a hold that has run out is
/// hidden, not removed.
#[async_trait]
pub trait CartQueries: Send + Sync + 'static {
    /// A customer's cart: the items still live at `now`.
    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError>;
}

/// The orders read model, with the tickets inside each order.
#[async_trait]
pub trait OrderQueries: Send + Sync + 'static {
    /// A customer's orders, or everyone's for `None` (admins), newest first.
    async fn orders(&self, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError>;

    /// A page of [`OrderQueries::orders`]: newest first (by the time placed,
    /// to the millisecond, then by id, highest first), after `cursor`. By
    /// default the list is read whole and paged in memory
    /// ([`page_in_memory`]); a backend overrides this to page in its store.
    async fn orders_page(
        &self,
        customer: Option<CustomerId>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<OrderView>, QueryError> {
        if let Some(cursor) = &cursor {
            decode_cursor(cursor)?;
        }
        let orders = self.orders(customer).await?;
        page_in_memory(orders, cursor.as_deref(), limit, SortOrder::Descending, |order: &OrderView| {
            (format_created(order.placed_at), order.id.0)
        })
    }

    /// One order.
    async fn order(&self, id: OrderId) -> Result<Option<OrderView>, QueryError>;

    /// The order holding the ticket with `code`, if any (the door scans
    /// codes, and a ticket lives inside its order).
    async fn ticket_order(&self, code: &TicketCode) -> Result<Option<OrderId>, QueryError>;
}

/// The attendees read model: who holds a ticket for a concert.
#[async_trait]
pub trait AttendeeQueries: Send + Sync + 'static {
    /// A concert's ticket holders, by ticket code.
    async fn attendees(&self, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError>;

    /// A page of [`AttendeeQueries::attendees`], by ticket code, after
    /// `cursor`. By default the list is read whole and paged in memory
    /// ([`page_in_memory`]); a backend overrides this to page in its store.
    async fn attendees_page(
        &self,
        concert_id: ConcertId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<AttendeeView>, QueryError> {
        if let Some(cursor) = &cursor {
            decode_cursor(cursor)?;
        }
        let attendees = self.attendees(concert_id).await?;
        page_in_memory(attendees, cursor.as_deref(), limit, SortOrder::Ascending, |attendee: &AttendeeView| {
            (attendee.ticket_code.clone(), attendee.order_id.0)
        })
    }
}

/// The daily sales read model.
#[async_trait]
pub trait SalesQueries: Send + Sync + 'static {
    /// A concert's sales per UTC day, oldest first.
    async fn sales(&self, concert_id: ConcertId) -> Result<Vec<DailySales>, QueryError>;
}

/// How far one backend's read models have followed the log.
#[async_trait]
pub trait ReadProgress: Send + Sync + 'static {
    /// The lowest checkpoint over the backend's read models: every event at
    /// or before it is visible to every query. [`Position::START`] where the
    /// read models follow the log per aggregate (from a bus), so that no
    /// position is known to be applied everywhere.
    async fn position(&self) -> Result<Position, QueryError>;

    /// Which of the aggregates in `written` these read models show at the
    /// version written (read-your-writes, see [`crate::written`]). By
    /// default all of them once [`ReadProgress::position`] has passed the
    /// last event written, which holds for read models that follow the log
    /// in its order; read models fed per aggregate compare each aggregate's
    /// applied version instead, and leave out the aggregates they do not
    /// read.
    async fn shown(&self, written: &Written) -> Result<HashSet<AggregateId>, QueryError> {
        if self.position().await? >= written.position {
            Ok(written.versions.iter().map(|(aggregate_id, _)| *aggregate_id).collect())
        } else {
            Ok(HashSet::new())
        }
    }
}

/// Every read model's port, from the backends that serve them: what the API
/// reads. Cheap to clone.
#[derive(Clone)]
pub struct ReadSide {
    venues: Arc<dyn VenueQueries>,
    catalogue: Arc<dyn CatalogueQueries>,
    carts: Arc<dyn CartQueries>,
    orders: Arc<dyn OrderQueries>,
    attendees: Arc<dyn AttendeeQueries>,
    sales: Arc<dyn SalesQueries>,
    progress: Vec<Arc<dyn ReadProgress>>,
}

impl std::fmt::Debug for ReadSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSide").field("backends", &self.progress.len()).finish_non_exhaustive()
    }
}

impl ReadSide {
    /// Every read model from `relational`, except carts, which come from
    /// `carts`. Both may be the same backend (the embedded mode's).
    pub fn new<R, C>(relational: Arc<R>, carts: Arc<C>) -> Self
    where
        R: VenueQueries + CatalogueQueries + OrderQueries + AttendeeQueries + SalesQueries + ReadProgress,
        C: CartQueries + ReadProgress,
    {
        let mut progress: Vec<Arc<dyn ReadProgress>> = vec![relational.clone()];
        if !std::ptr::addr_eq(Arc::as_ptr(&relational), Arc::as_ptr(&carts)) {
            progress.push(carts.clone());
        }
        Self {
            venues: relational.clone(),
            catalogue: relational.clone(),
            carts,
            orders: relational.clone(),
            attendees: relational.clone(),
            sales: relational,
            progress,
        }
    }

    /// Every read model from one backend.
    pub fn of<B>(backend: Arc<B>) -> Self
    where
        B: VenueQueries + CatalogueQueries + CartQueries + OrderQueries + AttendeeQueries + SalesQueries + ReadProgress,
    {
        Self::new(backend.clone(), backend)
    }

    /// The venues.
    pub fn venues(&self) -> &Arc<dyn VenueQueries> {
        &self.venues
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &Arc<dyn CatalogueQueries> {
        &self.catalogue
    }

    /// The carts.
    pub fn carts(&self) -> &Arc<dyn CartQueries> {
        &self.carts
    }

    /// The orders.
    pub fn orders(&self) -> &Arc<dyn OrderQueries> {
        &self.orders
    }

    /// The attendees.
    pub fn attendees(&self) -> &Arc<dyn AttendeeQueries> {
        &self.attendees
    }

    /// The daily sales.
    pub fn sales(&self) -> &Arc<dyn SalesQueries> {
        &self.sales
    }

    /// The lowest [`ReadProgress::position`] over the backends.
    pub async fn position(&self) -> Result<Position, QueryError> {
        let mut lowest: Option<Position> = None;
        for backend in &self.progress {
            let position = backend.position().await?;
            lowest = Some(lowest.map_or(position, |lowest| lowest.min(position)));
        }
        Ok(lowest.unwrap_or(Position::START))
    }

    /// Whether every read model shows what a request wrote: each aggregate
    /// written is shown by a backend that reads it. The backends are asked
    /// in turn, each about what the ones before did not show.
    pub async fn shows(&self, written: &Written) -> Result<bool, QueryError> {
        if written.versions.is_empty() {
            return Ok(self.position().await? >= written.position);
        }
        shown_by_some(&self.progress, written).await
    }
}

/// Whether each aggregate of `written` is shown by one of `backends`, asked
/// in turn, each about what the ones before did not show.
async fn shown_by_some(backends: &[Arc<dyn ReadProgress>], written: &Written) -> Result<bool, QueryError> {
    let mut pending: Option<Written> = None;
    for backend in backends {
        let asked = pending.as_ref().unwrap_or(written);
        let shown = backend.shown(asked).await?;
        if asked.versions.iter().all(|(aggregate_id, _)| shown.contains(aggregate_id)) {
            return Ok(true);
        }
        let mut left = asked.clone();
        left.versions.retain(|(aggregate_id, _)| !shown.contains(aggregate_id));
        pending = Some(left);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use es_core::Version;
    use uuid::Uuid;

    use super::*;

    /// Read models fed per aggregate that have applied `applied`, and note
    /// what they were asked about.
    #[derive(Default)]
    struct PerAggregate {
        applied: Vec<(AggregateId, Version)>,
        asked: Mutex<Vec<AggregateId>>,
    }

    #[async_trait]
    impl ReadProgress for PerAggregate {
        async fn position(&self) -> Result<Position, QueryError> {
            Ok(Position::START)
        }

        async fn shown(&self, written: &Written) -> Result<HashSet<AggregateId>, QueryError> {
            let mut asked = self.asked.lock().map_err(|_| QueryError::store("poisoned"))?;
            asked.extend(written.versions.iter().map(|(aggregate_id, _)| *aggregate_id));
            Ok(written
                .versions
                .iter()
                .filter(|(aggregate_id, version)| {
                    self.applied.iter().any(|(applied_id, applied)| applied_id == aggregate_id && applied >= version)
                })
                .map(|(aggregate_id, _)| *aggregate_id)
                .collect())
        }
    }

    fn id() -> AggregateId {
        AggregateId(Uuid::new_v4())
    }

    #[tokio::test]
    async fn a_write_is_shown_once_each_aggregate_is_applied_by_one_backend_or_the_other() {
        let (order, cart) = (id(), id());
        let written = Written { position: Position::START, versions: vec![(order, Version(3)), (cart, Version(7))] };
        let relational = Arc::new(PerAggregate { applied: vec![(order, Version(3))], ..PerAggregate::default() });
        let carts = Arc::new(PerAggregate { applied: vec![(cart, Version(6))], ..PerAggregate::default() });
        let backends: Vec<Arc<dyn ReadProgress>> = vec![relational.clone(), carts.clone()];

        assert_eq!(shown_by_some(&backends, &written).await.ok(), Some(false), "the cart is one version behind");
        assert_eq!(carts.asked.lock().map(|asked| asked.clone()).ok(), Some(vec![cart]), "asked only what is left");

        let carts = Arc::new(PerAggregate { applied: vec![(cart, Version(7))], ..PerAggregate::default() });
        let backends: Vec<Arc<dyn ReadProgress>> = vec![relational, carts];
        assert_eq!(shown_by_some(&backends, &written).await.ok(), Some(true));
    }
}
