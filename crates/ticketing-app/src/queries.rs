//! The read side's port: what the REST API can ask of the read models, and
//! the shapes it gets back. Read models are derived from the log by
//! projections and may lag behind it; [`Queries::shows`] says whether they
//! show a request's writes yet, so a caller can wait for them. No SQL here:
//! backends implement [`Queries`] (SQLite in `ticketing-sqlite`).

use chrono::{DateTime, NaiveDate, Utc};
use es_core::{Position, async_trait, format_created};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use crate::paging::{
    CURSOR_BYTES_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, Page, SortOrder, decode_cursor, encode_cursor, page,
    page_in_memory, page_size,
};
use crate::written::Written;
use ticketing::{ConcertId, CustomerId, HoldId, Money, OrderId, TicketCode, TicketTypeId, VenueId};

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

/// A venue as listed and shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueView {
    /// Its id.
    pub id: VenueId,
    /// Its name.
    pub name: String,
    /// Its street address.
    pub address: String,
    /// Its city.
    pub city: String,
    /// How many people it holds.
    pub capacity: u32,
    /// Free text about it.
    pub description: Option<String>,
    /// Its website.
    pub web_url: Option<String>,
}

/// The venue of a concert, as much as a listing needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueRef {
    /// Its id.
    pub id: VenueId,
    /// Its name.
    pub name: String,
    /// Its city.
    pub city: String,
}

/// A concert in a search result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertSummary {
    /// Its id.
    pub id: ConcertId,
    /// Its name.
    pub name: String,
    /// Its genre.
    pub genre: Option<String>,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Where.
    pub venue: VenueRef,
}

/// A draft concert in the organisers' list: it may have no date yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftSummary {
    /// Its id.
    pub id: ConcertId,
    /// Its name.
    pub name: String,
    /// Its genre.
    pub genre: Option<String>,
    /// When it starts, once scheduled.
    pub starts_at: Option<DateTime<Utc>>,
    /// Where.
    pub venue: VenueRef,
}

/// Where a concert is in its life, as shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConcertStatusView {
    /// Being prepared; shown to organisers only.
    Draft,
    /// On sale.
    Published,
    /// Called off.
    Cancelled,
}

/// A ticket type of a concert with its availability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketTypeView {
    /// Its id.
    pub id: TicketTypeId,
    /// Its name.
    pub name: String,
    /// The price of one ticket.
    pub price: Money,
    /// How many exist.
    pub quantity: u32,
    /// How many can still be put in a cart (neither held nor sold).
    pub available: u32,
}

/// A concert's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertView {
    /// Its id.
    pub id: ConcertId,
    /// Its name.
    pub name: String,
    /// Free text about it.
    pub description: Option<String>,
    /// Its genre.
    pub genre: Option<String>,
    /// Its poster.
    pub image_url: Option<String>,
    /// Draft, published or cancelled.
    pub status: ConcertStatusView,
    /// When it starts, once scheduled.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends, once scheduled.
    pub ends_at: Option<DateTime<Utc>>,
    /// Where.
    pub venue: VenueRef,
    /// What it offers, in the order they were added.
    pub ticket_types: Vec<TicketTypeView>,
}

/// Tickets in a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartItemView {
    /// The item's id (also its hold's).
    pub id: HoldId,
    /// The concert.
    pub concert_id: ConcertId,
    /// The ticket type.
    pub ticket_type_id: TicketTypeId,
    /// How many tickets.
    pub quantity: u32,
    /// The price of one ticket.
    pub unit_price: Money,
    /// When the hold behind the item runs out.
    pub expires_at: DateTime<Utc>,
}

/// A customer's cart: its live items only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    /// The live items, in the order they were added.
    pub items: Vec<CartItemView>,
    /// What the items cost together; `None` for an empty cart.
    pub total: Option<Money>,
}

/// Where an order is in its life. The domain has no refunds yet, so an order
/// that exists is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// Paid, tickets issued.
    Placed,
}

/// One ticket of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTicketView {
    /// The code checked at the door.
    pub code: String,
    /// The concert.
    pub concert_id: ConcertId,
    /// The ticket type.
    pub ticket_type_id: TicketTypeId,
}

/// An order with its tickets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    /// Its id.
    pub id: OrderId,
    /// Who bought.
    pub customer_id: CustomerId,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// What it cost.
    pub total: Money,
    /// The tickets, in the order's line order.
    pub tickets: Vec<OrderTicketView>,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
}

/// One ticket holder of a concert, for the door.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttendeeView {
    /// The ticket's code.
    pub ticket_code: String,
    /// The order it came with.
    pub order_id: OrderId,
    /// Who bought it.
    pub customer_id: CustomerId,
    /// Its ticket type.
    pub ticket_type_id: TicketTypeId,
    /// When its holder came in, if they did.
    pub checked_in_at: Option<DateTime<Utc>>,
}

/// A concert's sales on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailySales {
    /// The UTC day of the sales.
    pub day: NaiveDate,
    /// Tickets sold that day.
    pub tickets_sold: u64,
    /// What they brought in, at the prices paid.
    pub revenue: Money,
}

/// A search of published concerts. Every filter present must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertSearch {
    /// Part of the concert's or the venue's name, any case.
    pub q: Option<String>,
    /// Part of the venue's city or address, any case.
    pub location: Option<String>,
    /// Starts at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starts at or before.
    pub to: Option<DateTime<Utc>>,
    /// The genre, exactly but in any case.
    pub genre: Option<String>,
    /// Page size; see [`page_size`].
    pub limit: Option<u32>,
    /// Where the page starts: a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// What the read models answer. Object safe: the API holds an
/// `Arc<dyn Queries>`. Nothing here writes: a hold that has run out is
/// hidden by `cart`, not removed.
#[async_trait]
pub trait Queries: Send + Sync + 'static {
    /// Venues that are not deleted, by name then id.
    async fn venues(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<VenueView>, QueryError>;

    /// One venue, unless unknown or deleted.
    async fn venue(&self, id: VenueId) -> Result<Option<VenueView>, QueryError>;

    /// Published concerts matching `search`, by start time then id.
    async fn concerts(&self, search: ConcertSearch) -> Result<Page<ConcertSummary>, QueryError>;

    /// Draft concerts (organisers find what they are preparing), by name
    /// then id. Like search, a concert shows once its venue has arrived.
    async fn drafts(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<DraftSummary>, QueryError>;

    /// One concert; drafts only when `include_drafts` (organisers).
    async fn concert(&self, id: ConcertId, include_drafts: bool) -> Result<Option<ConcertView>, QueryError>;

    /// A customer's cart: the items still live at `now`.
    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError>;

    /// A customer's orders, or everyone's for `None` (admins), newest first.
    async fn orders(&self, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError>;

    /// A page of [`Queries::orders`]: newest first (by the time placed, to
    /// the millisecond, then by id, highest first), after `cursor`. By
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

    /// A concert's ticket holders, by ticket code.
    async fn attendees(&self, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError>;

    /// A page of [`Queries::attendees`], by ticket code, after `cursor`. By
    /// default the list is read whole and paged in memory
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

    /// A concert's sales per UTC day, oldest first.
    async fn sales(&self, concert_id: ConcertId) -> Result<Vec<DailySales>, QueryError>;

    /// The lowest checkpoint over all read models: every event at or
    /// before it is visible to every query.
    async fn position(&self) -> Result<Position, QueryError>;

    /// Whether every query shows what a request wrote (read-your-writes,
    /// see [`crate::written`]). By default: the read models have passed the
    /// position of its last event, which holds for read models that follow
    /// the log in its order. Read models fed per aggregate (from a bus)
    /// compare each aggregate's applied version instead.
    async fn shows(&self, written: &Written) -> Result<bool, QueryError> {
        Ok(self.position().await? >= written.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_serialize_in_camel_case() {
        let search = ConcertSearch { cursor: Some("x".into()), ..ConcertSearch::default() };
        let json = serde_json::to_string(&Page { items: vec![search], next_cursor: None }).unwrap_or_default();
        assert!(json.contains(r#""nextCursor":null"#), "{json}");
    }
}
