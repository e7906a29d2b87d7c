//! What happened to a concert: its events, their stable names in the log, and their encoding. Hold events are the
//! same whether a concert or one of its buckets keeps the holds, so every read model counts them alike.

use chrono::{DateTime, Utc};
use es_core::{CodecError, DomainEvent, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};

use super::ConcertProfile;
use crate::ids::{CartId, HoldId, OrderId, TicketTypeId, VenueId};
use crate::values::{Capacity, Money, Name, Quantity};

/// One hold that became sold tickets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SoldHold {
    /// The hold.
    pub hold_id: HoldId,
    /// Which ticket type.
    pub ticket_type_id: TicketTypeId,
    /// How many tickets.
    pub quantity: Quantity,
}

/// What happened to a concert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum ConcertEvent {
    /// A draft concert was created.
    #[serde(rename = "ConcertCreated")]
    Created {
        /// Its name.
        name: Name,
        /// Where it takes place.
        venue_id: VenueId,
        /// The venue's capacity at the time.
        venue_capacity: Capacity,
        /// What it tells buyers about itself.
        #[serde(flatten)]
        profile: ConcertProfile,
    },
    /// Some details changed; `None` fields did not.
    #[serde(rename = "ConcertDetailsUpdated")]
    DetailsUpdated {
        /// The new name.
        name: Option<Name>,
        /// The profile's fields that changed.
        #[serde(flatten)]
        profile: ConcertProfile,
    },
    /// The concert got (new) dates.
    #[serde(rename = "ConcertScheduled")]
    Scheduled {
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// When it ends.
        ends_at: DateTime<Utc>,
    },
    /// A ticket type was offered.
    #[serde(rename = "TicketTypeAdded")]
    TicketTypeAdded {
        /// Its id.
        ticket_type_id: TicketTypeId,
        /// Its name.
        name: Name,
        /// The price of one ticket.
        price: Money,
        /// How many tickets.
        quantity: Quantity,
    },
    /// A ticket type was withdrawn.
    #[serde(rename = "TicketTypeRemoved")]
    TicketTypeRemoved {
        /// Its id.
        ticket_type_id: TicketTypeId,
    },
    /// The concert went on sale.
    #[serde(rename = "ConcertPublished")]
    Published {
        /// When.
        published_at: DateTime<Utc>,
        /// How many buckets sell its tickets; absent (0): the concert itself.
        #[serde(default, skip_serializing_if = "is_zero")]
        buckets: u16,
    },
    /// The concert was called off.
    #[serde(rename = "ConcertCancelled")]
    Cancelled {},
    /// Tickets were held for a cart.
    #[serde(rename = "TicketsHeld")]
    TicketsHeld {
        /// The hold.
        hold_id: HoldId,
        /// The cart.
        cart_id: CartId,
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many.
        quantity: Quantity,
        /// When the hold runs out.
        expires_at: DateTime<Utc>,
    },
    /// A hold was given back by its cart. Carries the ticket type and
    /// quantity so that availability read models need no other state.
    #[serde(rename = "TicketHoldReleased")]
    HoldReleased {
        /// The hold.
        hold_id: HoldId,
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many tickets became available again.
        quantity: Quantity,
    },
    /// A hold ran out and its tickets became available again.
    #[serde(rename = "TicketHoldExpired")]
    HoldExpired {
        /// The hold.
        hold_id: HoldId,
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many tickets became available again.
        quantity: Quantity,
    },
    /// A cart was checked out into an order that awaits its payment: its
    /// holds now belong to the order and last until `until`.
    #[serde(rename = "TicketHoldsAwaitingPayment")]
    HoldsAwaitingPayment {
        /// The order.
        order_id: OrderId,
        /// Its holds kept here.
        hold_ids: Vec<HoldId>,
        /// When they run out unless the order is paid.
        until: DateTime<Utc>,
    },
    /// Held tickets were sold to an order.
    #[serde(rename = "TicketsSold")]
    TicketsSold {
        /// The order.
        order_id: OrderId,
        /// The holds that were sold.
        holds: Vec<SoldHold>,
        /// When.
        sold_at: DateTime<Utc>,
    },
}

/// Every `EventType` of [`ConcertEvent`].
pub const CONCERT_EVENT_TYPES: [&str; 12] = [
    "ConcertCreated",
    "ConcertDetailsUpdated",
    "ConcertScheduled",
    "TicketTypeAdded",
    "TicketTypeRemoved",
    "ConcertPublished",
    "ConcertCancelled",
    "TicketsHeld",
    "TicketHoldReleased",
    "TicketHoldExpired",
    "TicketsSold",
    "TicketHoldsAwaitingPayment",
];

impl DomainEvent for ConcertEvent {
    fn event_type(&self) -> &'static str {
        let index = match self {
            ConcertEvent::Created { .. } => 0,
            ConcertEvent::DetailsUpdated { .. } => 1,
            ConcertEvent::Scheduled { .. } => 2,
            ConcertEvent::TicketTypeAdded { .. } => 3,
            ConcertEvent::TicketTypeRemoved { .. } => 4,
            ConcertEvent::Published { .. } => 5,
            ConcertEvent::Cancelled {} => 6,
            ConcertEvent::TicketsHeld { .. } => 7,
            ConcertEvent::HoldReleased { .. } => 8,
            ConcertEvent::HoldExpired { .. } => 9,
            ConcertEvent::TicketsSold { .. } => 10,
            ConcertEvent::HoldsAwaitingPayment { .. } => 11,
        };
        CONCERT_EVENT_TYPES[index]
    }

    fn encode(&self) -> Result<String, CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        if !CONCERT_EVENT_TYPES.contains(&event_type) {
            return Err(CodecError::UnknownType(event_type.to_owned()));
        }
        decode_adjacent(event_type, data)
    }
}

fn is_zero(value: &u16) -> bool {
    *value == 0
}
