//! The live holds of one stock of tickets, and the decisions about them that
//! do not depend on whose stock it is. A concert keeps its own stock when it
//! sells from its own stream; a [`crate::Bucket`] keeps a share of a
//! concert's stock when the concert sells from buckets. Both decide holds,
//! releases, expiries and sales here, so the rules cannot drift apart, and
//! both write the same events, so every read model counts them alike.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConcertError, ConcertEvent, Hold, HoldRequest, SoldHold};
use crate::ids::{HoldId, OrderId, TicketTypeId};
use crate::limits;

/// The live holds of a stock, by id. Serialized as the bare map, as the
/// concert's state always was.
///
/// Shared until changed: the runner clones a concert's state several times
/// for each command of a shared append (the state it decides on, the state
/// after, the one the cache takes after the commit), and on a busy concert
/// the map holds a hold for every buyer between reserving and checking out.
/// A clone only counts a reference; the first change copies the map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HoldBook(Arc<BTreeMap<HoldId, Hold>>);

impl Serialize for HoldBook {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for HoldBook {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(|holds| HoldBook(Arc::new(holds)))
    }
}

/// How one event changes the counts of one ticket type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CountChange {
    /// Which ticket type.
    pub(crate) ticket_type_id: TicketTypeId,
    /// How many tickets.
    pub(crate) quantity: u32,
    /// Held (`Held`), given back (`Returned`) or sold from a hold (`Sold`).
    pub(crate) change: Change,
}

/// What happened to the tickets of a [`CountChange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Newly held.
    Held,
    /// A hold released or expired: available again.
    Returned,
    /// A hold sold.
    Sold,
}

impl HoldBook {
    /// The live holds.
    pub(crate) fn holds(&self) -> &BTreeMap<HoldId, Hold> {
        &self.0
    }

    fn find(&self, hold_id: HoldId) -> Result<&Hold, ConcertError> {
        self.0.get(&hold_id).ok_or(ConcertError::HoldNotFound(hold_id))
    }

    /// Holds `request` if `available` tickets of its type (`None`: no such
    /// type here) cover it. The caller has checked that the stock is on sale.
    pub(crate) fn decide_hold(
        &self,
        request: &HoldRequest,
        available: Option<u32>,
    ) -> Result<ConcertEvent, ConcertError> {
        let HoldRequest { cart_id, hold_id, ticket_type_id, quantity, now, expires_at } = *request;
        if expires_at <= now {
            return Err(ConcertError::HoldExpiresInThePast);
        }
        if expires_at - now > TimeDelta::minutes(limits::HOLD_MINUTES) {
            return Err(ConcertError::HoldTooLong);
        }
        if quantity.get() > limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX {
            return Err(ConcertError::TooManyTicketsPerPurchase { requested: quantity.get() });
        }
        if self.0.contains_key(&hold_id) {
            return Err(ConcertError::HoldExists(hold_id));
        }
        let available = available.ok_or(ConcertError::TicketTypeNotFound(ticket_type_id))?;
        if quantity.get() > available {
            return Err(ConcertError::NotEnoughTickets { ticket_type_id, available, requested: quantity.get() });
        }
        Ok(ConcertEvent::TicketsHeld { hold_id, cart_id, ticket_type_id, quantity, expires_at })
    }

    /// Gives a live hold back.
    pub(crate) fn decide_release(&self, hold_id: HoldId) -> Result<ConcertEvent, ConcertError> {
        let hold = self.find(hold_id)?;
        Ok(ConcertEvent::HoldReleased { hold_id, ticket_type_id: hold.ticket_type_id, quantity: hold.quantity })
    }

    /// Gives a hold back that has run out at `now`.
    pub(crate) fn decide_expire(&self, hold_id: HoldId, now: DateTime<Utc>) -> Result<ConcertEvent, ConcertError> {
        let hold = self.find(hold_id)?;
        if !hold.is_expired(now) {
            return Err(ConcertError::HoldNotExpired { hold_id, expires_at: hold.expires_at });
        }
        Ok(ConcertEvent::HoldExpired { hold_id, ticket_type_id: hold.ticket_type_id, quantity: hold.quantity })
    }

    /// Sells holds, none named twice, to `order_id`: a cart's live holds at
    /// checkout, or the holds kept for the order while it was paid. The
    /// latter are sold even when their time has passed as long as they are
    /// still here: the payment came before the sweep gave them back, and
    /// the order's own expiry, appended with that sweep, refuses the other
    /// way round.
    pub(crate) fn decide_sell(
        &self,
        hold_ids: &[HoldId],
        order_id: OrderId,
        now: DateTime<Utc>,
    ) -> Result<ConcertEvent, ConcertError> {
        let holds = self.each_once(hold_ids, |hold_id, hold| match hold.order_id {
            Some(owner) if owner == order_id => Ok(()),
            Some(_) => Err(ConcertError::HoldNotFound(hold_id)),
            None if hold.is_expired(now) => Err(ConcertError::HoldExpired { hold_id, expires_at: hold.expires_at }),
            None => Ok(()),
        })?;
        let holds = holds.map(|(hold_id, hold)| SoldHold {
            hold_id,
            ticket_type_id: hold.ticket_type_id,
            quantity: hold.quantity,
        });
        Ok(ConcertEvent::TicketsSold { order_id, holds: holds.collect(), sold_at: now })
    }

    /// Keeps a cart's live holds, none named twice, for `order_id` until
    /// `until`, while the order is paid.
    pub(crate) fn decide_await_payment(
        &self,
        hold_ids: &[HoldId],
        order_id: OrderId,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ConcertEvent, ConcertError> {
        if until <= now {
            return Err(ConcertError::HoldExpiresInThePast);
        }
        if until - now > TimeDelta::minutes(limits::PAYMENT_MINUTES) {
            return Err(ConcertError::HoldTooLong);
        }
        let holds = self.each_once(hold_ids, |hold_id, hold| match hold.order_id {
            Some(_) => Err(ConcertError::HoldNotFound(hold_id)),
            None if hold.is_expired(now) => Err(ConcertError::HoldExpired { hold_id, expires_at: hold.expires_at }),
            None => Ok(()),
        })?;
        let hold_ids = holds.map(|(hold_id, _)| hold_id).collect();
        Ok(ConcertEvent::HoldsAwaitingPayment { order_id, hold_ids, until })
    }

    /// The named holds, each checked by `check`: at least one, none named
    /// twice, every one here.
    fn each_once(
        &self,
        hold_ids: &[HoldId],
        check: impl Fn(HoldId, &Hold) -> Result<(), ConcertError>,
    ) -> Result<impl Iterator<Item = (HoldId, &Hold)>, ConcertError> {
        if hold_ids.is_empty() {
            return Err(ConcertError::NoHolds);
        }
        let mut seen = BTreeSet::new();
        let mut holds = Vec::with_capacity(hold_ids.len());
        for &hold_id in hold_ids {
            if !seen.insert(hold_id) {
                return Err(ConcertError::DuplicateHold(hold_id));
            }
            let hold = self.find(hold_id)?;
            check(hold_id, hold)?;
            holds.push((hold_id, hold));
        }
        Ok(holds.into_iter())
    }

    /// Takes a hold event into the book and says how the owner's counts
    /// change; nothing for events that are not about holds. The events were
    /// decided against this book, so a settled hold is always live here.
    pub(crate) fn apply(&mut self, event: &ConcertEvent) -> Vec<CountChange> {
        match event {
            ConcertEvent::TicketsHeld { hold_id, cart_id, ticket_type_id, quantity, expires_at } => {
                let hold = Hold {
                    cart_id: *cart_id,
                    ticket_type_id: *ticket_type_id,
                    quantity: *quantity,
                    expires_at: *expires_at,
                    order_id: None,
                };
                Arc::make_mut(&mut self.0).insert(*hold_id, hold);
                vec![CountChange { ticket_type_id: *ticket_type_id, quantity: quantity.get(), change: Change::Held }]
            }
            ConcertEvent::HoldReleased { hold_id, .. } | ConcertEvent::HoldExpired { hold_id, .. } => {
                self.settle(*hold_id, Change::Returned).into_iter().collect()
            }
            ConcertEvent::TicketsSold { holds, .. } => {
                holds.iter().filter_map(|sold| self.settle(sold.hold_id, Change::Sold)).collect()
            }
            ConcertEvent::HoldsAwaitingPayment { order_id, hold_ids, until } => {
                let book = Arc::make_mut(&mut self.0);
                for hold_id in hold_ids {
                    if let Some(hold) = book.get_mut(hold_id) {
                        hold.order_id = Some(*order_id);
                        hold.expires_at = *until;
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn settle(&mut self, hold_id: HoldId, change: Change) -> Option<CountChange> {
        let hold = Arc::make_mut(&mut self.0).remove(&hold_id);
        debug_assert!(hold.is_some(), "settling unknown hold {hold_id}");
        hold.map(|hold| CountChange { ticket_type_id: hold.ticket_type_id, quantity: hold.quantity.get(), change })
    }
}

/// Held and sold counts of one ticket type, changed by `change`. Saturating:
/// a broken invariant must not wrap around in release builds.
pub(crate) fn count(held: &mut u32, sold: &mut u32, change: &CountChange) {
    match change.change {
        Change::Held => *held = held.saturating_add(change.quantity),
        Change::Returned => *held = held.saturating_sub(change.quantity),
        Change::Sold => {
            *held = held.saturating_sub(change.quantity);
            *sold = sold.saturating_add(change.quantity);
        }
    }
}
