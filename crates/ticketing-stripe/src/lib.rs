//! # ticketing-stripe: the shop's payments through Stripe
//!
//! The adapter of [`PaymentProvider`] on Stripe's PaymentIntents. A paid
//! order gets a PaymentIntent for its amount, with the order's id in its
//! metadata; the buyer's browser confirms it with Stripe.js and the
//! PaymentIntent's client secret, so no card ever reaches the shop. Stripe
//! then tells the shop how it went through a signed webhook event, which
//! [`StripeProvider::verify_notice`] checks and reads. The shop also reads a
//! payment's state, cancels a payment its order no longer needs, and refunds
//! one in full.
//!
//! **Safe to repeat.** Every `POST` carries the caller's idempotency key as
//! Stripe's `Idempotency-Key`, so a call repeated after a timeout or a
//! crash finds the first one's result instead of charging, cancelling or
//! refunding again. Cancelling a payment that is already cancelled is not an
//! error: the port asks for a payment that cannot succeed, and it cannot.
//!
//! **Errors say whether to retry.** Stripe's refusals (a 4xx) become
//! [`PaymentError::Refused`] with Stripe's message; anything that may pass
//! (no connection, a timeout, a 5xx, a 429) becomes
//! [`PaymentError::Unavailable`], its cause an [`ApiFailure`].
//!
//! **Secrets stay secret.** The API key and the webhook secret are given by
//! the composition root and never printed: [`StripeProvider`]'s `Debug`
//! shows only where it calls.
//!
//! [`testing`] pays at localstripe the way a buyer's browser would, and
//! registers webhooks there, for the tests of the crates that take
//! payments.

mod client;
mod intent;
mod signature;
pub mod testing;
mod webhook;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Url;
use thiserror::Error;
use ticketing::Money;
use ticketing_app::payments::{
    PaymentError, PaymentNotice, PaymentProvider, PaymentRequest, PaymentSession, WebhookError,
};

pub use client::{API_VERSION, ApiFailure};
pub use signature::SIGNATURE_TOLERANCE;

use client::{SecretKey, StripeApi};
use intent::{Intent, Refund};
use signature::SigningKey;

/// Where Stripe's API is.
pub const API_BASE: &str = "https://api.stripe.com";

/// How long one call may take, answer included, unless
/// [`StripeProvider::with_timeout`] says otherwise. Stripe answers in well
/// under a second; a call still waiting after this is given up as
/// unavailable, and repeated with the same key later.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest id Stripe gives an object.
const ID_LEN_MAX: usize = 255;

/// Why a [`StripeProvider`] cannot be built from its configuration.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The API base is not an `http` or `https` URL.
    #[error("the Stripe API base {0:?} is not an http(s) URL")]
    ApiBase(String),
    /// A key is empty: its file was probably empty.
    #[error("the Stripe {0} is empty")]
    EmptySecret(&'static str),
    /// The HTTP client cannot be built (no TLS roots, for example).
    #[error("the HTTP client for Stripe cannot be built")]
    Client(#[source] reqwest::Error),
}

/// Payments through one Stripe account.
pub struct StripeProvider {
    api: StripeApi,
    signing: SigningKey,
}

impl StripeProvider {
    /// Calls Stripe at `api_base` ([`API_BASE`], or a stand-in's address)
    /// with `secret_key` (`sk_...`), and takes webhook deliveries signed with
    /// `webhook_secret` (the endpoint's `whsec_...`).
    pub fn new(api_base: &str, secret_key: String, webhook_secret: String) -> Result<Self, ConfigError> {
        let base = Url::parse(api_base).map_err(|_| ConfigError::ApiBase(api_base.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() || base.host().is_none() {
            return Err(ConfigError::ApiBase(api_base.to_owned()));
        }
        if secret_key.is_empty() {
            return Err(ConfigError::EmptySecret("secret key"));
        }
        if webhook_secret.is_empty() {
            return Err(ConfigError::EmptySecret("webhook secret"));
        }
        let api = StripeApi::new(base, SecretKey::new(secret_key), REQUEST_TIMEOUT).map_err(ConfigError::Client)?;
        Ok(Self { api, signing: SigningKey::new(&webhook_secret) })
    }

    /// The same provider, giving each call `timeout` instead of
    /// [`REQUEST_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.api.set_timeout(timeout);
        self
    }

    /// Where it calls Stripe.
    pub fn api_base(&self) -> &str {
        self.api.base().as_str()
    }

    async fn intent(&self, payment_id: &str) -> Result<Intent, PaymentError> {
        self.api.get(&["v1", "payment_intents", stripe_id(payment_id)?]).await
    }
}

impl fmt::Debug for StripeProvider {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("StripeProvider").field("api_base", &self.api_base()).finish_non_exhaustive()
    }
}

/// `id` if it looks like a Stripe id (`pi_3P...`): anything else is refused
/// before it is put in a URL.
fn stripe_id(id: &str) -> Result<&str, PaymentError> {
    let fits = !id.is_empty() && id.len() <= ID_LEN_MAX;
    if fits && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_') {
        Ok(id)
    } else {
        Err(PaymentError::Refused { message: format!("{id:?} is not a Stripe id") })
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, PaymentError> {
        let amount = request.amount.amount.to_string();
        let currency = request.amount.currency.as_str().to_ascii_lowercase();
        let order_id = request.order_id.to_string();
        // Cards only: other methods (bank debits, vouchers) take days to
        // settle, longer than an order waits for its payment.
        let form = [
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("metadata[order_id]", order_id.as_str()),
            ("payment_method_types[]", "card"),
        ];
        let intent: Intent = self.api.post(&["v1", "payment_intents"], &form, &request.idempotency_key).await?;
        Ok(intent.session()?)
    }

    async fn payment(&self, payment_id: &str) -> Result<PaymentSession, PaymentError> {
        Ok(self.intent(payment_id).await?.session()?)
    }

    async fn cancel_payment(&self, payment_id: &str, idempotency_key: &str) -> Result<(), PaymentError> {
        let path = ["v1", "payment_intents", stripe_id(payment_id)?, "cancel"];
        match self.api.post::<Intent>(&path, &[], idempotency_key).await {
            Ok(_) => Ok(()),
            // Stripe refuses to cancel a cancelled PaymentIntent (its error
            // code says so, localstripe's does not): whether that is why is
            // asked of the PaymentIntent itself.
            Err(refused @ PaymentError::Refused { .. }) => match self.intent(payment_id).await {
                Ok(intent) if intent.is_canceled() => Ok(()),
                _ => Err(refused),
            },
            Err(unavailable) => Err(unavailable),
        }
    }

    async fn refund(
        &self,
        payment_id: &str,
        amount: Option<Money>,
        idempotency_key: &str,
    ) -> Result<String, PaymentError> {
        let amount = amount.map(|amount| amount.amount.to_string());
        let mut form = vec![("payment_intent", stripe_id(payment_id)?)];
        form.extend(amount.as_deref().map(|amount| ("amount", amount)));
        let refund: Refund = self.api.post(&["v1", "refunds"], &form, idempotency_key).await?;
        Ok(refund.id)
    }

    fn verify_notice(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<PaymentNotice>, WebhookError> {
        self.signing.verify(signature, body, now)?;
        webhook::notice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(base: &str) -> Result<StripeProvider, ConfigError> {
        StripeProvider::new(base, "sk_test_secret".into(), "whsec_secret".into())
    }

    #[test]
    fn the_api_base_is_an_http_url() {
        assert!(provider(API_BASE).is_ok());
        assert!(provider("http://127.0.0.1:8420").is_ok());
        for base in ["", "api.stripe.com", "ftp://api.stripe.com", "mailto:a@b.c", "http://"] {
            assert!(matches!(provider(base), Err(ConfigError::ApiBase(_))), "{base:?}");
        }
    }

    #[test]
    fn empty_secrets_are_refused() {
        let no_key = StripeProvider::new(API_BASE, String::new(), "whsec_secret".into());
        assert!(matches!(no_key, Err(ConfigError::EmptySecret("secret key"))));
        let no_secret = StripeProvider::new(API_BASE, "sk_test_secret".into(), String::new());
        assert!(matches!(no_secret, Err(ConfigError::EmptySecret("webhook secret"))));
    }

    #[test]
    fn debug_shows_no_secret() {
        let provider = StripeProvider::new(API_BASE, "sk_live_hush".into(), "whsec_hush".into()).expect("builds");
        let printed = format!("{provider:?}");
        assert!(printed.contains("api.stripe.com"), "{printed}");
        assert!(!printed.contains("hush"), "{printed}");
    }

    #[test]
    fn only_stripe_ids_reach_a_url() {
        assert_eq!(stripe_id("pi_3PxYz012").ok(), Some("pi_3PxYz012"));
        for id in ["", "..", "pi_1/cancel", "pi 1", "pi_1?expand=x", &"x".repeat(ID_LEN_MAX + 1)] {
            assert!(matches!(stripe_id(id), Err(PaymentError::Refused { .. })), "{id:?}");
        }
    }

    #[test]
    fn a_notice_is_read_only_once_its_signature_holds() {
        let provider = provider(API_BASE).expect("builds");
        let body = br#"{"id":"evt_1","type":"customer.created","data":{"object":{}}}"#;
        let now = Utc::now();
        let signed = SigningKey::new("whsec_secret").header(now.timestamp(), body);
        assert_eq!(provider.verify_notice(Some(&signed), body, now), Ok(None));
        let forged = SigningKey::new("whsec_forger").header(now.timestamp(), body);
        assert_eq!(provider.verify_notice(Some(&forged), body, now), Err(WebhookError::BadSignature));
        assert_eq!(provider.verify_notice(None, b"not even JSON", now), Err(WebhookError::BadSignature));
    }
}
