//! The payment steps of an order placed awaiting payment. The provider's
//! notifications arrive at least once and in any order, so every step is
//! decided on where the order stands: a step repeated changes nothing, and
//! a payment that comes after the order failed or ran out is refused here,
//! for the application layer to pay back.

use chrono::{DateTime, Utc};

use super::{Order, OrderError, OrderEvent, OrderStatus, PaymentTerms, PlacedOrder};
use crate::values::Money;

/// A step of an order's payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentCommand {
    /// Records the provider's payment created for the order; recording the
    /// same one again changes nothing.
    Requested {
        /// The provider's id of the payment.
        payment_id: String,
    },
    /// The provider took the money: the order is paid (the application
    /// layer sells its held tickets in the same append). The same payment
    /// again changes nothing.
    Pay {
        /// The provider's id of the payment.
        payment_id: String,
        /// What was taken: the order's total.
        amount: Money,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// The payment failed: the order fails (the application layer gives its
    /// holds back in the same append).
    Fail {
        /// The provider's reason.
        reason: String,
        /// The current time.
        now: DateTime<Utc>,
    },
    /// The payment window closed unpaid (the sweep gives the holds back in
    /// the same append).
    Expire {
        /// The current time: at or after the order's due time.
        now: DateTime<Utc>,
    },
    /// Records that a payment the order could not take (it had failed or run
    /// out, was paid by another, or the amount was wrong) was paid back.
    ReturnLatePayment {
        /// The provider's id of the payment.
        payment_id: String,
        /// The provider's id of the refund.
        refund_id: String,
        /// The current time.
        now: DateTime<Utc>,
    },
}

impl Order {
    pub(super) fn decide_payment(
        &self,
        placed: &PlacedOrder,
        command: &PaymentCommand,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let pending = self.status == OrderStatus::PendingPayment;
        let not_pending = OrderError::NotAwaitingPayment { status: self.status };
        match command {
            PaymentCommand::Requested { payment_id } => match &self.payment_id {
                _ if !pending => Err(not_pending),
                Some(recorded) if recorded == payment_id => Ok(Vec::new()),
                Some(recorded) => {
                    Err(OrderError::OtherPayment { expected: recorded.clone(), given: payment_id.clone() })
                }
                None => Ok(vec![OrderEvent::PaymentRequested { payment_id: payment_id.clone() }]),
            },
            PaymentCommand::Pay { payment_id, amount, now } => {
                if self.paid_with(payment_id) {
                    return Ok(Vec::new());
                }
                if !pending {
                    return Err(not_pending);
                }
                if *amount != placed.total {
                    return Err(OrderError::WrongAmount { total: placed.total, paid: *amount });
                }
                Ok(vec![OrderEvent::Paid {
                    order_id: placed.order_id,
                    customer_id: placed.customer_id,
                    lines: placed.lines.clone(),
                    total: placed.total,
                    payment_id: payment_id.clone(),
                    paid_at: *now,
                }])
            }
            PaymentCommand::Fail { reason, now } if pending => {
                Ok(vec![OrderEvent::PaymentFailed { reason: reason.clone(), failed_at: *now }])
            }
            PaymentCommand::Expire { now } if pending => match &placed.payment {
                Some(PaymentTerms::Due { due, .. }) if now < due => Err(OrderError::NotDueYet { due: *due }),
                _ => Ok(vec![OrderEvent::Expired { expired_at: *now }]),
            },
            PaymentCommand::Fail { .. } | PaymentCommand::Expire { .. } => Err(not_pending),
            PaymentCommand::ReturnLatePayment { payment_id, refund_id, now } => {
                if self.returned.contains(payment_id) {
                    return Ok(Vec::new());
                }
                if self.paid_with(payment_id) {
                    return Err(OrderError::PaymentKept { payment_id: payment_id.clone() });
                }
                Ok(vec![OrderEvent::LatePaymentReturned {
                    payment_id: payment_id.clone(),
                    refund_id: refund_id.clone(),
                    returned_at: *now,
                }])
            }
        }
    }

    /// Whether the order was paid by this payment.
    fn paid_with(&self, payment_id: &str) -> bool {
        self.status == OrderStatus::Paid && self.payment_id.as_deref() == Some(payment_id)
    }
}

#[cfg(test)]
pub(super) mod tests;
