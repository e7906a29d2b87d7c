//! A customer's cart: the tickets they hold while deciding to buy. Each
//! customer has one cart whose aggregate id is their customer id
//! ([`crate::CartId::of`]), so finding it needs no read model and it cannot
//! be created twice; it exists implicitly (no "cart created" event) and is
//! empty again after every checkout, ready for the next purchase.
//!
//! Every item is backed by a hold on its concert with the same id: the
//! application layer adds an item together with `Concert::HoldTickets`,
//! removes or expires it together with releasing or expiring the hold, and
//! checks out together with `Concert::SellHeldTickets` and `Order::Place`,
//! each as one atomic append. The cart enforces the per-purchase limit
//! (story TS05) and the limit on the tickets one customer holds across all
//! concerts at once ([`limits::TICKETS_HELD_PER_CUSTOMER_MAX`]): the cart is
//! the one place that sees every ticket a customer holds, so the rule that
//! keeps one account from locking up the inventory of many concerts lives
//! here; the concert enforces availability.
//!
//! The cart is also where an organiser disables a customer (story AD02,
//! [`standing`]): every purchase goes through it, so the refusal costs the
//! buyers' path no read or write of its own.
//!
//! Decisions: one cart holds one currency (its total is a single amount);
//! checkout *refuses* a cart with an expired item instead of silently
//! dropping it, so the buyer never pays for a different set of tickets than
//! the one they saw; the expiry process removes the item first.

use chrono::{DateTime, Utc};
use es_core::{Aggregate, CodecError, DomainEvent, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};

use crate::ids::{ConcertId, HoldId, OrderId, TicketTypeId};
use crate::limits;
use crate::values::{Money, Quantity};

mod errors;
mod standing;
#[cfg(test)]
mod tests;

pub use errors::CartError;

/// The state of one cart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    items: Vec<CartItem>,
    /// Since when an organiser has disabled its customer, while they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled_since: Option<DateTime<Utc>>,
}

/// Tickets in a cart, backed by a hold with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartItem {
    /// The item's id: the id of the hold on the concert.
    pub item_id: HoldId,
    /// The concert.
    pub concert_id: ConcertId,
    /// The ticket type.
    pub ticket_type_id: TicketTypeId,
    /// How many tickets.
    pub quantity: Quantity,
    /// The price of one ticket when it was put in the cart: the price the
    /// customer pays.
    pub unit_price: Money,
    /// When the hold behind the item runs out.
    pub expires_at: DateTime<Utc>,
    /// The concert's bucket that keeps the hold; `None`: the concert itself.
    pub bucket: Option<u16>,
}

impl CartItem {
    /// Whether its hold still runs at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }

    /// `unit_price × quantity`.
    pub fn subtotal(&self) -> Money {
        self.unit_price
            .times(self.quantity)
            .expect("invariant: prices and quantities in a cart are bounded far below u64::MAX")
    }
}

/// What can be asked of a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CartCommand {
    /// Puts tickets held on a concert into the cart.
    AddItem {
        /// The item, with the id of its hold.
        item: CartItem,
        /// The current time: before the item's `expires_at`.
        now: DateTime<Utc>,
    },
    /// Takes an item out (the customer changed their mind).
    RemoveItem {
        /// Which item.
        item_id: HoldId,
    },
    /// Takes out an item whose hold has run out.
    ExpireItem {
        /// Which item.
        item_id: HoldId,
        /// The current time: at or after the item's `expires_at`.
        now: DateTime<Utc>,
    },
    /// Buys every item, which empties the cart.
    CheckOut {
        /// The order that the purchase becomes.
        order_id: OrderId,
        /// The current time: every item must still be live.
        now: DateTime<Utc>,
    },
    /// An organiser disables the customer: they can no longer put tickets
    /// in the cart nor check out. Disabling a disabled customer changes
    /// nothing.
    DisableCustomer {
        /// The current time.
        now: DateTime<Utc>,
    },
    /// An organiser enables the customer again.
    EnableCustomer {
        /// The current time.
        now: DateTime<Utc>,
    },
}

/// What happened to a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum CartEvent {
    /// Tickets were put in the cart.
    #[serde(rename = "CartItemAdded")]
    ItemAdded {
        /// The item's (and its hold's) id.
        item_id: HoldId,
        /// The concert.
        concert_id: ConcertId,
        /// The ticket type.
        ticket_type_id: TicketTypeId,
        /// How many tickets.
        quantity: Quantity,
        /// The price of one ticket.
        unit_price: Money,
        /// When the hold runs out.
        expires_at: DateTime<Utc>,
        /// The concert's bucket that keeps the hold; absent: the concert.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bucket: Option<u16>,
    },
    /// The customer took an item out.
    #[serde(rename = "CartItemRemoved")]
    ItemRemoved {
        /// Which item.
        item_id: HoldId,
    },
    /// An item's hold ran out and the item was taken out.
    #[serde(rename = "CartItemExpired")]
    ItemExpired {
        /// Which item.
        item_id: HoldId,
    },
    /// Every item was bought; the cart is empty again.
    #[serde(rename = "CartCheckedOut")]
    CheckedOut {
        /// The order the purchase became.
        order_id: OrderId,
        /// The items bought.
        item_ids: Vec<HoldId>,
        /// What they cost together.
        total: Money,
    },
    /// An organiser disabled the cart's customer.
    #[serde(rename = "CustomerDisabled")]
    CustomerDisabled {
        /// When.
        disabled_at: DateTime<Utc>,
    },
    /// An organiser enabled the cart's customer again.
    #[serde(rename = "CustomerEnabled")]
    CustomerEnabled {
        /// When.
        enabled_at: DateTime<Utc>,
    },
}

/// Every `EventType` of [`CartEvent`].
pub const CART_EVENT_TYPES: [&str; 6] =
    ["CartItemAdded", "CartItemRemoved", "CartItemExpired", "CartCheckedOut", "CustomerDisabled", "CustomerEnabled"];

impl DomainEvent for CartEvent {
    fn event_type(&self) -> &'static str {
        match self {
            CartEvent::ItemAdded { .. } => CART_EVENT_TYPES[0],
            CartEvent::ItemRemoved { .. } => CART_EVENT_TYPES[1],
            CartEvent::ItemExpired { .. } => CART_EVENT_TYPES[2],
            CartEvent::CheckedOut { .. } => CART_EVENT_TYPES[3],
            CartEvent::CustomerDisabled { .. } => CART_EVENT_TYPES[4],
            CartEvent::CustomerEnabled { .. } => CART_EVENT_TYPES[5],
        }
    }

    fn encode(&self) -> Result<String, CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        if !CART_EVENT_TYPES.contains(&event_type) {
            return Err(CodecError::UnknownType(event_type.to_owned()));
        }
        decode_adjacent(event_type, data)
    }
}

impl Cart {
    /// Every item, live or expired, in the order they were added.
    pub fn items(&self) -> &[CartItem] {
        &self.items
    }

    /// One item.
    pub fn item(&self, item_id: HoldId) -> Option<&CartItem> {
        self.items.iter().find(|item| item.item_id == item_id)
    }

    /// The items whose holds still run at `now`.
    pub fn live_items(&self, now: DateTime<Utc>) -> impl Iterator<Item = &CartItem> {
        self.items.iter().filter(move |item| item.is_live(now))
    }

    /// What the live items cost together at `now`; `None` when there are
    /// none.
    pub fn total(&self, now: DateTime<Utc>) -> Option<Money> {
        total_of(self.live_items(now))
    }

    /// Tickets of `concert_id` among the live items at `now`.
    pub fn live_tickets_for(&self, concert_id: ConcertId, now: DateTime<Utc>) -> u32 {
        self.live_items(now).filter(|item| item.concert_id == concert_id).map(|item| item.quantity.get()).sum()
    }

    /// Tickets among the live items at `now`, whatever their concerts: what
    /// the customer holds.
    pub fn live_tickets(&self, now: DateTime<Utc>) -> u32 {
        self.live_items(now).map(|item| item.quantity.get()).sum()
    }

    fn find_item(&self, item_id: HoldId) -> Result<&CartItem, CartError> {
        self.item(item_id).ok_or(CartError::ItemNotFound(item_id))
    }

    fn decide_add(&self, item: &CartItem, now: DateTime<Utc>) -> Result<Vec<CartEvent>, CartError> {
        if self.item(item.item_id).is_some() {
            return Err(CartError::ItemExists(item.item_id));
        }
        if !item.is_live(now) {
            return Err(CartError::ItemExpiresInThePast);
        }
        if self.items.len() >= limits::CART_ITEMS_MAX {
            return Err(CartError::TooManyItems);
        }
        if item.unit_price.amount > limits::TICKET_PRICE_MINOR_UNITS_MAX {
            return Err(CartError::PriceTooHigh);
        }
        if let Some(first) = self.items.first()
            && first.unit_price.currency != item.unit_price.currency
        {
            return Err(CartError::CurrencyMismatch {
                expected: first.unit_price.currency,
                actual: item.unit_price.currency,
            });
        }
        let in_cart = self.live_tickets_for(item.concert_id, now);
        if in_cart + item.quantity.get() > limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX {
            return Err(CartError::TooManyTicketsForConcert {
                concert_id: item.concert_id,
                in_cart,
                requested: item.quantity.get(),
            });
        }
        let held = self.live_tickets(now);
        if held + item.quantity.get() > limits::TICKETS_HELD_PER_CUSTOMER_MAX {
            return Err(CartError::TooManyTicketsHeld { held, requested: item.quantity.get() });
        }
        let CartItem { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, bucket } = *item;
        Ok(vec![CartEvent::ItemAdded { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, bucket }])
    }

    fn decide_check_out(&self, order_id: OrderId, now: DateTime<Utc>) -> Result<Vec<CartEvent>, CartError> {
        if let Some(expired) = self.items.iter().find(|item| !item.is_live(now)) {
            return Err(CartError::ItemExpired { item_id: expired.item_id, expires_at: expired.expires_at });
        }
        let total = total_of(self.items.iter()).ok_or(CartError::Empty)?;
        let item_ids = self.items.iter().map(|item| item.item_id).collect();
        Ok(vec![CartEvent::CheckedOut { order_id, item_ids, total }])
    }
}

/// The sum of the items' subtotals. A cart's items share one currency and
/// are bounded in number, quantity and price, so the sum cannot fail.
fn total_of<'a>(mut items: impl Iterator<Item = &'a CartItem>) -> Option<Money> {
    let first = items.next()?.subtotal();
    Some(items.fold(first, |total, item| {
        total.plus(item.subtotal()).expect("invariant: a cart has one currency and a bounded total")
    }))
}

impl Aggregate for Cart {
    const KIND: &'static str = "cart";

    type Event = CartEvent;
    type Command = CartCommand;
    type Error = CartError;

    fn decide(&self, command: &CartCommand) -> Result<Vec<CartEvent>, CartError> {
        self.refuse_if_disabled(command)?;
        match command {
            CartCommand::AddItem { item, now } => self.decide_add(item, *now),
            CartCommand::RemoveItem { item_id } => {
                self.find_item(*item_id)?;
                Ok(vec![CartEvent::ItemRemoved { item_id: *item_id }])
            }
            CartCommand::ExpireItem { item_id, now } => {
                let item = self.find_item(*item_id)?;
                if item.is_live(*now) {
                    return Err(CartError::ItemNotExpired { item_id: *item_id, expires_at: item.expires_at });
                }
                Ok(vec![CartEvent::ItemExpired { item_id: *item_id }])
            }
            CartCommand::CheckOut { order_id, now } => self.decide_check_out(*order_id, *now),
            CartCommand::DisableCustomer { now } => Ok(self.decide_disable(*now)),
            CartCommand::EnableCustomer { now } => Ok(self.decide_enable(*now)),
        }
    }

    fn evolve(&mut self, event: &CartEvent) {
        match event {
            CartEvent::ItemAdded { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, bucket } => {
                self.items.push(CartItem {
                    item_id: *item_id,
                    concert_id: *concert_id,
                    ticket_type_id: *ticket_type_id,
                    quantity: *quantity,
                    unit_price: *unit_price,
                    expires_at: *expires_at,
                    bucket: *bucket,
                });
            }
            CartEvent::ItemRemoved { item_id } | CartEvent::ItemExpired { item_id } => {
                self.items.retain(|item| item.item_id != *item_id);
            }
            CartEvent::CheckedOut { .. } => self.items.clear(),
            CartEvent::CustomerDisabled { disabled_at } => self.disabled_since = Some(*disabled_at),
            CartEvent::CustomerEnabled { .. } => self.disabled_since = None,
        }
    }
}
