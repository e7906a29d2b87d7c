//! Why a cart refuses a command, and how each refusal maps onto the API.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::ids::{ConcertId, HoldId};
use crate::limits;
use crate::refusal::RefusalKind;
use crate::values::Currency;

/// Why a cart refuses a command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CartError {
    /// An item with this id is in the cart.
    #[error("item {0} is already in the cart")]
    ItemExists(HoldId),
    /// The item's hold has run out already.
    #[error("the item's hold has already run out")]
    ItemExpiresInThePast,
    /// The cart holds [`limits::CART_ITEMS_MAX`] items.
    #[error("a cart holds at most {max} items", max = limits::CART_ITEMS_MAX)]
    TooManyItems,
    /// More than [`limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX`] tickets of
    /// one concert among the live items.
    #[error(
        "at most {max} tickets per concert per purchase: {in_cart} in the cart, {requested} more requested",
        max = limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX
    )]
    TooManyTicketsForConcert {
        /// The concert.
        concert_id: ConcertId,
        /// Its tickets among the live items.
        in_cart: u32,
        /// The item's quantity.
        requested: u32,
    },
    /// More than [`limits::TICKETS_HELD_PER_CUSTOMER_MAX`] tickets among the
    /// live items, whatever their concerts.
    #[error(
        "a customer holds at most {max} tickets at once across all concerts: {held} held, {requested} more \
         requested; check out or remove tickets first",
        max = limits::TICKETS_HELD_PER_CUSTOMER_MAX
    )]
    TooManyTicketsHeld {
        /// Tickets among the live items.
        held: u32,
        /// The item's quantity.
        requested: u32,
    },
    /// A price above [`limits::TICKET_PRICE_MINOR_UNITS_MAX`].
    #[error("a ticket costs at most {max} minor units", max = limits::TICKET_PRICE_MINOR_UNITS_MAX)]
    PriceTooHigh,
    /// One cart, one currency.
    #[error("the cart is in {expected}, not {actual}")]
    CurrencyMismatch {
        /// The currency of the items in the cart.
        expected: Currency,
        /// The new item's.
        actual: Currency,
    },
    /// No item with this id.
    #[error("item {0} is not in the cart")]
    ItemNotFound(HoldId),
    /// The item's hold has not run out.
    #[error("item {item_id} is held until {expires_at}")]
    ItemNotExpired {
        /// The item.
        item_id: HoldId,
        /// When its hold runs out.
        expires_at: DateTime<Utc>,
    },
    /// Nothing to check out.
    #[error("the cart is empty")]
    Empty,
    /// An item's hold ran out: expired holds cannot be checked out.
    #[error("item {item_id} expired at {expires_at}")]
    ItemExpired {
        /// The item.
        item_id: HoldId,
        /// When its hold ran out.
        expires_at: DateTime<Utc>,
    },
    /// The customer was disabled by an organiser.
    #[error("this customer was disabled by the shop on {since}; ask the shop why")]
    CustomerDisabled {
        /// Since when.
        since: DateTime<Utc>,
    },
}

impl CartError {
    /// How the refusal maps onto the API.
    pub fn kind(&self) -> RefusalKind {
        match self {
            CartError::ItemNotFound(_) => RefusalKind::NotFound,
            CartError::ItemExpiresInThePast
            | CartError::TooManyItems
            | CartError::TooManyTicketsForConcert { .. }
            | CartError::TooManyTicketsHeld { .. }
            | CartError::PriceTooHigh
            | CartError::CurrencyMismatch { .. } => RefusalKind::Invalid,
            CartError::ItemExists(_)
            | CartError::ItemNotExpired { .. }
            | CartError::Empty
            | CartError::ItemExpired { .. } => RefusalKind::Conflict,
            CartError::CustomerDisabled { .. } => RefusalKind::Forbidden,
        }
    }
}
