//! A concert: its details, its schedule, the ticket types it offers, and the
//! inventory of each ticket type. The inventory lives in the concert because
//! "never sell more tickets than there are" is a rule over all buyers at
//! once: every hold and every sale appends to the concert's stream, so the
//! version check lets only one of two racing buyers take the last ticket.
//!
//! Tickets are first *held* for a cart for [`limits::HOLD_MINUTES`] (story
//! TS06), then *sold* at checkout, or released when the buyer removes them
//! or the hold expires. For each ticket type `held + sold <= quantity`
//! always. The concert keeps the live holds (so that it can refuse unknown,
//! expired or settled ones) but only *counts* of sold tickets: the tickets
//! themselves belong to orders, so the state stays small after 100 000 sales.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use es_core::{Aggregate, CodecError, DomainEvent, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{CartId, HoldId, OrderId, TicketTypeId, VenueId};
use crate::limits;
use crate::refusal::RefusalKind;
use crate::values::{Capacity, Currency, Description, Genre, Money, Name, Quantity, WebUrl};

mod holds;
#[cfg(test)]
mod tests;

pub(crate) use holds::{CountChange, HoldBook, count};

/// The state of one concert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Concert {
    details: Option<ConcertDetails>,
    status: ConcertStatus,
    schedule: Option<Schedule>,
    ticket_types: Vec<TicketType>,
    holds: HoldBook,
    /// How many [`crate::Bucket`]s sell its tickets; 0: it sells them from
    /// its own stream.
    #[serde(default)]
    buckets: u16,
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
    /// Free text about it.
    pub description: Option<Description>,
    /// Its genre (story CS07).
    pub genre: Option<Genre>,
    /// Its poster.
    pub image_url: Option<WebUrl>,
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

/// Tickets held for a cart until they are sold, released or expire.
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
}

impl Hold {
    /// Whether the hold has run out at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// The fields of a new concert: its details as first set.
pub type NewConcert = ConcertDetails;

/// The details to change; `None` leaves a field as it is (story CS03).
/// Optional fields cannot be cleared, only replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetailsUpdate {
    /// A new name.
    pub name: Option<Name>,
    /// A new description.
    pub description: Option<Description>,
    /// A new genre.
    pub genre: Option<Genre>,
    /// A new poster.
    pub image_url: Option<WebUrl>,
}

/// What can be asked of a concert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConcertCommand {
    /// Creates it as a draft (story CS01).
    Create(NewConcert),
    /// Changes its details, unless it is cancelled.
    UpdateDetails(DetailsUpdate),
    /// Sets or moves its dates: in a draft, or in a published concert that
    /// has not started. The application layer books the venue
    /// ([`crate::VenueCommand::Book`]) in the same append.
    Schedule {
        /// When it starts: after `now`.
        starts_at: DateTime<Utc>,
        /// When it ends: after `starts_at`, within
        /// [`limits::CONCERT_DURATION_DAYS_MAX`].
        ends_at: DateTime<Utc>,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Offers a ticket type. Only in a draft: what a published concert
    /// offers is what buyers have seen.
    AddTicketType {
        /// Its id, minted at the edge.
        ticket_type_id: TicketTypeId,
        /// Its name.
        name: Name,
        /// The price of one ticket (zero allowed), in the same currency as
        /// the concert's other ticket types, at most
        /// [`limits::TICKET_PRICE_MINOR_UNITS_MAX`].
        price: Money,
        /// How many tickets; all types together fit in the venue.
        quantity: Quantity,
    },
    /// Withdraws a ticket type none of whose tickets are held or sold.
    RemoveTicketType {
        /// Which one.
        ticket_type_id: TicketTypeId,
    },
    /// Puts a draft on sale: it needs dates in the future and a ticket type.
    /// The application layer marks the venue booking published in the same
    /// append.
    Publish {
        /// The current time.
        now: DateTime<Utc>,
        /// How many buckets will sell its tickets (at most
        /// [`limits::BUCKETS_PER_CONCERT_MAX`]); 0 sells them from the
        /// concert's own stream. The application layer opens the buckets in
        /// the same append.
        buckets: u16,
    },
    /// Calls off a draft or a published concert (story CS02). Live holds stay
    /// until their carts release them or they expire; nothing more is sold.
    Cancel,
    /// Holds tickets for a cart (story TS06).
    HoldTickets(HoldRequest),
    /// Gives held tickets back (the buyer removed them from the cart).
    ReleaseHold {
        /// Which hold.
        hold_id: HoldId,
    },
    /// Gives the tickets of a hold that has run out back.
    ExpireHold {
        /// Which hold.
        hold_id: HoldId,
        /// The current time: at or after the hold's `expires_at`.
        now: DateTime<Utc>,
    },
    /// Turns live holds into sold tickets (checkout).
    SellHeldTickets {
        /// The holds, none expired, none listed twice.
        hold_ids: Vec<HoldId>,
        /// The order the tickets go to.
        order_id: OrderId,
        /// The current time.
        now: DateTime<Utc>,
    },
}

/// What [`ConcertCommand::HoldTickets`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldRequest {
    /// The cart.
    pub cart_id: CartId,
    /// The new hold's id, minted at the edge; also the cart item's id.
    pub hold_id: HoldId,
    /// Which ticket type.
    pub ticket_type_id: TicketTypeId,
    /// How many: at most [`limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX`].
    pub quantity: Quantity,
    /// The current time: before the concert starts.
    pub now: DateTime<Utc>,
    /// When the hold runs out: after `now`, at most [`limits::HOLD_MINUTES`]
    /// later.
    pub expires_at: DateTime<Utc>,
}

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
        /// Free text about it.
        description: Option<Description>,
        /// Its genre.
        genre: Option<Genre>,
        /// Its poster.
        image_url: Option<WebUrl>,
    },
    /// Some details changed; `None` fields did not.
    #[serde(rename = "ConcertDetailsUpdated")]
    DetailsUpdated {
        /// The new name.
        name: Option<Name>,
        /// The new description.
        description: Option<Description>,
        /// The new genre.
        genre: Option<Genre>,
        /// The new poster.
        image_url: Option<WebUrl>,
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
pub const CONCERT_EVENT_TYPES: [&str; 11] = [
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

    fn find_ticket_type(&self, id: TicketTypeId) -> Result<&TicketType, ConcertError> {
        self.ticket_type(id).ok_or(ConcertError::TicketTypeNotFound(id))
    }

    fn refuse_if_started(&self, now: DateTime<Utc>) -> Result<(), ConcertError> {
        match self.schedule {
            Some(Schedule { starts_at, .. }) if starts_at <= now => Err(ConcertError::AlreadyStarted { starts_at }),
            _ => Ok(()),
        }
    }

    fn decide_create(&self, new: &NewConcert) -> Result<Vec<ConcertEvent>, ConcertError> {
        if self.details.is_some() {
            return Err(ConcertError::AlreadyExists);
        }
        let NewConcert { name, venue_id, venue_capacity, description, genre, image_url } = new.clone();
        Ok(vec![ConcertEvent::Created { name, venue_id, venue_capacity, description, genre, image_url }])
    }

    fn decide_update(&self, update: &DetailsUpdate) -> Result<Vec<ConcertEvent>, ConcertError> {
        if *update == DetailsUpdate::default() {
            return Err(ConcertError::NothingToUpdate);
        }
        let DetailsUpdate { name, description, genre, image_url } = update.clone();
        Ok(vec![ConcertEvent::DetailsUpdated { name, description, genre, image_url }])
    }

    fn decide_schedule(
        &self,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConcertEvent>, ConcertError> {
        if self.status == ConcertStatus::Published {
            self.refuse_if_started(now)?;
        }
        if starts_at >= ends_at {
            return Err(ConcertError::EndsBeforeItStarts);
        }
        if ends_at - starts_at > TimeDelta::days(limits::CONCERT_DURATION_DAYS_MAX) {
            return Err(ConcertError::TooLong);
        }
        if starts_at <= now {
            return Err(ConcertError::StartsInThePast);
        }
        Ok(vec![ConcertEvent::Scheduled { starts_at, ends_at }])
    }

    fn decide_add_ticket_type(
        &self,
        details: &ConcertDetails,
        ticket_type_id: TicketTypeId,
        name: &Name,
        price: Money,
        quantity: Quantity,
    ) -> Result<Vec<ConcertEvent>, ConcertError> {
        if self.status != ConcertStatus::Draft {
            return Err(ConcertError::NotDraft);
        }
        if self.ticket_type(ticket_type_id).is_some() {
            return Err(ConcertError::TicketTypeExists(ticket_type_id));
        }
        if self.ticket_types.len() >= limits::TICKET_TYPES_PER_CONCERT_MAX {
            return Err(ConcertError::TooManyTicketTypes);
        }
        if price.amount > limits::TICKET_PRICE_MINOR_UNITS_MAX {
            return Err(ConcertError::PriceTooHigh);
        }
        if let Some(first) = self.ticket_types.first()
            && first.price.currency != price.currency
        {
            return Err(ConcertError::CurrencyMismatch { expected: first.price.currency, actual: price.currency });
        }
        // Each quantity is at most VENUE_CAPACITY_MAX and there are at most
        // TICKET_TYPES_PER_CONCERT_MAX of them: the sum fits in a u64.
        let offered: u64 = self.ticket_types.iter().map(|ticket_type| u64::from(ticket_type.quantity.get())).sum();
        let requested = offered + u64::from(quantity.get());
        let capacity = details.venue_capacity.get();
        if requested > u64::from(capacity) {
            let requested = u32::try_from(requested).unwrap_or(u32::MAX);
            return Err(ConcertError::CapacityExceeded { capacity, requested });
        }
        Ok(vec![ConcertEvent::TicketTypeAdded { ticket_type_id, name: name.clone(), price, quantity }])
    }

    fn decide_remove_ticket_type(&self, ticket_type_id: TicketTypeId) -> Result<Vec<ConcertEvent>, ConcertError> {
        let ticket_type = self.find_ticket_type(ticket_type_id)?;
        if ticket_type.held > 0 || ticket_type.sold > 0 {
            return Err(ConcertError::TicketTypeInUse {
                ticket_type_id,
                held: ticket_type.held,
                sold: ticket_type.sold,
            });
        }
        if self.status == ConcertStatus::Published && self.ticket_types.len() == 1 {
            return Err(ConcertError::LastTicketType);
        }
        Ok(vec![ConcertEvent::TicketTypeRemoved { ticket_type_id }])
    }

    fn decide_publish(&self, now: DateTime<Utc>, buckets: u16) -> Result<Vec<ConcertEvent>, ConcertError> {
        if self.status != ConcertStatus::Draft {
            return Err(ConcertError::NotDraft);
        }
        if self.schedule.is_none() {
            return Err(ConcertError::NotScheduled);
        }
        self.refuse_if_started(now)?;
        if self.ticket_types.is_empty() {
            return Err(ConcertError::NoTicketTypes);
        }
        if buckets > limits::BUCKETS_PER_CONCERT_MAX {
            return Err(ConcertError::TooManyBuckets { requested: buckets });
        }
        Ok(vec![ConcertEvent::Published { published_at: now, buckets }])
    }

    fn decide_hold(&self, request: &HoldRequest) -> Result<Vec<ConcertEvent>, ConcertError> {
        if self.status != ConcertStatus::Published {
            return Err(ConcertError::NotOnSale);
        }
        if self.buckets > 0 {
            return Err(ConcertError::SoldFromBuckets);
        }
        self.refuse_if_started(request.now)?;
        let available = self.ticket_type(request.ticket_type_id).map(TicketType::available);
        Ok(vec![self.holds.decide_hold(request, available)?])
    }

    /// Applies a hold event to the counts of its ticket type and checks the
    /// invariant. The events were decided against this state, so the ticket
    /// type exists.
    fn change_inventory(&mut self, change: &CountChange) {
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

impl Aggregate for Concert {
    const KIND: &'static str = "concert";

    type Event = ConcertEvent;
    type Command = ConcertCommand;
    type Error = ConcertError;

    fn decide(&self, command: &ConcertCommand) -> Result<Vec<ConcertEvent>, ConcertError> {
        if let ConcertCommand::Create(new) = command {
            return self.decide_create(new);
        }
        let Some(details) = &self.details else {
            return Err(ConcertError::NotFound);
        };
        // Holds can always be given back, so that carts can let go of a
        // cancelled concert's tickets.
        let settles_a_hold = matches!(command, ConcertCommand::ReleaseHold { .. } | ConcertCommand::ExpireHold { .. });
        if self.status == ConcertStatus::Cancelled && !settles_a_hold {
            return Err(ConcertError::Cancelled);
        }
        match command {
            ConcertCommand::Create(_) => Err(ConcertError::AlreadyExists),
            ConcertCommand::UpdateDetails(update) => self.decide_update(update),
            ConcertCommand::Schedule { starts_at, ends_at, now } => self.decide_schedule(*starts_at, *ends_at, *now),
            ConcertCommand::AddTicketType { ticket_type_id, name, price, quantity } => {
                self.decide_add_ticket_type(details, *ticket_type_id, name, *price, *quantity)
            }
            ConcertCommand::RemoveTicketType { ticket_type_id } => self.decide_remove_ticket_type(*ticket_type_id),
            ConcertCommand::Publish { now, buckets } => self.decide_publish(*now, *buckets),
            ConcertCommand::Cancel => Ok(vec![ConcertEvent::Cancelled {}]),
            ConcertCommand::HoldTickets(request) => self.decide_hold(request),
            ConcertCommand::ReleaseHold { hold_id } => Ok(vec![self.holds.decide_release(*hold_id)?]),
            ConcertCommand::ExpireHold { hold_id, now } => Ok(vec![self.holds.decide_expire(*hold_id, *now)?]),
            ConcertCommand::SellHeldTickets { hold_ids, order_id, now } => {
                Ok(vec![self.holds.decide_sell(hold_ids, *order_id, *now)?])
            }
        }
    }

    fn evolve(&mut self, event: &ConcertEvent) {
        match event {
            ConcertEvent::Created { name, venue_id, venue_capacity, description, genre, image_url } => {
                self.details = Some(ConcertDetails {
                    name: name.clone(),
                    venue_id: *venue_id,
                    venue_capacity: *venue_capacity,
                    description: description.clone(),
                    genre: genre.clone(),
                    image_url: image_url.clone(),
                });
                self.status = ConcertStatus::Draft;
            }
            ConcertEvent::DetailsUpdated { name, description, genre, image_url } => {
                if let Some(details) = &mut self.details {
                    if let Some(name) = name {
                        details.name = name.clone();
                    }
                    if description.is_some() {
                        details.description = description.clone();
                    }
                    if genre.is_some() {
                        details.genre = genre.clone();
                    }
                    if image_url.is_some() {
                        details.image_url = image_url.clone();
                    }
                }
            }
            ConcertEvent::Scheduled { starts_at, ends_at } => {
                self.schedule = Some(Schedule { starts_at: *starts_at, ends_at: *ends_at });
            }
            ConcertEvent::TicketTypeAdded { ticket_type_id, name, price, quantity } => {
                self.ticket_types.push(TicketType {
                    id: *ticket_type_id,
                    name: name.clone(),
                    price: *price,
                    quantity: *quantity,
                    held: 0,
                    sold: 0,
                });
            }
            ConcertEvent::TicketTypeRemoved { ticket_type_id } => {
                self.ticket_types.retain(|ticket_type| ticket_type.id != *ticket_type_id);
            }
            ConcertEvent::Published { buckets, .. } => {
                self.status = ConcertStatus::Published;
                self.buckets = *buckets;
            }
            ConcertEvent::Cancelled {} => self.status = ConcertStatus::Cancelled,
            ConcertEvent::TicketsHeld { .. }
            | ConcertEvent::HoldReleased { .. }
            | ConcertEvent::HoldExpired { .. }
            | ConcertEvent::TicketsSold { .. } => {
                for change in self.holds.apply(event) {
                    self.change_inventory(&change);
                }
            }
        }
    }
}

fn is_zero(value: &u16) -> bool {
    *value == 0
}
