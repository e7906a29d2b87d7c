//! # ticketing: the pure domain of the ticket shop
//!
//! Venues, concerts with their ticket inventory (kept by the concert, or
//! split over its [`bucket`]s so that buyers commit side by side), carts
//! and orders, each an
//! [`es_core::Aggregate`]: `decide` turns a command into events or refuses
//! it, `evolve` folds an event into the state. No I/O, no async, no clock,
//! no randomness: times, ids and ticket codes arrive inside commands, so
//! every rule is tested by a plain function call.
//!
//! The rules that span aggregates (a hold and its cart item, a checkout and
//! its sales and order, a schedule and its venue booking) are appended
//! atomically by the application layer with an `es_core::Transaction`;
//! [`process`] works out which commands they consist of.
//!
//! Invalid transitions are refusals, never silent no-ops: every error says
//! what kind of refusal it is ([`RefusalKind`]) so that the HTTP layer can
//! map it without knowing each variant.

pub mod bucket;
mod cart;
mod concert;
mod email;
mod ids;
pub mod limits;
mod order;
pub mod process;
mod refusal;
mod values;
mod venue;

#[cfg(test)]
mod scenario;

pub use bucket::{BUCKET_EVENT_TYPES, Bucket, BucketChange, BucketCommand, BucketEvent};
pub use cart::{CART_EVENT_TYPES, Cart, CartCommand, CartError, CartEvent, CartItem};
pub use concert::{
    AgeLimit, CONCERT_EVENT_TYPES, Concert, ConcertCommand, ConcertDetails, ConcertError, ConcertEvent, ConcertProfile,
    ConcertStatus, DetailsUpdate, Hold, HoldRequest, NewConcert, Schedule, SoldHold, TicketType,
};
pub use email::{EMAIL_CHARS_MAX, EmailAddress};
pub use ids::{BucketId, CartId, ConcertId, CustomerId, HoldId, OrderId, TicketTypeId, VenueId};
pub use order::{
    ORDER_EVENT_TYPES, Order, OrderCommand, OrderError, OrderEvent, OrderHolds, OrderLine, OrderStatus, PaidTickets,
    PaymentCommand, PaymentTerms, PlacedOrder, Refund, RefundCommand, TicketView,
};
pub use refusal::RefusalKind;
pub use values::{
    Address, Capacity, Currency, Description, Genre, Money, Name, Quantity, TicketCode, ValueError, WebUrl,
};
pub use venue::{Booking, VENUE_EVENT_TYPES, Venue, VenueCommand, VenueError, VenueEvent, VenueProfile};
