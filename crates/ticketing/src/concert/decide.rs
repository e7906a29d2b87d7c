//! What can be asked of a concert, and how it decides: each command is checked against the state and answered
//! with the events that record it, or refused with a [`ConcertError`]. Holds, releases, expiries and sales are
//! decided by the concert's [`super::HoldBook`], which buckets share.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Concert, ConcertDetails, ConcertError, ConcertEvent, ConcertProfile, ConcertStatus, Schedule, TicketType};
use crate::ids::{CartId, HoldId, OrderId, TicketTypeId};
use crate::limits;
use crate::values::{Money, Name, Quantity};

/// The fields of a new concert: its details as first set.
pub type NewConcert = ConcertDetails;

/// The details to change; `None` leaves a field as it is (story CS03).
/// Optional fields cannot be cleared, only replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetailsUpdate {
    /// A new name.
    pub name: Option<Name>,
    /// The profile's fields to change.
    pub profile: ConcertProfile,
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
    /// Keeps a checked-out cart's live holds for its order until it is paid
    /// or `until` passes.
    AwaitPayment {
        /// The holds, none expired, none listed twice.
        hold_ids: Vec<HoldId>,
        /// The order awaiting payment.
        order_id: OrderId,
        /// When they run out: after `now`, at most
        /// [`limits::PAYMENT_MINUTES`] later.
        until: DateTime<Utc>,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Turns live holds into sold tickets: at checkout when nothing is left
    /// to pay, or when the order they were kept for is paid.
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

impl Concert {
    pub(super) fn refuse_if_started(&self, now: DateTime<Utc>) -> Result<(), ConcertError> {
        match self.schedule {
            Some(Schedule { starts_at, .. }) if starts_at <= now => Err(ConcertError::AlreadyStarted { starts_at }),
            _ => Ok(()),
        }
    }

    pub(super) fn decide_create(&self, new: &NewConcert) -> Result<Vec<ConcertEvent>, ConcertError> {
        if self.details.is_some() {
            return Err(ConcertError::AlreadyExists);
        }
        let NewConcert { name, venue_id, venue_capacity, profile } = new.clone();
        Ok(vec![ConcertEvent::Created { name, venue_id, venue_capacity, profile }])
    }

    pub(super) fn decide_update(&self, update: &DetailsUpdate) -> Result<Vec<ConcertEvent>, ConcertError> {
        if update.name.is_none() && update.profile.is_empty() {
            return Err(ConcertError::NothingToUpdate);
        }
        let DetailsUpdate { name, profile } = update.clone();
        Ok(vec![ConcertEvent::DetailsUpdated { name, profile }])
    }

    pub(super) fn decide_schedule(
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

    pub(super) fn decide_add_ticket_type(
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

    pub(super) fn decide_remove_ticket_type(
        &self,
        ticket_type_id: TicketTypeId,
    ) -> Result<Vec<ConcertEvent>, ConcertError> {
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

    pub(super) fn decide_publish(&self, now: DateTime<Utc>, buckets: u16) -> Result<Vec<ConcertEvent>, ConcertError> {
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

    pub(super) fn decide_hold(&self, request: &HoldRequest) -> Result<Vec<ConcertEvent>, ConcertError> {
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
}
