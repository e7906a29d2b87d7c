//! What a concert remembers: its details, where it is in its life, its schedule, its ticket types with their
//! counts, and its live holds. Only what a decision needs is kept; the tickets sold belong to orders.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ConcertError, ConcertProfile, CountChange, HoldBook, count};
use crate::ids::{CartId, HoldId, OrderId, TicketTypeId, VenueId};
use crate::values::{Capacity, Money, Name, Quantity};

/// The state of one concert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Concert {
    pub(super) details: Option<ConcertDetails>,
    pub(super) status: ConcertStatus,
    pub(super) schedule: Option<Schedule>,
    pub(super) ticket_types: Vec<TicketType>,
    pub(super) holds: HoldBook,
    /// How many [`crate::Bucket`]s sell its tickets; 0: it sells them from
    /// its own stream.
    #[serde(default)]
    pub(super) buckets: u16,
}

/// What a concert is: everything an organiser can edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertDetails {
    /// Its name.
    pub name: Name,
    /// Where it takes place.
    pub venue_id: VenueId,
    /// The venue's capacity when the concert was created, copied by the
    /// application layer: the ticket types' quantities add up to at most this.
    pub venue_capacity: Capacity,
    /// What it tells buyers about itself.
    #[serde(flatten)]
    pub profile: ConcertProfile,
}

/// Where a concert is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConcertStatus {
    /// Being prepared; invisible to buyers.
    #[default]
    Draft,
    /// On sale (until it starts).
    Published,
    /// Called off; nothing more can be sold or changed.
    Cancelled,
}

/// When a concert takes place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// When it starts; sales stop then.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
}

/// A kind of ticket and its inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketType {
    /// Its id.
    pub id: TicketTypeId,
    /// Its name (`Early bird`).
    pub name: Name,
    /// The price of one ticket; zero for free tickets.
    pub price: Money,
    /// How many tickets of this type exist.
    pub quantity: Quantity,
    /// How many are held for carts right now.
    pub held: u32,
    /// How many were sold.
    pub sold: u32,
}

impl TicketType {
    /// How many can still be held: neither held nor sold.
    pub fn available(&self) -> u32 {
        // `held + sold <= quantity` always; saturating keeps a broken
        // invariant from wrapping around in release builds.
        self.quantity.get().saturating_sub(self.held.saturating_add(self.sold))
    }
}

/// Tickets held for a cart until they are sold, released or expire; from
/// checkout on, held for the order awaiting its payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    /// The cart they are held for.
    pub cart_id: CartId,
    /// Which ticket type.
    pub ticket_type_id: TicketTypeId,
    /// How many.
    pub quantity: Quantity,
    /// From when the hold may be released to other buyers.
    pub expires_at: DateTime<Utc>,
    /// The order awaiting payment the hold now belongs to, once its cart
    /// was checked out; its sale waits for the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
}

impl Hold {
    /// Whether the hold has run out at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

impl Concert {
    /// What it is; `None` until it is created.
    pub fn details(&self) -> Option<&ConcertDetails> {
        self.details.as_ref()
    }

    /// Where it is in its life.
    pub fn status(&self) -> ConcertStatus {
        self.status
    }

    /// When it takes place, once scheduled.
    pub fn schedule(&self) -> Option<Schedule> {
        self.schedule
    }

    /// Its ticket types, in the order they were added, with their inventory.
    pub fn ticket_types(&self) -> &[TicketType] {
        &self.ticket_types
    }

    /// One ticket type.
    pub fn ticket_type(&self, id: TicketTypeId) -> Option<&TicketType> {
        self.ticket_types.iter().find(|ticket_type| ticket_type.id == id)
    }

    /// The live holds (not yet released, expired or sold) of its own
    /// stock; none when buckets sell its tickets.
    pub fn holds(&self) -> &BTreeMap<HoldId, Hold> {
        self.holds.holds()
    }

    /// How many [`crate::Bucket`]s sell its tickets; 0 when it sells them
    /// itself (a draft, or a concert published without buckets).
    pub fn buckets(&self) -> u16 {
        self.buckets
    }

    /// Whether tickets can be held at `now`: published and not started.
    pub fn is_on_sale(&self, now: DateTime<Utc>) -> bool {
        self.status == ConcertStatus::Published && self.schedule.is_some_and(|schedule| schedule.starts_at > now)
    }

    pub(super) fn find_ticket_type(&self, id: TicketTypeId) -> Result<&TicketType, ConcertError> {
        self.ticket_type(id).ok_or(ConcertError::TicketTypeNotFound(id))
    }

    /// Applies a hold event to the counts of its ticket type and checks the
    /// invariant. The events were decided against this state, so the ticket
    /// type exists.
    pub(super) fn change_inventory(&mut self, change: &CountChange) {
        let ticket_type_id = change.ticket_type_id;
        let ticket_type = self.ticket_types.iter_mut().find(|ticket_type| ticket_type.id == ticket_type_id);
        debug_assert!(ticket_type.is_some(), "inventory event for unknown ticket type {ticket_type_id}");
        if let Some(ticket_type) = ticket_type {
            count(&mut ticket_type.held, &mut ticket_type.sold, change);
            debug_assert!(
                u64::from(ticket_type.held) + u64::from(ticket_type.sold) <= u64::from(ticket_type.quantity.get()),
                "held + sold exceeds the quantity of ticket type {ticket_type_id}"
            );
        }
    }
}
