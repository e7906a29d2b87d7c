//! An order: what a customer bought, at which prices, and the tickets that
//! came with it. The order is placed at checkout, with the cart's checkout
//! and its concerts' holds in one append, and then:
//!
//! - placed paid (nothing to pay, or the built-in test provider) its
//!   tickets are sold in that append and valid at once;
//! - placed awaiting payment its tickets stay held for it until the
//!   payment window closes: paid, they are sold and valid (one append with
//!   the sales); failed or run out, they go back on sale. A payment that
//!   arrives after that is paid back (stories TS04, TS06);
//! - its tickets are checked in at the door (stories AM02, AM03);
//! - the tickets of a concert that is cancelled are paid back and void
//!   ([`refund`]); an order whose every line was paid back is `refunded`.
//!
//! Tickets belong to the order, not to the concert, so that a concert's
//! state stays small and a customer's tickets are one read away; the list of
//! attendees is a read model.
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
use es_core::Aggregate;
use serde::{Deserialize, Serialize};

use crate::concert::ConcertStatus;
use crate::email::EmailAddress;
use crate::ids::{ConcertId, CustomerId, OrderId, TicketTypeId};
use crate::limits;
use crate::values::{Currency, Money, Quantity, TicketCode};

mod errors;
mod events;
mod payment;
mod refund;
mod status;
#[cfg(test)]
mod tests;

pub use errors::OrderError;
pub use events::{ORDER_EVENT_TYPES, OrderEvent, OrderHolds, PaidTickets, PaymentTerms};
pub use payment::PaymentCommand;
pub use refund::{Refund, RefundCommand};
pub use status::OrderStatus;

/// The state of one order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    placed: Option<PlacedOrder>,
    checked_in: BTreeMap<TicketCode, DateTime<Utc>>,
    #[serde(default)]
    status: OrderStatus,
    /// The provider's payment, once created or paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
    /// When its tickets were mailed, once they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tickets_mailed: Option<DateTime<Utc>>,
    /// Late payments paid back, by the provider's id.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    returned: BTreeSet<String>,
    /// The cancelled concerts whose tickets were paid back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    refunded: BTreeMap<ConcertId, Refund>,
    /// The cancelled concerts whose refund the buyer was told of.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    refund_mailed: BTreeSet<ConcertId>,
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
    /// How it is paid; `None` for orders placed before payments existed,
    /// which were paid as placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentTerms>,
    /// Where its tickets are mailed once it is paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_to: Option<EmailAddress>,
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
        /// How it is paid: paid as placed, or due within
        /// [`limits::PAYMENT_MINUTES`].
        payment: PaymentTerms,
        /// Where its tickets are mailed once it is paid, if anywhere.
        deliver_to: Option<EmailAddress>,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Records that the tickets of the paid order were mailed; recording it
    /// again changes nothing.
    RecordTicketsMailed {
        /// Where they went.
        to: EmailAddress,
        /// The mail's `Message-ID`.
        message_id: String,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// A step of its payment.
    Payment(PaymentCommand),
    /// A step of paying back a cancelled concert's tickets.
    Refund(RefundCommand),
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

    /// Where it stands.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// When its tickets were mailed, once they were.
    pub fn tickets_mailed(&self) -> Option<DateTime<Utc>> {
        self.tickets_mailed
    }

    /// The provider's payment, once created or paid.
    pub fn payment_id(&self) -> Option<&str> {
        self.payment_id.as_deref()
    }

    /// Whether this payment, which the order could not keep, was paid back.
    pub fn has_returned(&self, payment_id: &str) -> bool {
        self.returned.contains(payment_id)
    }

    /// Every ticket, line by line, valid or not.
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
        (payment, deliver_to): (&PaymentTerms, &Option<EmailAddress>),
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        if self.placed.is_some() {
            return Err(OrderError::AlreadyPlaced);
        }
        if let PaymentTerms::Due { due, .. } = payment
            && (*due <= now || *due - now > chrono::TimeDelta::minutes(limits::PAYMENT_MINUTES))
        {
            return Err(OrderError::BadPaymentWindow);
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
        let (payment, deliver_to) = (Some(payment.clone()), deliver_to.clone());
        let lines = lines.to_vec();
        Ok(vec![OrderEvent::Placed { order_id, customer_id, lines, total, placed_at: now, payment, deliver_to }])
    }

    fn decide_check_in(
        &self,
        code: &TicketCode,
        door: ConcertId,
        concert_status: ConcertStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let ticket = self.ticket(code).ok_or_else(|| OrderError::TicketNotFound(code.clone()))?;
        // A ticket paid back says why first: its concert was cancelled.
        if self.refunded.contains_key(&ticket.line.concert_id) {
            return Err(OrderError::ConcertCancelled { code: code.clone(), concert_id: ticket.line.concert_id });
        }
        if self.status != OrderStatus::Paid {
            return Err(OrderError::NotPaid { status: self.status });
        }
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
            OrderCommand::Place { order_id, customer_id, lines, payment, deliver_to, now } => {
                self.decide_place(*order_id, *customer_id, lines, (payment, deliver_to), *now)
            }
            OrderCommand::RecordTicketsMailed { to, message_id, now } => {
                if self.placed.is_none() {
                    return Err(OrderError::NotFound);
                }
                if self.status != OrderStatus::Paid {
                    return Err(OrderError::NotPaid { status: self.status });
                }
                if self.tickets_mailed.is_some() {
                    return Ok(Vec::new());
                }
                let (to, message_id) = (to.clone(), message_id.clone());
                Ok(vec![OrderEvent::TicketsMailed { to, message_id, mailed_at: *now }])
            }
            OrderCommand::Payment(command) => {
                let placed = self.placed.as_ref().ok_or(OrderError::NotFound)?;
                self.decide_payment(placed, command)
            }
            OrderCommand::Refund(command) => self.decide_refund(command),
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
            OrderEvent::Placed { order_id, customer_id, lines, total, placed_at, payment, deliver_to } => {
                self.status = match payment {
                    Some(PaymentTerms::Due { .. }) => OrderStatus::PendingPayment,
                    _ => OrderStatus::Paid,
                };
                self.placed = Some(PlacedOrder {
                    order_id: *order_id,
                    customer_id: *customer_id,
                    lines: lines.clone(),
                    total: *total,
                    placed_at: *placed_at,
                    payment: payment.clone(),
                    deliver_to: deliver_to.clone(),
                });
            }
            OrderEvent::PaymentRequested { payment_id } => self.payment_id = Some(payment_id.clone()),
            OrderEvent::Paid { payment_id, .. } => {
                self.status = OrderStatus::Paid;
                self.payment_id = Some(payment_id.clone());
            }
            OrderEvent::PaymentFailed { .. } => self.status = OrderStatus::Failed,
            OrderEvent::Expired { .. } => self.status = OrderStatus::Expired,
            OrderEvent::TicketsMailed { mailed_at, .. } => self.tickets_mailed = Some(*mailed_at),
            OrderEvent::LatePaymentReturned { payment_id, .. } => {
                self.returned.insert(payment_id.clone());
            }
            OrderEvent::Refunded { concert_id, amount, refund_id, whole_order, refunded_at, .. } => {
                let refund = Refund { amount: *amount, refund_id: refund_id.clone(), refunded_at: *refunded_at };
                self.refunded.insert(*concert_id, refund);
                if *whole_order {
                    self.status = OrderStatus::Refunded;
                }
            }
            OrderEvent::RefundMailed { concert_id, .. } => {
                self.refund_mailed.insert(*concert_id);
            }
            OrderEvent::TicketCheckedIn { code, checked_in_at } => {
                self.checked_in.insert(code.clone(), *checked_in_at);
            }
        }
    }
}
