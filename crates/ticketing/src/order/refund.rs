//! Paying back the tickets of a cancelled concert. The order cannot see the
//! concert; the process that follows cancellations asks it to refund the
//! lines of one concert, once it has paid the money back at the provider
//! with the amount the order itself names ([`Order::refund_due`]). A line is
//! refunded once: asking again changes nothing, so a process that crashed
//! between the provider's refund and its record simply asks again (the
//! provider's idempotency key makes the refund itself happen once).
//!
//! An order of several concerts is refunded concert by concert; it is
//! `refunded` when every line is, and stays `paid` (with the cancelled
//! concert's tickets void) until then.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Order, OrderError, OrderEvent, OrderStatus};
use crate::email::EmailAddress;
use crate::ids::ConcertId;
use crate::values::Money;

/// The tickets of one cancelled concert, paid back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// What was paid back.
    pub amount: Money,
    /// The provider's id of the refund; `None` when no money was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// When.
    pub refunded_at: DateTime<Utc>,
}

/// A step of paying back a cancelled concert's tickets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundCommand {
    /// Records that the order's tickets for a cancelled concert were paid
    /// back: they are void from now on.
    Cancelled {
        /// The cancelled concert.
        concert_id: ConcertId,
        /// The provider's id of the refund; `None` when no money was taken
        /// (the built-in test provider, or nothing to pay).
        refund_id: Option<String>,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// Records that the buyer was told of the cancellation and the refund.
    Mailed {
        /// The cancelled concert.
        concert_id: ConcertId,
        /// Where the mail went.
        to: EmailAddress,
        /// The mail's `Message-ID`.
        message_id: String,
        /// The current time.
        now: DateTime<Utc>,
    },
}

impl Order {
    /// What paying back the tickets for `concert_id` comes to: `None` when
    /// there is nothing to pay back (not paid, no such tickets, or refunded
    /// already).
    pub fn refund_due(&self, concert_id: ConcertId) -> Option<Money> {
        let placed = self.placed.as_ref()?;
        if self.status != OrderStatus::Paid || self.refunded.contains_key(&concert_id) {
            return None;
        }
        let mut lines = placed.lines.iter().filter(|line| line.concert_id == concert_id).peekable();
        let currency = lines.peek()?.unit_price.currency;
        let total = lines.try_fold(Money::zero(currency), |total, line| {
            line.unit_price.times(line.quantity).and_then(|subtotal| total.plus(subtotal))
        });
        Some(total.expect("invariant: the order was placed with these lines, so their total fits"))
    }

    /// Whether the tickets for `concert_id` were paid back.
    pub fn is_refunded(&self, concert_id: ConcertId) -> bool {
        self.refunded.contains_key(&concert_id)
    }

    /// The refund of the tickets for `concert_id`, once paid back.
    pub fn refund_of(&self, concert_id: ConcertId) -> Option<&Refund> {
        self.refunded.get(&concert_id)
    }

    /// Whether the buyer was told that `concert_id` was cancelled and paid
    /// back.
    pub fn refund_mailed(&self, concert_id: ConcertId) -> bool {
        self.refund_mailed.contains(&concert_id)
    }

    pub(super) fn decide_refund(&self, command: &RefundCommand) -> Result<Vec<OrderEvent>, OrderError> {
        let placed = self.placed.as_ref().ok_or(OrderError::NotFound)?;
        match command {
            RefundCommand::Cancelled { concert_id, refund_id, now } => {
                if self.refunded.contains_key(concert_id) {
                    return Ok(Vec::new());
                }
                if self.status != OrderStatus::Paid {
                    return Err(OrderError::NotPaid { status: self.status });
                }
                let amount =
                    self.refund_due(*concert_id).ok_or(OrderError::NoTicketsFor { concert_id: *concert_id })?;
                let lines: Vec<_> =
                    placed.lines.iter().filter(|line| line.concert_id == *concert_id).cloned().collect();
                let whole_order = placed
                    .lines
                    .iter()
                    .all(|line| line.concert_id == *concert_id || self.refunded.contains_key(&line.concert_id));
                Ok(vec![OrderEvent::Refunded {
                    concert_id: *concert_id,
                    lines,
                    amount,
                    refund_id: refund_id.clone(),
                    whole_order,
                    refunded_at: *now,
                }])
            }
            RefundCommand::Mailed { concert_id, to, message_id, now } => {
                if !self.refunded.contains_key(concert_id) {
                    return Err(OrderError::NotRefunded { concert_id: *concert_id });
                }
                if self.refund_mailed.contains(concert_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![OrderEvent::RefundMailed {
                    concert_id: *concert_id,
                    to: to.clone(),
                    message_id: message_id.clone(),
                    mailed_at: *now,
                }])
            }
        }
    }
}

#[cfg(test)]
mod tests;
