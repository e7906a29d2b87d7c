//! The shapes the read side answers in. They are the API's raw material,
//! not its documents: `ticketing-api` maps each into the JSON it promises.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use ticketing::{ConcertId, ConcertProfile, CustomerId, HoldId, Money, OrderId, TicketTypeId, VenueId};

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
    /// What it tells buyers about itself, kept whole by the read models.
    #[serde(flatten)]
    pub profile: ConcertProfile,
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

/// Where an order stands: the domain's own.
pub use ticketing::OrderStatus;

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
    /// Tickets paid back that day (their concert was cancelled).
    pub tickets_refunded: u64,
    /// What was paid back that day.
    pub refunded: Money,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queries::Page;

    #[test]
    fn views_serialize_in_camel_case() {
        let search = ConcertSearch { cursor: Some("x".into()), ..ConcertSearch::default() };
        let json = serde_json::to_string(&Page { items: vec![search], next_cursor: None }).unwrap_or_default();
        assert!(json.contains(r#""nextCursor":null"#), "{json}");
    }
}
