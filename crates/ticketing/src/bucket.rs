//! A bucket: a share of one concert's tickets that sells on its own stream.
//!
//! "Never sell more tickets than there are" needs one version check over the
//! stock being sold from. When the concert keeps its stock itself, every
//! hold and sale of the concert appends to the concert's stream, and buyers
//! in different processes (Lambda containers, `serve` replicas) take turns
//! at its version: one append per store round trip for the whole concert.
//! A concert published with buckets splits each ticket type's quantity over
//! them instead; each bucket checks its own share, so buyers on different
//! buckets commit at the same time, and the sum of the shares is the
//! quantity, so the sum of what they sell can never exceed it.
//!
//! A bucket is opened by the concert's publication (same append) with its
//! share and start time, follows a reschedule, loses a withdrawn ticket type
//! and closes when the concert is cancelled — each in the concert's own
//! append, so a bucket never sells what its concert would refuse. A buyer
//! whose bucket has run dry of a ticket type while others have some left
//! moves tickets from them into it ([`BucketCommand::MoveOut`] and
//! [`BucketCommand::MoveIn`] in one append): the shares change, their sum
//! does not.
//!
//! Holds, releases, expiries and sales are decided by the same code as a
//! concert's own stock and written as the same events (`TicketsHeld`, …),
//! so every read model counts a bucket's sales as the concert's.
//!
//! Here: the bucket's state, commands and decisions. Its events are in
//! [`events`], and the plans that keep a concert's buckets in step with it
//! (shares, following, moves) in [`plan`].

use chrono::{DateTime, Utc};
use es_core::Aggregate;
use serde::{Deserialize, Serialize};

use crate::concert::{CountChange, HoldBook, count};
use crate::ids::{ConcertId, HoldId, OrderId, TicketTypeId};
use crate::{ConcertError, Hold, HoldRequest};

mod events;
mod plan;

pub use events::{BUCKET_EVENT_TYPES, BucketChange, BucketEvent, HOLD_EVENT_TYPES};
pub use plan::{following, moves_for, share};

/// The state of one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    opened: Option<Opening>,
    closed: bool,
    stock: Vec<Stock>,
    holds: HoldBook,
}

/// Whose bucket it is and until when it sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Opening {
    concert_id: ConcertId,
    index: u16,
    starts_at: DateTime<Utc>,
}

/// A bucket's share of one ticket type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stock {
    /// Which ticket type.
    pub ticket_type_id: TicketTypeId,
    /// How many of its tickets this bucket sells (may be 0).
    pub quantity: u32,
    /// How many of those are held for carts right now.
    pub held: u32,
    /// How many of those were sold.
    pub sold: u32,
}

impl Stock {
    /// How many can still be held or moved out.
    pub fn available(&self) -> u32 {
        self.quantity.saturating_sub(self.held.saturating_add(self.sold))
    }
}

/// A bucket's share of one ticket type when it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allotment {
    /// Which ticket type.
    pub ticket_type_id: TicketTypeId,
    /// How many tickets (may be 0 when there are fewer than buckets).
    pub quantity: u32,
}

/// What can be asked of a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketCommand {
    /// Opens it with its share of a concert being published.
    Open {
        /// The concert.
        concert_id: ConcertId,
        /// Which of the concert's buckets.
        index: u16,
        /// When the concert starts: sales stop then.
        starts_at: DateTime<Utc>,
        /// Its share of every ticket type.
        stock: Vec<Allotment>,
    },
    /// Follows the concert to a new start time.
    Reschedule {
        /// When the concert now starts.
        starts_at: DateTime<Utc>,
    },
    /// Drops a ticket type the concert withdraws; refused while any of its
    /// tickets here are held or sold.
    Withdraw {
        /// Which one.
        ticket_type_id: TicketTypeId,
    },
    /// Stops all sales: the concert is cancelled. Holds can still be given back.
    Close,
    /// Gives unheld tickets to another bucket of the same concert.
    MoveOut {
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many.
        quantity: u32,
        /// The receiving bucket's index.
        to: u16,
    },
    /// Takes tickets another bucket of the same concert gave.
    MoveIn {
        /// Which ticket type.
        ticket_type_id: TicketTypeId,
        /// How many.
        quantity: u32,
        /// The giving bucket's index.
        from: u16,
    },
    /// Holds tickets for a cart, as [`crate::ConcertCommand::HoldTickets`].
    Hold(HoldRequest),
    /// Gives held tickets back.
    Release {
        /// Which hold.
        hold_id: HoldId,
    },
    /// Gives the tickets of a hold that has run out back.
    Expire {
        /// Which hold.
        hold_id: HoldId,
        /// The current time: at or after the hold's `expires_at`.
        now: DateTime<Utc>,
    },
    /// Turns live holds into sold tickets (checkout).
    Sell {
        /// The holds.
        hold_ids: Vec<HoldId>,
        /// The order the tickets go to.
        order_id: OrderId,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Keeps holds for an order awaiting payment, as
    /// [`crate::ConcertCommand::AwaitPayment`].
    AwaitPayment {
        /// The holds.
        hold_ids: Vec<HoldId>,
        /// The order.
        order_id: OrderId,
        /// When they run out.
        until: DateTime<Utc>,
        /// The current time.
        now: DateTime<Utc>,
    },
}

impl Bucket {
    /// The concert it sells for, once opened.
    pub fn concert_id(&self) -> Option<ConcertId> {
        self.opened.map(|opening| opening.concert_id)
    }

    /// Which of its concert's buckets it is (0 before it opens).
    pub fn index(&self) -> u16 {
        self.opened.map_or(0, |opening| opening.index)
    }

    /// Whether the concert was cancelled.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Its share of every ticket type.
    pub fn stock(&self) -> &[Stock] {
        &self.stock
    }

    /// Its share of one ticket type.
    pub fn stock_of(&self, ticket_type_id: TicketTypeId) -> Option<&Stock> {
        self.stock.iter().find(|stock| stock.ticket_type_id == ticket_type_id)
    }

    /// How many tickets of a type it can still hold: 0 when it does not sell
    /// now (not open, closed, or the type is not here).
    pub fn available(&self, ticket_type_id: TicketTypeId, now: DateTime<Utc>) -> u32 {
        match self.opened {
            Some(opening) if !self.closed && opening.starts_at > now => {
                self.stock_of(ticket_type_id).map_or(0, Stock::available)
            }
            _ => 0,
        }
    }

    /// The live holds.
    pub fn holds(&self) -> &std::collections::BTreeMap<HoldId, Hold> {
        self.holds.holds()
    }

    fn opening(&self) -> Result<Opening, ConcertError> {
        self.opened.ok_or(ConcertError::NotOnSale)
    }

    fn open_for_changes(&self) -> Result<Opening, ConcertError> {
        let opening = self.opening()?;
        if self.closed {
            return Err(ConcertError::Cancelled);
        }
        Ok(opening)
    }

    fn find_stock(&self, ticket_type_id: TicketTypeId) -> Result<&Stock, ConcertError> {
        self.stock_of(ticket_type_id).ok_or(ConcertError::TicketTypeNotFound(ticket_type_id))
    }

    fn decide_hold(&self, request: &HoldRequest) -> Result<BucketEvent, ConcertError> {
        let opening = self.open_for_changes()?;
        if opening.starts_at <= request.now {
            return Err(ConcertError::AlreadyStarted { starts_at: opening.starts_at });
        }
        let available = self.stock_of(request.ticket_type_id).map(Stock::available);
        self.holds.decide_hold(request, available).map(BucketEvent::Holds)
    }

    fn decide_withdraw(&self, ticket_type_id: TicketTypeId) -> Result<Vec<BucketEvent>, ConcertError> {
        self.open_for_changes()?;
        let Some(stock) = self.stock_of(ticket_type_id) else {
            return Ok(Vec::new());
        };
        if stock.held > 0 || stock.sold > 0 {
            let (held, sold) = (stock.held, stock.sold);
            return Err(ConcertError::TicketTypeInUse { ticket_type_id, held, sold });
        }
        Ok(vec![BucketEvent::Change(BucketChange::TicketTypeWithdrawn { ticket_type_id })])
    }

    fn decide_move_out(
        &self,
        ticket_type_id: TicketTypeId,
        quantity: u32,
        to: u16,
    ) -> Result<BucketEvent, ConcertError> {
        self.open_for_changes()?;
        let available = self.find_stock(ticket_type_id)?.available();
        if quantity == 0 || quantity > available {
            return Err(ConcertError::NothingToMove { ticket_type_id, available, requested: quantity });
        }
        Ok(BucketEvent::Change(BucketChange::MovedOut { ticket_type_id, quantity, to }))
    }

    fn apply_count(&mut self, change: &CountChange) {
        let stock = self.stock.iter_mut().find(|stock| stock.ticket_type_id == change.ticket_type_id);
        debug_assert!(stock.is_some(), "hold event for a ticket type not in the bucket");
        if let Some(stock) = stock {
            count(&mut stock.held, &mut stock.sold, change);
        }
    }

    fn change_quantity(&mut self, ticket_type_id: TicketTypeId, change: impl FnOnce(u32) -> u32) {
        match self.stock.iter_mut().find(|stock| stock.ticket_type_id == ticket_type_id) {
            Some(stock) => stock.quantity = change(stock.quantity),
            None => self.stock.push(Stock { ticket_type_id, quantity: change(0), held: 0, sold: 0 }),
        }
    }
}

impl Aggregate for Bucket {
    const KIND: &'static str = "bucket";

    type Event = BucketEvent;
    type Command = BucketCommand;
    type Error = ConcertError;

    fn decide(&self, command: &BucketCommand) -> Result<Vec<BucketEvent>, ConcertError> {
        let change = |change| Ok(vec![BucketEvent::Change(change)]);
        match command {
            BucketCommand::Open { concert_id, index, starts_at, stock } => {
                if self.opened.is_some() {
                    return Err(ConcertError::BucketOpen);
                }
                let (concert_id, index, starts_at, stock) = (*concert_id, *index, *starts_at, stock.clone());
                change(BucketChange::Opened { concert_id, index, starts_at, stock })
            }
            BucketCommand::Reschedule { starts_at } => {
                self.open_for_changes()?;
                change(BucketChange::Rescheduled { starts_at: *starts_at })
            }
            BucketCommand::Withdraw { ticket_type_id } => self.decide_withdraw(*ticket_type_id),
            BucketCommand::Close => {
                self.open_for_changes()?;
                change(BucketChange::Closed {})
            }
            BucketCommand::MoveOut { ticket_type_id, quantity, to } => {
                Ok(vec![self.decide_move_out(*ticket_type_id, *quantity, *to)?])
            }
            BucketCommand::MoveIn { ticket_type_id, quantity, from } => {
                self.open_for_changes()?;
                let (ticket_type_id, quantity, from) = (*ticket_type_id, *quantity, *from);
                change(BucketChange::MovedIn { ticket_type_id, quantity, from })
            }
            BucketCommand::Hold(request) => Ok(vec![self.decide_hold(request)?]),
            BucketCommand::Release { hold_id } => {
                self.opening()?;
                Ok(vec![BucketEvent::Holds(self.holds.decide_release(*hold_id)?)])
            }
            BucketCommand::Expire { hold_id, now } => {
                self.opening()?;
                Ok(vec![BucketEvent::Holds(self.holds.decide_expire(*hold_id, *now)?)])
            }
            BucketCommand::Sell { hold_ids, order_id, now } => {
                self.open_for_changes()?;
                Ok(vec![BucketEvent::Holds(self.holds.decide_sell(hold_ids, *order_id, *now)?)])
            }
            BucketCommand::AwaitPayment { hold_ids, order_id, until, now } => {
                self.open_for_changes()?;
                Ok(vec![BucketEvent::Holds(self.holds.decide_await_payment(hold_ids, *order_id, *until, *now)?)])
            }
        }
    }

    fn evolve(&mut self, event: &BucketEvent) {
        match event {
            BucketEvent::Change(BucketChange::Opened { concert_id, index, starts_at, stock }) => {
                self.opened = Some(Opening { concert_id: *concert_id, index: *index, starts_at: *starts_at });
                self.stock = stock
                    .iter()
                    .map(|share| Stock {
                        ticket_type_id: share.ticket_type_id,
                        quantity: share.quantity,
                        held: 0,
                        sold: 0,
                    })
                    .collect();
            }
            BucketEvent::Change(BucketChange::Rescheduled { starts_at }) => {
                if let Some(opening) = &mut self.opened {
                    opening.starts_at = *starts_at;
                }
            }
            BucketEvent::Change(BucketChange::TicketTypeWithdrawn { ticket_type_id }) => {
                self.stock.retain(|stock| stock.ticket_type_id != *ticket_type_id);
            }
            BucketEvent::Change(BucketChange::Closed {}) => self.closed = true,
            BucketEvent::Change(BucketChange::MovedOut { ticket_type_id, quantity, .. }) => {
                self.change_quantity(*ticket_type_id, |had| had.saturating_sub(*quantity));
            }
            BucketEvent::Change(BucketChange::MovedIn { ticket_type_id, quantity, .. }) => {
                self.change_quantity(*ticket_type_id, |had| had.saturating_add(*quantity));
            }
            BucketEvent::Holds(event) => {
                for change in self.holds.apply(event) {
                    self.apply_count(&change);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
