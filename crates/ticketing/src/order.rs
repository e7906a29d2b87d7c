//! An order: what a customer bought, at which prices, and the tickets that
//! came with it. The order is placed at checkout (with the cart's checkout
//! and the concerts' sales, in one append) and then only changes when a
//! ticket is checked in at the door (stories AM02, AM03). Tickets belong to
//! the order, not to the concert, so that a concert's state stays small and
//! a customer's tickets are one read away; the list of attendees is a read
//! model.
//!
//! Ticket codes are drawn at random at the edge. The order refuses duplicates
//! within itself; uniqueness across orders rests on the codes' length (see
//! [`crate::TicketCode`]) and on the attendee read model that maps a scanned
//! code to its order.
//!
//! A check-in happens at one concert's door, and the command says which
//! concert that is and what its status was when the command was sent: a
//! ticket is let in only at the door of its own concert (a code that is
//! valid somewhere else must not open this door), and never once its concert
//! is cancelled (its holders were told not to come). The order cannot read
//! the concert itself; the application layer reads it and asserts its
//! version in the same append, so a cancellation that lands first refuses
//! the check-in.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use es_core::{Aggregate, CodecError, DomainEvent, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::concert::ConcertStatus;
use crate::ids::{ConcertId, CustomerId, OrderId, TicketTypeId};
use crate::limits;
use crate::refusal::RefusalKind;
use crate::values::{Currency, Money, Quantity, TicketCode};

#[cfg(test)]
mod tests;

/// The state of one order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    placed: Option<PlacedOrder>,
    checked_in: BTreeMap<TicketCode, DateTime<Utc>>,
}

/// An order as placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacedOrder {
    /// Its id.
    pub order_id: OrderId,
    /// Who bought.
    pub customer_id: CustomerId,
    /// What they bought.
    pub lines: Vec<OrderLine>,
    /// What it cost.
    pub total: Money,
    /// When.
    pub placed_at: DateTime<Utc>,
}

/// Tickets of one type at one price, with their codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// The concert.
    pub concert_id: ConcertId,
    /// The ticket type.
    pub ticket_type_id: TicketTypeId,
    /// The price of one ticket, as paid.
    pub unit_price: Money,
    /// How many tickets.
    pub quantity: Quantity,
    /// One code per ticket.
    pub ticket_codes: Vec<TicketCode>,
}

/// What can be asked of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderCommand {
    /// Records a purchase.
    Place {
        /// The order's own id, repeated in the event so that it is self
        /// contained (for the mailer, for example).
        order_id: OrderId,
        /// Who bought.
        customer_id: CustomerId,
        /// What they bought: at least one line, at most
        /// [`limits::ORDER_LINES_MAX`], one currency, exactly `quantity`
        /// distinct codes per line.
        lines: Vec<OrderLine>,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Lets a ticket's holder in at a concert's door, once.
    CheckInTicket {
        /// The scanned code.
        code: TicketCode,
        /// The concert at whose door the code is scanned: the ticket must
        /// be for it.
        door: ConcertId,
        /// That concert's status, as read for this command: a cancelled
        /// concert lets no one in.
        concert_status: ConcertStatus,
        /// The current time.
        now: DateTime<Utc>,
    },
}

/// What happened to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OrderEvent {
    /// A purchase was recorded, with the prices paid and the tickets issued.
    #[serde(rename = "OrderPlaced")]
    Placed {
        /// The order.
        order_id: OrderId,
        /// Who bought.
        customer_id: CustomerId,
        /// What they bought.
        lines: Vec<OrderLine>,
        /// What it cost.
        total: Money,
        /// When.
        placed_at: DateTime<Utc>,
    },
    /// A ticket's holder came in.
    #[serde(rename = "TicketCheckedIn")]
    TicketCheckedIn {
        /// The ticket.
        code: TicketCode,
        /// When.
        checked_in_at: DateTime<Utc>,
    },
}

/// Every `EventType` of [`OrderEvent`].
pub const ORDER_EVENT_TYPES: [&str; 2] = ["OrderPlaced", "TicketCheckedIn"];

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> &'static str {
        match self {
            OrderEvent::Placed { .. } => ORDER_EVENT_TYPES[0],
            OrderEvent::TicketCheckedIn { .. } => ORDER_EVENT_TYPES[1],
        }
    }

    fn encode(&self) -> Result<String, CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        if !ORDER_EVENT_TYPES.contains(&event_type) {
            return Err(CodecError::UnknownType(event_type.to_owned()));
        }
        decode_adjacent(event_type, data)
    }
}

/// Why an order refuses a command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OrderError {
    /// The order has not been placed.
    #[error("the order does not exist")]
    NotFound,
    /// `Place` on an order that exists.
    #[error("the order has already been placed")]
    AlreadyPlaced,
    /// An order needs a line.
    #[error("an order needs at least one line")]
    NoLines,
    /// More than [`limits::ORDER_LINES_MAX`] lines.
    #[error("an order has at most {max} lines", max = limits::ORDER_LINES_MAX)]
    TooManyLines,
    /// A line whose number of codes is not its quantity.
    #[error("line {line} has {codes} ticket codes for {quantity} tickets")]
    WrongNumberOfCodes {
        /// The line's index, from 0.
        line: usize,
        /// Its quantity.
        quantity: u32,
        /// Its codes.
        codes: usize,
    },
    /// A code given twice.
    #[error("ticket code {0} is given twice")]
    DuplicateCode(TicketCode),
    /// All lines in one currency.
    #[error("the order is in {expected}, not {actual}")]
    CurrencyMismatch {
        /// The first line's currency.
        expected: Currency,
        /// Another line's.
        actual: Currency,
    },
    /// A price above [`limits::TICKET_PRICE_MINOR_UNITS_MAX`].
    #[error("a ticket costs at most {max} minor units", max = limits::TICKET_PRICE_MINOR_UNITS_MAX)]
    PriceTooHigh,
    /// More than [`limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX`] tickets of
    /// one concert.
    #[error(
        "at most {max} tickets per concert per purchase, not {tickets}",
        max = limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX
    )]
    TooManyTicketsForConcert {
        /// The concert.
        concert_id: ConcertId,
        /// Its tickets in the order.
        tickets: u32,
    },
    /// No ticket with this code in the order.
    #[error("ticket {0} is not in this order")]
    TicketNotFound(TicketCode),
    /// The ticket is for another concert than the one at whose door it
    /// was scanned.
    #[error("ticket {code} is for concert {concert_id}, not for concert {door}")]
    TicketForAnotherConcert {
        /// The ticket.
        code: TicketCode,
        /// The concert it is for.
        concert_id: ConcertId,
        /// The concert at whose door it was scanned.
        door: ConcertId,
    },
    /// The ticket's concert is cancelled: no one is let in.
    #[error("ticket {code} is for concert {concert_id}, which is cancelled")]
    ConcertCancelled {
        /// The ticket.
        code: TicketCode,
        /// Its concert.
        concert_id: ConcertId,
    },
    /// The ticket was checked in before.
    #[error("ticket {code} was checked in at {checked_in_at}")]
    AlreadyCheckedIn {
        /// The ticket.
        code: TicketCode,
        /// When it was checked in.
        checked_in_at: DateTime<Utc>,
    },
}

impl OrderError {
    /// How the refusal maps onto the API.
    pub fn kind(&self) -> RefusalKind {
        match self {
            OrderError::NotFound | OrderError::TicketNotFound(_) => RefusalKind::NotFound,
            OrderError::NoLines
            | OrderError::TooManyLines
            | OrderError::WrongNumberOfCodes { .. }
            | OrderError::DuplicateCode(_)
            | OrderError::CurrencyMismatch { .. }
            | OrderError::PriceTooHigh
            | OrderError::TooManyTicketsForConcert { .. }
            | OrderError::TicketForAnotherConcert { .. } => RefusalKind::Invalid,
            OrderError::AlreadyPlaced | OrderError::ConcertCancelled { .. } | OrderError::AlreadyCheckedIn { .. } => {
                RefusalKind::Conflict
            }
        }
    }
}

/// One ticket of an order, for display and the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketView<'a> {
    /// Its code.
    pub code: &'a TicketCode,
    /// The line it belongs to.
    pub line: &'a OrderLine,
    /// When it was checked in, if it was.
    pub checked_in_at: Option<DateTime<Utc>>,
}

impl Order {
    /// The order as placed; `None` before.
    pub fn placed(&self) -> Option<&PlacedOrder> {
        self.placed.as_ref()
    }

    /// Every ticket, line by line.
    pub fn tickets(&self) -> impl Iterator<Item = TicketView<'_>> {
        let lines = self.placed.iter().flat_map(|placed| placed.lines.iter());
        lines.flat_map(move |line| {
            line.ticket_codes.iter().map(move |code| TicketView {
                code,
                line,
                checked_in_at: self.checked_in.get(code).copied(),
            })
        })
    }

    /// The ticket with `code`.
    pub fn ticket(&self, code: &TicketCode) -> Option<TicketView<'_>> {
        self.tickets().find(|ticket| ticket.code == code)
    }

    fn decide_place(
        &self,
        order_id: OrderId,
        customer_id: CustomerId,
        lines: &[OrderLine],
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        if self.placed.is_some() {
            return Err(OrderError::AlreadyPlaced);
        }
        let first = lines.first().ok_or(OrderError::NoLines)?;
        if lines.len() > limits::ORDER_LINES_MAX {
            return Err(OrderError::TooManyLines);
        }
        let currency = first.unit_price.currency;
        let mut codes = BTreeSet::new();
        let mut tickets_per_concert: BTreeMap<ConcertId, u32> = BTreeMap::new();
        let mut total = Money::zero(currency);
        for (index, line) in lines.iter().enumerate() {
            check_line(index, line, currency)?;
            for code in &line.ticket_codes {
                if !codes.insert(code) {
                    return Err(OrderError::DuplicateCode(code.clone()));
                }
            }
            let tickets = tickets_per_concert.entry(line.concert_id).or_default();
            *tickets += line.quantity.get();
            if *tickets > limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX {
                return Err(OrderError::TooManyTicketsForConcert { concert_id: line.concert_id, tickets: *tickets });
            }
            let subtotal = line.unit_price.times(line.quantity).and_then(|subtotal| total.plus(subtotal));
            total = subtotal.expect("invariant: one currency, and prices and quantities bounded far below u64::MAX");
        }
        Ok(vec![OrderEvent::Placed { order_id, customer_id, lines: lines.to_vec(), total, placed_at: now }])
    }

    fn decide_check_in(
        &self,
        code: &TicketCode,
        door: ConcertId,
        concert_status: ConcertStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let ticket = self.ticket(code).ok_or_else(|| OrderError::TicketNotFound(code.clone()))?;
        let concert_id = ticket.line.concert_id;
        if concert_id != door {
            return Err(OrderError::TicketForAnotherConcert { code: code.clone(), concert_id, door });
        }
        if concert_status == ConcertStatus::Cancelled {
            return Err(OrderError::ConcertCancelled { code: code.clone(), concert_id });
        }
        if let Some(checked_in_at) = ticket.checked_in_at {
            return Err(OrderError::AlreadyCheckedIn { code: code.clone(), checked_in_at });
        }
        Ok(vec![OrderEvent::TicketCheckedIn { code: code.clone(), checked_in_at: now }])
    }
}

fn check_line(index: usize, line: &OrderLine, currency: Currency) -> Result<(), OrderError> {
    if line.unit_price.currency != currency {
        return Err(OrderError::CurrencyMismatch { expected: currency, actual: line.unit_price.currency });
    }
    if line.unit_price.amount > limits::TICKET_PRICE_MINOR_UNITS_MAX {
        return Err(OrderError::PriceTooHigh);
    }
    if line.ticket_codes.len() != line.quantity.get() as usize {
        return Err(OrderError::WrongNumberOfCodes {
            line: index,
            quantity: line.quantity.get(),
            codes: line.ticket_codes.len(),
        });
    }
    Ok(())
}

impl Aggregate for Order {
    const KIND: &'static str = "order";

    type Event = OrderEvent;
    type Command = OrderCommand;
    type Error = OrderError;

    fn decide(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        match command {
            OrderCommand::Place { order_id, customer_id, lines, now } => {
                self.decide_place(*order_id, *customer_id, lines, *now)
            }
            OrderCommand::CheckInTicket { code, door, concert_status, now } => {
                if self.placed.is_none() {
                    return Err(OrderError::NotFound);
                }
                self.decide_check_in(code, *door, *concert_status, *now)
            }
        }
    }

    fn evolve(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Placed { order_id, customer_id, lines, total, placed_at } => {
                self.placed = Some(PlacedOrder {
                    order_id: *order_id,
                    customer_id: *customer_id,
                    lines: lines.clone(),
                    total: *total,
                    placed_at: *placed_at,
                });
            }
            OrderEvent::TicketCheckedIn { code, checked_in_at } => {
                self.checked_in.insert(code.clone(), *checked_in_at);
            }
        }
    }
}
