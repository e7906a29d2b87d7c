//! The payment provider's port. A paid order is placed awaiting payment;
//! the provider takes the money from the buyer's browser, and tells the shop
//! how it went through a signed notification (a webhook). The shop never
//! sees a card.
//!
//! Every call that changes something at the provider carries an idempotency
//! key derived from the command that makes it (the order's id, the refund's
//! reason), so a call repeated after a crash or a timeout never charges,
//! cancels or refunds twice.
//!
//! Without a provider ([`Shop`](crate::Shop) built without one) orders are
//! paid at checkout by the built-in test provider, so a local shop sells
//! without any account anywhere.

use chrono::{DateTime, Utc};
use es_core::async_trait;
use thiserror::Error;
use ticketing::{Money, OrderId};

use crate::error::Cause;

/// What the shop asks a provider to collect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRequest {
    /// The order paid for; the provider keeps it with the payment and hands
    /// it back in its notifications.
    pub order_id: OrderId,
    /// How much, in which currency (minor units, as the shop counts).
    pub amount: Money,
    /// Derived from the order: the same key finds the same payment again.
    pub idempotency_key: String,
}

/// A payment as the provider keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentSession {
    /// The provider's id of the payment (a PaymentIntent's `pi_...`).
    pub payment_id: String,
    /// What the buyer's browser needs to pay: a secret, never logged or
    /// written to the log.
    pub client_secret: String,
    /// Where the payment stands.
    pub status: PaymentStatus,
}

impl std::fmt::Debug for PaymentSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSession")
            .field("payment_id", &self.payment_id)
            .field("client_secret", &"<secret>")
            .field("status", &self.status)
            .finish()
    }
}

/// Where a payment stands at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Waiting for the buyer (a card, a confirmation, a 3-D Secure step).
    AwaitingBuyer,
    /// Submitted; the outcome will be notified.
    Processing,
    /// The money is taken.
    Succeeded,
    /// Cancelled: it can no longer succeed.
    Canceled,
}

/// A verified notification from the provider about one payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentNotice {
    /// The provider's id of the notification (a Stripe event's `evt_...`):
    /// delivered at least once, handled once.
    pub notice_id: String,
    /// The payment it is about.
    pub payment_id: String,
    /// The order the payment was created for, from the payment's metadata.
    pub order_id: OrderId,
    /// What happened.
    pub outcome: PaymentOutcome,
}

/// What a [`PaymentNotice`] says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The money is taken.
    Succeeded {
        /// How much was taken.
        amount: Money,
    },
    /// The attempt failed (a declined card, for example).
    Failed {
        /// The provider's reason, fit to show the buyer.
        reason: String,
    },
}

/// Why a provider call failed.
#[derive(Debug, Error)]
pub enum PaymentError {
    /// The provider refused the request itself (a 4xx answer): retrying the
    /// same request will not help.
    #[error("the payment provider refused the request: {message}")]
    Refused {
        /// The provider's explanation.
        message: String,
    },
    /// The provider could not be reached, or failed (a 5xx answer, a
    /// timeout): retrying with the same idempotency key is safe.
    #[error("the payment provider is unavailable")]
    Unavailable(#[source] Cause),
}

/// Why a webhook delivery is not taken.
#[derive(Debug, PartialEq, Eq, Error)]
pub enum WebhookError {
    /// No signature, a wrong one, or one too old to be a fresh delivery.
    #[error("the notification's signature is missing, wrong or too old")]
    BadSignature,
    /// Signed, but not a notification the shop can read.
    #[error("the notification cannot be read: {0}")]
    Malformed(String),
}

/// A payment provider: Stripe in production and in the tests (against a
/// stateful fake of its API).
#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Its name, as the orders record it (`"stripe"`).
    fn name(&self) -> &'static str;

    /// Creates a payment for an order, or finds the one created before
    /// with the same idempotency key.
    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, PaymentError>;

    /// The payment with this id, as the provider keeps it now.
    async fn payment(&self, payment_id: &str) -> Result<PaymentSession, PaymentError>;

    /// Cancels a payment that has not succeeded (its order ran out or
    /// failed), so that it never can. Cancelling a cancelled payment is not
    /// an error.
    async fn cancel_payment(&self, payment_id: &str, idempotency_key: &str) -> Result<(), PaymentError>;

    /// Refunds a succeeded payment: `amount` of it (the tickets of one
    /// cancelled concert), or all of it when `None`. Returns the provider's
    /// id of the refund. The same key never refunds twice.
    async fn refund(
        &self,
        payment_id: &str,
        amount: Option<Money>,
        idempotency_key: &str,
    ) -> Result<String, PaymentError>;

    /// Checks a webhook delivery's signature (`signature` is the header's
    /// value) against the body as received, and reads it. `Ok(None)` for
    /// notifications the shop does not act on.
    fn verify_notice(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<PaymentNotice>, WebhookError>;
}
