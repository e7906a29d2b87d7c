//! Why a concert refuses a command, and what kind of refusal each reason is.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::ids::{HoldId, TicketTypeId};
use crate::limits;
use crate::refusal::RefusalKind;
use crate::values::Currency;

/// Why a concert refuses a command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConcertError {
    /// The concert does not exist (no `Create` yet).
    #[error("the concert does not exist")]
    NotFound,
    /// `Create` on a concert that exists.
    #[error("the concert already exists")]
    AlreadyExists,
    /// The concert is cancelled; only holds can still be given back.
    #[error("the concert is cancelled")]
    Cancelled,
    /// Only a draft accepts this (adding ticket types, publishing).
    #[error("the concert is no longer a draft")]
    NotDraft,
    /// Only a published concert sells tickets.
    #[error("the concert is not on sale")]
    NotOnSale,
    /// The concert has started: no more sales or rescheduling.
    #[error("the concert started at {starts_at}")]
    AlreadyStarted {
        /// When it started.
        starts_at: DateTime<Utc>,
    },
    /// An update that changes nothing.
    #[error("the update names no field to change")]
    NothingToUpdate,
    /// The concert must end after it starts.
    #[error("a concert must end after it starts")]
    EndsBeforeItStarts,
    /// Longer than [`limits::CONCERT_DURATION_DAYS_MAX`].
    #[error("a concert lasts at most {max} days", max = limits::CONCERT_DURATION_DAYS_MAX)]
    TooLong,
    /// Scheduled to start at or before the current time.
    #[error("a concert must be scheduled in the future")]
    StartsInThePast,
    /// Publishing needs dates.
    #[error("the concert has no schedule")]
    NotScheduled,
    /// Publishing needs a ticket type.
    #[error("the concert offers no ticket type")]
    NoTicketTypes,
    /// A ticket type with this id exists.
    #[error("ticket type {0} already exists")]
    TicketTypeExists(TicketTypeId),
    /// More than [`limits::TICKET_TYPES_PER_CONCERT_MAX`] ticket types.
    #[error("a concert offers at most {max} ticket types", max = limits::TICKET_TYPES_PER_CONCERT_MAX)]
    TooManyTicketTypes,
    /// A price above [`limits::TICKET_PRICE_MINOR_UNITS_MAX`].
    #[error("a ticket costs at most {max} minor units", max = limits::TICKET_PRICE_MINOR_UNITS_MAX)]
    PriceTooHigh,
    /// All ticket types of a concert are priced in one currency.
    #[error("the concert is priced in {expected}, not {actual}")]
    CurrencyMismatch {
        /// The currency of the existing ticket types.
        expected: Currency,
        /// The one given.
        actual: Currency,
    },
    /// The ticket types together would hold more people than the venue.
    #[error("{requested} tickets in total exceed the venue's capacity of {capacity}")]
    CapacityExceeded {
        /// The venue's capacity.
        capacity: u32,
        /// The total with the new ticket type.
        requested: u32,
    },
    /// No ticket type with this id.
    #[error("ticket type {0} does not exist")]
    TicketTypeNotFound(TicketTypeId),
    /// Tickets of this type are held or sold.
    #[error("ticket type {ticket_type_id} has {held} tickets held and {sold} sold")]
    TicketTypeInUse {
        /// Which one.
        ticket_type_id: TicketTypeId,
        /// Held tickets.
        held: u32,
        /// Sold tickets.
        sold: u32,
    },
    /// A published concert must keep at least one ticket type.
    #[error("a published concert keeps at least one ticket type")]
    LastTicketType,
    /// A hold that would have expired already.
    #[error("a hold must expire after it is made")]
    HoldExpiresInThePast,
    /// A hold longer than [`limits::HOLD_MINUTES`].
    #[error("a hold lasts at most {max} minutes", max = limits::HOLD_MINUTES)]
    HoldTooLong,
    /// More than [`limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX`] tickets.
    #[error("at most {max} tickets per purchase, not {requested}", max = limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX)]
    TooManyTicketsPerPurchase {
        /// How many were asked for.
        requested: u32,
    },
    /// A hold with this id exists.
    #[error("hold {0} already exists")]
    HoldExists(HoldId),
    /// Fewer tickets are available than asked for.
    #[error("not enough tickets: {available} available, {requested} requested")]
    NotEnoughTickets {
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many could be held now.
        available: u32,
        /// How many were asked for.
        requested: u32,
    },
    /// No live hold with this id (never made, or already released, expired
    /// or sold).
    #[error("hold {0} does not exist")]
    HoldNotFound(HoldId),
    /// The hold has not run out yet.
    #[error("hold {hold_id} runs until {expires_at}")]
    HoldNotExpired {
        /// The hold.
        hold_id: HoldId,
        /// When it runs out.
        expires_at: DateTime<Utc>,
    },
    /// The hold ran out: its tickets cannot be sold.
    #[error("hold {hold_id} expired at {expires_at}")]
    HoldExpired {
        /// The hold.
        hold_id: HoldId,
        /// When it ran out.
        expires_at: DateTime<Utc>,
    },
    /// A sale must name at least one hold.
    #[error("no holds to sell")]
    NoHolds,
    /// A sale names a hold twice.
    #[error("hold {0} is listed twice")]
    DuplicateHold(HoldId),
    /// More buckets than [`limits::BUCKETS_PER_CONCERT_MAX`].
    #[error("a concert sells from at most {max} buckets, not {requested}", max = limits::BUCKETS_PER_CONCERT_MAX)]
    TooManyBuckets {
        /// How many were asked for.
        requested: u16,
    },
    /// Its tickets are held in its buckets, not in the concert itself.
    #[error("the concert's tickets are sold from its buckets")]
    SoldFromBuckets,
    /// A bucket was opened before.
    #[error("the bucket is open already")]
    BucketOpen,
    /// Fewer unheld tickets in a bucket than a move takes out of it.
    #[error("a bucket has {available} tickets of type {ticket_type_id} to move, not {requested}")]
    NothingToMove {
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many could be moved.
        available: u32,
        /// How many were asked for.
        requested: u32,
    },
}

impl ConcertError {
    /// How the refusal maps onto the API.
    pub fn kind(&self) -> RefusalKind {
        use ConcertError as E;
        match self {
            E::NotFound | E::TicketTypeNotFound(_) | E::HoldNotFound(_) => RefusalKind::NotFound,
            E::NothingToUpdate
            | E::EndsBeforeItStarts
            | E::TooLong
            | E::StartsInThePast
            | E::TooManyTicketTypes
            | E::PriceTooHigh
            | E::CurrencyMismatch { .. }
            | E::CapacityExceeded { .. }
            | E::HoldExpiresInThePast
            | E::HoldTooLong
            | E::TooManyTicketsPerPurchase { .. }
            | E::NoHolds
            | E::DuplicateHold(_)
            | E::TooManyBuckets { .. } => RefusalKind::Invalid,
            E::AlreadyExists
            | E::Cancelled
            | E::NotDraft
            | E::NotOnSale
            | E::AlreadyStarted { .. }
            | E::NotScheduled
            | E::NoTicketTypes
            | E::TicketTypeExists(_)
            | E::TicketTypeInUse { .. }
            | E::LastTicketType
            | E::HoldExists(_)
            | E::NotEnoughTickets { .. }
            | E::HoldNotExpired { .. }
            | E::HoldExpired { .. }
            | E::SoldFromBuckets
            | E::BucketOpen
            | E::NothingToMove { .. } => RefusalKind::Conflict,
        }
    }
}
