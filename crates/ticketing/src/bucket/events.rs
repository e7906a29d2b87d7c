//! What happens to a bucket: the changes of its own (opening, moves, following its concert) and the hold events,
//! which are the concert's own, so that every read model counts a bucket's sales as its concert's.

use chrono::{DateTime, Utc};
use es_core::{CodecError, DomainEvent, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};

use super::Allotment;
use crate::ConcertEvent;
use crate::ids::{ConcertId, TicketTypeId};

/// What happened to a bucket of its own: opening, moves and the concert's
/// changes it follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum BucketChange {
    /// The bucket opened with its share.
    #[serde(rename = "BucketOpened")]
    Opened {
        /// The concert.
        concert_id: ConcertId,
        /// Which of its buckets.
        index: u16,
        /// When the concert starts.
        starts_at: DateTime<Utc>,
        /// Its share of every ticket type.
        stock: Vec<Allotment>,
    },
    /// The concert moved.
    #[serde(rename = "BucketRescheduled")]
    Rescheduled {
        /// When it now starts.
        starts_at: DateTime<Utc>,
    },
    /// The concert withdrew a ticket type.
    #[serde(rename = "BucketTicketTypeWithdrawn")]
    TicketTypeWithdrawn {
        /// Which one.
        ticket_type_id: TicketTypeId,
    },
    /// The concert was cancelled.
    #[serde(rename = "BucketClosed")]
    Closed {},
    /// Tickets went to another bucket.
    #[serde(rename = "BucketTicketsMovedOut")]
    MovedOut {
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many.
        quantity: u32,
        /// The receiving bucket's index.
        to: u16,
    },
    /// Tickets came from another bucket.
    #[serde(rename = "BucketTicketsMovedIn")]
    MovedIn {
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many.
        quantity: u32,
        /// The giving bucket's index.
        from: u16,
    },
}

/// Every `EventType` of [`BucketChange`].
pub const BUCKET_EVENT_TYPES: [&str; 6] = [
    "BucketOpened",
    "BucketRescheduled",
    "BucketTicketTypeWithdrawn",
    "BucketClosed",
    "BucketTicketsMovedOut",
    "BucketTicketsMovedIn",
];

/// The concert events a bucket writes: those about holds.
pub const HOLD_EVENT_TYPES: [&str; 5] =
    ["TicketsHeld", "TicketHoldReleased", "TicketHoldExpired", "TicketsSold", "TicketHoldsAwaitingPayment"];

/// What happened to a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketEvent {
    /// Of the bucket itself.
    Change(BucketChange),
    /// About its holds: one of [`HOLD_EVENT_TYPES`], exactly as a concert
    /// selling its own tickets writes it.
    Holds(ConcertEvent),
}

impl DomainEvent for BucketEvent {
    fn event_type(&self) -> &'static str {
        match self {
            BucketEvent::Change(change) => {
                let index = match change {
                    BucketChange::Opened { .. } => 0,
                    BucketChange::Rescheduled { .. } => 1,
                    BucketChange::TicketTypeWithdrawn { .. } => 2,
                    BucketChange::Closed {} => 3,
                    BucketChange::MovedOut { .. } => 4,
                    BucketChange::MovedIn { .. } => 5,
                };
                BUCKET_EVENT_TYPES[index]
            }
            BucketEvent::Holds(event) => event.event_type(),
        }
    }

    fn encode(&self) -> Result<String, CodecError> {
        match self {
            BucketEvent::Change(change) => encode_adjacent(self.event_type(), change),
            BucketEvent::Holds(event) => event.encode(),
        }
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        if BUCKET_EVENT_TYPES.contains(&event_type) {
            return decode_adjacent(event_type, data).map(BucketEvent::Change);
        }
        if HOLD_EVENT_TYPES.contains(&event_type) {
            return ConcertEvent::decode(event_type, data).map(BucketEvent::Holds);
        }
        Err(CodecError::UnknownType(event_type.to_owned()))
    }
}
