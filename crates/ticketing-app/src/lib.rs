//! # ticketing-app: the command side of the application layer
//!
//! The domain (`ticketing`) decides; this crate does everything around a
//! decision that the domain must not: it reads the clock, mints ids and
//! ticket codes, loads aggregates through their repositories, appends the
//! events of every aggregate a rule spans in one atomic append, and turns
//! every failure into one [`AppError`] that the HTTP layer maps without
//! knowing domain variants. Every handler runs its command through the
//! kernel's one runner ([`es_core::Runner`]): it retries on version
//! conflicts, confirms a refusal decided on cached states on fresh ones (a
//! refusal appends nothing, so no version check would notice a stale
//! cache), and lets reservations and checkouts on a busy concert share
//! appends.

mod buckets;
mod catalog;
mod codes;
mod customers;
mod delivery;
pub mod directory;
pub mod documents;
mod error;
mod expiry;
mod follow;
pub mod idempotency;
pub mod mail;
mod paging;
pub mod payments;
pub mod queries;
mod refunds;
mod sales;
mod settlement;
mod shop;
pub mod written;

pub use catalog::ConcertForm;
pub use codes::{RandomTicketCodes, TICKET_CODE_CHARS, TicketCodes};
pub use delivery::{DeliveryReport, TicketDelivery};
pub use error::{AppError, Cause};
pub use expiry::{DueHolds, HOLDS_EXPIRED, HoldExpiry, SweepReport, expire_due_holds};
pub use refunds::{CancellationRefunds, RefundReport};
pub use sales::{CONCERTS_PER_CART_MAX, Reservation};
pub use settlement::{OrderPayment, Settlement};
pub use shop::{COMMANDS, Shop};
/// The most buckets [`Shop::with_buckets_per_concert`] takes.
pub use ticketing::limits::BUCKETS_PER_CONCERT_MAX;
