//! The JSON documents of the read routes, mapped from the application layer's view types. They live here, not in
//! `ticketing-app`, so that the HTTP contract (camelCase, ids as UUID strings, money as `{amount, currency}` in
//! minor units, times in RFC 3339 UTC with milliseconds, statuses in lower case) changes only with the API, and a
//! new field of a view type reaches clients only when someone writes it down here.
//!
//! Each document derives its OpenAPI schema (`utoipa::ToSchema`) from the same fields serde writes. A member that may
//! be unknown is still always written, as `null`, so its schema says required and nullable; only an event's
//! metadata leaves members out.

use chrono::{DateTime, NaiveDate, Utc};
use es_core::format_created;
use serde::{Serialize, Serializer};
use ticketing::{AgeLimit, Money};
use ticketing_app::queries::{
    AttendeeView, CartItemView, CartView, ConcertStatusView, ConcertSummary, ConcertView, DailySales, DraftSummary,
    OrderTicketView, OrderView, Page, TicketTypeView, VenueRef, VenueView,
};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

mod log;

pub(crate) use log::EventRecord;

/// A time as the log writes `Created`: RFC 3339, UTC, milliseconds, `Z`; one format for every time the API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp(pub(crate) DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_created(self.0))
    }
}

/// Documented as what it serializes to: an RFC 3339 `date-time` string.
impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339, UTC, milliseconds: `2030-02-01T20:00:00.000Z`."))
            .examples(["2030-02-01T20:00:00.000Z"])
            .into()
    }
}

impl ToSchema for Timestamp {}

/// Money: integer minor units and a currency code.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Money)]
pub(crate) struct MoneyView {
    amount: u64,
    currency: String,
}

impl From<Money> for MoneyView {
    fn from(money: Money) -> Self {
        Self { amount: money.amount, currency: money.currency.as_str().to_owned() }
    }
}

/// One page of a list and the cursor of the next (`null` on the last page).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageBody<T> {
    items: Vec<T>,
    #[schema(required = true)]
    next_cursor: Option<String>,
}

impl<T> PageBody<T> {
    /// A page of `items`, followed by the page at `next_cursor`.
    pub(crate) fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        Self { items, next_cursor }
    }

    /// The application layer's page, its items mapped.
    pub(crate) fn from_page<V>(page: Page<V>, map: impl FnMut(V) -> T) -> Self {
        Self { items: page.items.into_iter().map(map).collect(), next_cursor: page.next_cursor }
    }
}

/// A whole list, unpaged: one that is bounded by what it belongs to (a concert's days of sales).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Items<T> {
    items: Vec<T>,
}

impl<T> Items<T> {
    /// The list of `views`, mapped.
    pub(crate) fn from_views<V>(views: Vec<V>, map: impl FnMut(V) -> T) -> Self {
        Self { items: views.into_iter().map(map).collect() }
    }
}

/// `GET /venues/{venueId}` and the items of `GET /venues`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Venue {
    id: Uuid,
    name: String,
    address: String,
    city: String,
    capacity: u32,
    #[schema(required = true)]
    description: Option<String>,
    #[schema(required = true)]
    web_url: Option<String>,
}

impl From<VenueView> for Venue {
    fn from(view: VenueView) -> Self {
        Self {
            id: view.id.as_uuid(),
            name: view.name,
            address: view.address,
            city: view.city,
            capacity: view.capacity,
            description: view.description,
            web_url: view.web_url,
        }
    }
}

/// A concert's venue, as much as a listing needs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VenueSummary {
    id: Uuid,
    name: String,
    city: String,
}

impl From<VenueRef> for VenueSummary {
    fn from(view: VenueRef) -> Self {
        Self { id: view.id.as_uuid(), name: view.name, city: view.city }
    }
}

/// An item of `GET /concerts`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConcertListed {
    id: Uuid,
    name: String,
    #[schema(required = true)]
    genre: Option<String>,
    starts_at: Timestamp,
    ends_at: Timestamp,
    venue: VenueSummary,
}

impl From<ConcertSummary> for ConcertListed {
    fn from(view: ConcertSummary) -> Self {
        Self {
            id: view.id.as_uuid(),
            name: view.name,
            genre: view.genre,
            starts_at: Timestamp(view.starts_at),
            ends_at: Timestamp(view.ends_at),
            venue: view.venue.into(),
        }
    }
}

/// An item of `GET /concerts/drafts`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DraftListed {
    id: Uuid,
    name: String,
    #[schema(required = true)]
    genre: Option<String>,
    /// Absent until the concert is scheduled.
    #[schema(required = true)]
    starts_at: Option<Timestamp>,
    venue: VenueSummary,
}

impl From<DraftSummary> for DraftListed {
    fn from(view: DraftSummary) -> Self {
        Self {
            id: view.id.as_uuid(),
            name: view.name,
            genre: view.genre,
            starts_at: view.starts_at.map(Timestamp),
            venue: view.venue.into(),
        }
    }
}

/// A ticket type on a concert's page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketType {
    id: Uuid,
    name: String,
    price: MoneyView,
    quantity: u32,
    available: u32,
}

impl From<TicketTypeView> for TicketType {
    fn from(view: TicketTypeView) -> Self {
        Self {
            id: view.id.as_uuid(),
            name: view.name,
            price: view.price.into(),
            quantity: view.quantity,
            available: view.available,
        }
    }
}

/// `GET /concerts/{concertId}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Concert {
    id: Uuid,
    name: String,
    #[schema(required = true)]
    description: Option<String>,
    #[schema(required = true)]
    genre: Option<String>,
    #[schema(required = true)]
    image_url: Option<String>,
    /// The youngest a visitor may be, in years.
    #[schema(required = true)]
    age_limit: Option<u32>,
    /// `draft`, `published` or `cancelled`.
    #[schema(value_type = String, examples("published"))]
    status: &'static str,
    #[schema(required = true)]
    starts_at: Option<Timestamp>,
    #[schema(required = true)]
    ends_at: Option<Timestamp>,
    venue: VenueSummary,
    ticket_types: Vec<TicketType>,
}

impl From<ConcertView> for Concert {
    fn from(view: ConcertView) -> Self {
        let status = match view.status {
            ConcertStatusView::Draft => "draft",
            ConcertStatusView::Published => "published",
            ConcertStatusView::Cancelled => "cancelled",
        };
        Self {
            id: view.id.as_uuid(),
            name: view.name,
            description: view.profile.description.map(|text| text.as_str().to_owned()),
            genre: view.profile.genre.map(|text| text.as_str().to_owned()),
            image_url: view.profile.image_url.map(|url| url.as_str().to_owned()),
            age_limit: view.profile.age_limit.map(AgeLimit::years),
            status,
            starts_at: view.starts_at.map(Timestamp),
            ends_at: view.ends_at.map(Timestamp),
            venue: view.venue.into(),
            ticket_types: view.ticket_types.into_iter().map(TicketType::from).collect(),
        }
    }
}

/// An item of `GET /cart`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CartItem {
    id: Uuid,
    concert_id: Uuid,
    ticket_type_id: Uuid,
    quantity: u32,
    unit_price: MoneyView,
    expires_at: Timestamp,
}

impl From<CartItemView> for CartItem {
    fn from(view: CartItemView) -> Self {
        Self {
            id: view.id.as_uuid(),
            concert_id: view.concert_id.as_uuid(),
            ticket_type_id: view.ticket_type_id.as_uuid(),
            quantity: view.quantity,
            unit_price: view.unit_price.into(),
            expires_at: Timestamp(view.expires_at),
        }
    }
}

/// `GET /cart`: the live items and their total (`null` for an empty cart, which has no currency).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Cart {
    items: Vec<CartItem>,
    #[schema(required = true)]
    total: Option<MoneyView>,
}

impl From<CartView> for Cart {
    fn from(view: CartView) -> Self {
        Self { items: view.items.into_iter().map(CartItem::from).collect(), total: view.total.map(MoneyView::from) }
    }
}

/// A ticket of an order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderTicket {
    code: String,
    concert_id: Uuid,
    ticket_type_id: Uuid,
}

impl From<OrderTicketView> for OrderTicket {
    fn from(view: OrderTicketView) -> Self {
        Self { code: view.code, concert_id: view.concert_id.as_uuid(), ticket_type_id: view.ticket_type_id.as_uuid() }
    }
}

/// `GET /orders/{orderId}` and the items of `GET /orders`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Order {
    id: Uuid,
    customer_id: Uuid,
    /// Where its payment stands: `pendingPayment` (its tickets held, not
    /// yet listed), `paid` (its tickets valid), `failed` or `expired` (its
    /// tickets back on sale), `refunded` (every concert it bought was
    /// cancelled and paid back). Tickets of a cancelled concert that were
    /// paid back are no longer listed.
    #[schema(value_type = String, pattern = "^(pendingPayment|paid|failed|expired|refunded)$", examples("paid"))]
    status: &'static str,
    total: MoneyView,
    tickets: Vec<OrderTicket>,
    placed_at: Timestamp,
}

impl From<OrderView> for Order {
    fn from(view: OrderView) -> Self {
        let status = view.status.as_str();
        Self {
            id: view.id.as_uuid(),
            customer_id: view.customer_id.as_uuid(),
            status,
            total: view.total.into(),
            tickets: view.tickets.into_iter().map(OrderTicket::from).collect(),
            placed_at: Timestamp(view.placed_at),
        }
    }
}

/// An item of `GET /concerts/{concertId}/attendees`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attendee {
    ticket_code: String,
    order_id: Uuid,
    customer_id: Uuid,
    ticket_type_id: Uuid,
    #[schema(required = true)]
    checked_in_at: Option<Timestamp>,
}

impl From<AttendeeView> for Attendee {
    fn from(view: AttendeeView) -> Self {
        Self {
            ticket_code: view.ticket_code,
            order_id: view.order_id.as_uuid(),
            customer_id: view.customer_id.as_uuid(),
            ticket_type_id: view.ticket_type_id.as_uuid(),
            checked_in_at: view.checked_in_at.map(Timestamp),
        }
    }
}

/// An item of `GET /concerts/{concertId}/sales`: one UTC day (`YYYY-MM-DD`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DaySales {
    day: NaiveDate,
    tickets_sold: u64,
    revenue: MoneyView,
    /// Tickets paid back that day because the concert was cancelled.
    tickets_refunded: u64,
    /// What was paid back that day.
    refunded: MoneyView,
}

impl From<DailySales> for DaySales {
    fn from(view: DailySales) -> Self {
        Self {
            day: view.day,
            tickets_sold: view.tickets_sold,
            revenue: view.revenue.into(),
            tickets_refunded: view.tickets_refunded,
            refunded: view.refunded.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_are_shown_in_utc_with_milliseconds() {
        let time = Utc.with_ymd_and_hms(2030, 2, 1, 20, 0, 0).single().expect("a valid time");

        let json = serde_json::to_value(Timestamp(time)).expect("a time serializes");

        assert_eq!(json, "2030-02-01T20:00:00.000Z");
    }
}
