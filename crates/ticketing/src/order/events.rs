//! What happens to an order, and the events' stable names in the log. An
//! order is placed either paid (nothing to pay, or paid by the built-in
//! test provider: its tickets sold in the same append) or awaiting a
//! payment, with its tickets held; then it is paid, fails or runs out.
//!
//! The events that make an order's tickets valid, [`OrderEvent::Placed`]
//! when placed paid and [`OrderEvent::Paid`], each carry the lines and
//! codes: the read models and the mailer act on one event, without keeping
//! pending orders of their own.

use chrono::{DateTime, Utc};
use es_core::{CodecError, DomainEvent, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};

use super::OrderLine;
use crate::email::EmailAddress;
use crate::ids::{ConcertId, CustomerId, HoldId, OrderId};
use crate::values::Money;

/// How an order is paid, as placed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PaymentTerms {
    /// Paid as it was placed: nothing to pay, or paid by the built-in test
    /// provider. Its tickets were sold in the same append.
    PaidAtCheckout {
        /// `"test"` (the built-in provider) or `"none"` (nothing to pay).
        provider: String,
    },
    /// Awaits a payment: its tickets are held for it until `due`.
    Due {
        /// The provider that collects it (`"stripe"`).
        provider: String,
        /// When the holds run out unless it is paid.
        due: DateTime<Utc>,
        /// Where its tickets are held.
        holds: Vec<OrderHolds>,
    },
}

/// The holds of an order awaiting payment that one stock keeps: the
/// concert's own, or one of its buckets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderHolds {
    /// The concert.
    pub concert_id: ConcertId,
    /// The concert's bucket that keeps them; `None`: the concert itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<u16>,
    /// The holds.
    pub hold_ids: Vec<HoldId>,
}

/// What happened to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum OrderEvent {
    /// A purchase was recorded, with the prices and the tickets' codes.
    /// Without `payment` (orders placed before payments existed) it was
    /// paid as placed.
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
        /// How it is paid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment: Option<PaymentTerms>,
        /// Where its tickets are mailed once it is paid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deliver_to: Option<EmailAddress>,
    },
    /// The paid order's tickets were mailed to the buyer.
    #[serde(rename = "OrderTicketsMailed")]
    TicketsMailed {
        /// Where they went.
        to: EmailAddress,
        /// The mail's `Message-ID`.
        message_id: String,
        /// When the mail server took the mail.
        mailed_at: DateTime<Utc>,
    },
    /// The provider's payment for the order was created.
    #[serde(rename = "OrderPaymentRequested")]
    PaymentRequested {
        /// The provider's id of the payment.
        payment_id: String,
    },
    /// The order was paid: its tickets are sold and valid.
    #[serde(rename = "OrderPaid")]
    Paid {
        /// The order.
        order_id: OrderId,
        /// Who bought.
        customer_id: CustomerId,
        /// What they bought, as placed.
        lines: Vec<OrderLine>,
        /// What was paid.
        total: Money,
        /// The provider's id of the payment.
        payment_id: String,
        /// When the provider said so.
        paid_at: DateTime<Utc>,
    },
    /// The payment failed: the held tickets went back on sale.
    #[serde(rename = "OrderPaymentFailed")]
    PaymentFailed {
        /// The provider's reason.
        reason: String,
        /// When.
        failed_at: DateTime<Utc>,
    },
    /// The order was not paid in time: the held tickets went back on sale.
    #[serde(rename = "OrderExpired")]
    Expired {
        /// When.
        expired_at: DateTime<Utc>,
    },
    /// A payment that came after the order had failed or run out was paid
    /// back.
    #[serde(rename = "OrderLatePaymentReturned")]
    LatePaymentReturned {
        /// The provider's id of the payment.
        payment_id: String,
        /// The provider's id of the refund.
        refund_id: String,
        /// When.
        returned_at: DateTime<Utc>,
    },
    /// The order's tickets for a cancelled concert were paid back and are
    /// void.
    #[serde(rename = "OrderRefunded")]
    Refunded {
        /// The cancelled concert.
        concert_id: ConcertId,
        /// The order's lines for it, as placed.
        lines: Vec<OrderLine>,
        /// What was paid back.
        amount: Money,
        /// The provider's id of the refund; absent when no money was taken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refund_id: Option<String>,
        /// Whether every line of the order is now paid back: the order is
        /// `refunded`.
        whole_order: bool,
        /// When.
        refunded_at: DateTime<Utc>,
    },
    /// The buyer was told that a concert was cancelled and paid back.
    #[serde(rename = "OrderRefundMailed")]
    RefundMailed {
        /// The cancelled concert.
        concert_id: ConcertId,
        /// Where the mail went.
        to: EmailAddress,
        /// The mail's `Message-ID`.
        message_id: String,
        /// When the mail server took the mail.
        mailed_at: DateTime<Utc>,
    },
    /// A ticket's holder came in.
    #[serde(rename = "TicketCheckedIn")]
    TicketCheckedIn {
        /// The ticket.
        code: crate::values::TicketCode,
        /// When.
        checked_in_at: DateTime<Utc>,
    },
}

/// Every `EventType` of [`OrderEvent`].
pub const ORDER_EVENT_TYPES: [&str; 10] = [
    "OrderPlaced",
    "TicketCheckedIn",
    "OrderPaymentRequested",
    "OrderPaid",
    "OrderPaymentFailed",
    "OrderExpired",
    "OrderLatePaymentReturned",
    "OrderTicketsMailed",
    "OrderRefunded",
    "OrderRefundMailed",
];

/// The tickets an event made valid: what an order sold, to whom, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaidTickets<'a> {
    /// The order.
    pub order_id: OrderId,
    /// Who bought.
    pub customer_id: CustomerId,
    /// The lines, with their codes.
    pub lines: &'a [OrderLine],
    /// What was paid.
    pub total: Money,
    /// When the tickets became valid.
    pub paid_at: DateTime<Utc>,
}

impl OrderEvent {
    /// The tickets this event made valid: an order placed paid, or paid
    /// later. `None` for every other event.
    pub fn paid_tickets(&self) -> Option<PaidTickets<'_>> {
        match self {
            OrderEvent::Placed { order_id, customer_id, lines, total, placed_at, payment, .. }
                if !matches!(payment, Some(PaymentTerms::Due { .. })) =>
            {
                Some(PaidTickets {
                    order_id: *order_id,
                    customer_id: *customer_id,
                    lines,
                    total: *total,
                    paid_at: *placed_at,
                })
            }
            OrderEvent::Paid { order_id, customer_id, lines, total, paid_at, .. } => Some(PaidTickets {
                order_id: *order_id,
                customer_id: *customer_id,
                lines,
                total: *total,
                paid_at: *paid_at,
            }),
            _ => None,
        }
    }
}

impl OrderEvent {
    /// Where the order stands after this event, if the event moves it.
    pub fn status_after(&self) -> Option<crate::OrderStatus> {
        use crate::OrderStatus;
        match self {
            OrderEvent::Placed { payment: Some(PaymentTerms::Due { .. }), .. } => Some(OrderStatus::PendingPayment),
            OrderEvent::Placed { .. } | OrderEvent::Paid { .. } => Some(OrderStatus::Paid),
            OrderEvent::PaymentFailed { .. } => Some(OrderStatus::Failed),
            OrderEvent::Expired { .. } => Some(OrderStatus::Expired),
            OrderEvent::Refunded { whole_order: true, .. } => Some(OrderStatus::Refunded),
            OrderEvent::Refunded { whole_order: false, .. }
            | OrderEvent::RefundMailed { .. }
            | OrderEvent::PaymentRequested { .. }
            | OrderEvent::LatePaymentReturned { .. }
            | OrderEvent::TicketsMailed { .. }
            | OrderEvent::TicketCheckedIn { .. } => None,
        }
    }
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> &'static str {
        let index = match self {
            OrderEvent::Placed { .. } => 0,
            OrderEvent::TicketCheckedIn { .. } => 1,
            OrderEvent::PaymentRequested { .. } => 2,
            OrderEvent::Paid { .. } => 3,
            OrderEvent::PaymentFailed { .. } => 4,
            OrderEvent::Expired { .. } => 5,
            OrderEvent::LatePaymentReturned { .. } => 6,
            OrderEvent::TicketsMailed { .. } => 7,
            OrderEvent::Refunded { .. } => 8,
            OrderEvent::RefundMailed { .. } => 9,
        };
        ORDER_EVENT_TYPES[index]
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
