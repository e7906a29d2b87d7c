//! Why an order refuses a command, and how each refusal maps onto the API.

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::OrderStatus;
use crate::ids::ConcertId;
use crate::limits;
use crate::refusal::RefusalKind;
use crate::values::{Currency, Money, TicketCode};

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
    /// The order's tickets are not valid: it is not paid (yet), or no
    /// longer.
    #[error("the order is {status}: its tickets are not valid")]
    NotPaid {
        /// Where the order stands.
        status: OrderStatus,
    },
    /// A payment step for an order that does not await one.
    #[error("the order is {status}, not awaiting payment")]
    NotAwaitingPayment {
        /// Where the order stands.
        status: OrderStatus,
    },
    /// The order awaits another payment than the one named.
    #[error("the order awaits payment {expected}, not {given}")]
    OtherPayment {
        /// The payment recorded for the order.
        expected: String,
        /// The one named.
        given: String,
    },
    /// A payment the order takes (or took) is not to be paid back.
    #[error("payment {payment_id} is the order's own")]
    PaymentKept {
        /// The payment.
        payment_id: String,
    },
    /// A payment of another amount than the order's total.
    #[error(
        "the order costs {} {}, the payment was {} {} (minor units)",
        total.amount, total.currency, paid.amount, paid.currency
    )]
    WrongAmount {
        /// The order's total.
        total: Money,
        /// What was paid.
        paid: Money,
    },
    /// The order may still be paid.
    #[error("the order may be paid until {due}")]
    NotDueYet {
        /// Until when.
        due: DateTime<Utc>,
    },
    /// A payment window that ends before it starts, or lasts longer than
    /// [`limits::PAYMENT_MINUTES`].
    #[error("an order awaits payment for at most {max} minutes from its placing", max = limits::PAYMENT_MINUTES)]
    BadPaymentWindow,
    /// The order has no tickets for the concert to pay back.
    #[error("the order has no tickets for concert {concert_id} to pay back")]
    NoTicketsFor {
        /// The concert.
        concert_id: ConcertId,
    },
    /// The concert's tickets were not paid back (yet).
    #[error("the order's tickets for concert {concert_id} were not paid back")]
    NotRefunded {
        /// The concert.
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
            OrderError::NotFound | OrderError::TicketNotFound(_) | OrderError::NoTicketsFor { .. } => {
                RefusalKind::NotFound
            }
            OrderError::NoLines
            | OrderError::TooManyLines
            | OrderError::WrongNumberOfCodes { .. }
            | OrderError::DuplicateCode(_)
            | OrderError::CurrencyMismatch { .. }
            | OrderError::PriceTooHigh
            | OrderError::TooManyTicketsForConcert { .. }
            | OrderError::TicketForAnotherConcert { .. }
            | OrderError::WrongAmount { .. }
            | OrderError::BadPaymentWindow => RefusalKind::Invalid,
            OrderError::AlreadyPlaced
            | OrderError::ConcertCancelled { .. }
            | OrderError::AlreadyCheckedIn { .. }
            | OrderError::NotPaid { .. }
            | OrderError::NotAwaitingPayment { .. }
            | OrderError::OtherPayment { .. }
            | OrderError::PaymentKept { .. }
            | OrderError::NotDueYet { .. }
            | OrderError::NotRefunded { .. } => RefusalKind::Conflict,
        }
    }
}
