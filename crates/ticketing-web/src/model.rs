//! The REST API's documents as the pages read them: the members the pages show, deserialized from the JSON the
//! API writes (camelCase, ids as UUIDs, money in minor units, RFC 3339 times). These are the web's own types, not
//! the API's, because the pages are a client of the API like any other; a member the pages do not use is left out
//! (serde ignores it), so the API can grow without breaking them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Money: integer minor units and a currency code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) struct Money {
    pub(crate) amount: u64,
    pub(crate) currency: String,
}

/// A page of a list and the cursor of the next one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next_cursor: Option<String>,
}

/// A whole list.
#[derive(Debug, Deserialize)]
pub(crate) struct Items<T> {
    pub(crate) items: Vec<T>,
}

/// A venue.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Venue {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) city: String,
    pub(crate) capacity: u32,
    pub(crate) web_url: Option<String>,
}

/// A concert's venue, as a listing names it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VenueSummary {
    pub(crate) name: String,
    pub(crate) city: String,
}

/// An item of the programme (`GET /concerts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConcertListed {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) genre: Option<String>,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) venue: VenueSummary,
}

/// An item of the organisers' drafts (`GET /concerts/drafts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DraftListed {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) starts_at: Option<DateTime<Utc>>,
    pub(crate) venue: VenueSummary,
}

/// A ticket type of a concert.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TicketType {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) price: Money,
    pub(crate) quantity: u32,
    pub(crate) available: u32,
}

/// Where a concert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ConcertStatus {
    /// Being prepared; only organisers see it.
    Draft,
    /// Listed and on sale.
    Published,
    /// Called off.
    Cancelled,
}

/// What a concert tells buyers about itself, as the API shows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConcertProfile {
    pub(crate) description: Option<String>,
    pub(crate) genre: Option<String>,
    pub(crate) image_url: Option<String>,
    pub(crate) age_limit: Option<u32>,
}

/// A concert with its ticket types (`GET /concerts/{concertId}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Concert {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    /// What it tells buyers about itself: the API's `description`, `genre`, `imageUrl`, … fields.
    #[serde(flatten)]
    pub(crate) profile: ConcertProfile,
    pub(crate) status: ConcertStatus,
    pub(crate) starts_at: Option<DateTime<Utc>>,
    pub(crate) ends_at: Option<DateTime<Utc>>,
    pub(crate) venue: VenueSummary,
    pub(crate) ticket_types: Vec<TicketType>,
}

impl Concert {
    /// The ticket type with this id, if the concert (still) offers it.
    pub(crate) fn ticket_type(&self, id: Uuid) -> Option<&TicketType> {
        self.ticket_types.iter().find(|ticket_type| ticket_type.id == id)
    }
}

/// An item of the caller's cart.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CartItem {
    pub(crate) id: Uuid,
    pub(crate) concert_id: Uuid,
    pub(crate) ticket_type_id: Uuid,
    pub(crate) quantity: u32,
    pub(crate) unit_price: Money,
    pub(crate) expires_at: DateTime<Utc>,
}

/// The caller's cart (`GET /cart`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Cart {
    pub(crate) items: Vec<CartItem>,
    pub(crate) total: Option<Money>,
}

/// A ticket of an order.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderTicket {
    pub(crate) code: String,
    pub(crate) concert_id: Uuid,
    pub(crate) ticket_type_id: Uuid,
}

/// An order (`GET /orders`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Order {
    pub(crate) id: Uuid,
    /// `pendingPayment`, `paid`, `failed` or `expired`.
    pub(crate) status: String,
    pub(crate) total: Money,
    pub(crate) tickets: Vec<OrderTicket>,
    pub(crate) placed_at: DateTime<Utc>,
}

/// A ticket sold for a concert, and its check-in (`GET /concerts/{concertId}/attendees`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attendee {
    pub(crate) ticket_code: String,
    pub(crate) order_id: Uuid,
    pub(crate) ticket_type_id: Uuid,
    pub(crate) checked_in_at: Option<DateTime<Utc>>,
}

/// A concert's sales on one UTC day (`GET /concerts/{concertId}/sales`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DaySales {
    pub(crate) day: NaiveDate,
    pub(crate) tickets_sold: u64,
    pub(crate) revenue: Money,
    /// Tickets paid back that day (the concert was cancelled).
    #[serde(default)]
    pub(crate) tickets_refunded: u64,
    /// What was paid back that day.
    pub(crate) refunded: Option<Money>,
}

/// The body of a 201 that created something.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Created {
    pub(crate) id: Uuid,
}

/// The body of a checkout.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckedOut {
    pub(crate) order_id: Uuid,
    pub(crate) payment: PaymentSummary,
}

/// How an order is paid, as checkout answers it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentSummary {
    /// `stripe`, `test` (the built-in provider: no money is taken) or `none` (nothing to pay).
    pub(crate) provider: String,
}

/// How an order is paid, and what the buyer's browser needs to pay it (`GET /orders/{orderId}/payment`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderPayment {
    /// `stripe`, `test` or `none`.
    pub(crate) provider: String,
    /// `pendingPayment`, `paid`, `failed` or `expired`.
    pub(crate) status: String,
    /// Stripe.js's `confirmCardPayment` takes it, while the order awaits payment and the provider can be reached.
    pub(crate) client_secret: Option<String>,
}

/// One invalid field of a request, as a problem lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) message: String,
}

/// An RFC 7807 problem, as every error of the API is written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Problem {
    pub(crate) status: u16,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) detail: String,
    #[serde(default)]
    pub(crate) errors: Vec<FieldError>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}: {}", self.status, self.title, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_concert_reads_from_the_json_the_api_writes() {
        let json = serde_json::json!({
            "id": "0190a0c0-0000-7000-8000-000000000001",
            "name": "Night of the Crabs",
            "description": null,
            "genre": "rock",
            "imageUrl": null,
            "status": "published",
            "startsAt": "2030-02-01T20:00:00.000Z",
            "endsAt": "2030-02-01T23:00:00.000Z",
            "venue": {"id": "0190a0c0-0000-7000-8000-000000000002", "name": "Paradiso", "city": "Amsterdam"},
            "ticketTypes": [{"id": "0190a0c0-0000-7000-8000-000000000003", "name": "Standing",
                             "price": {"amount": 3500, "currency": "EUR"}, "quantity": 800, "available": 798}],
            "aMemberAddedLater": true
        });

        let concert: Concert = serde_json::from_value(json).expect("the API's concert document reads");

        assert_eq!(concert.status, ConcertStatus::Published);
        assert_eq!(concert.ticket_types[0].price, Money { amount: 3500, currency: "EUR".to_owned() });
        assert_eq!(concert.starts_at.map(|time| time.to_rfc3339()), Some("2030-02-01T20:00:00+00:00".to_owned()));
    }
}
