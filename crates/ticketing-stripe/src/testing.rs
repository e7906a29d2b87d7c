//! For tests: what a buyer's browser and the Stripe dashboard do, done
//! against localstripe, the stand-in for Stripe's API that
//! `scripts/services.sh` starts. ([`confirm_payment`] makes the calls
//! Stripe's test mode takes too; its webhooks are set up in its dashboard.)
//! The shop itself never calls these.
//!
//! localstripe keeps everything in memory for as long as it runs, delivers
//! each event once, about a second after it happens, to every webhook
//! registered with it (whatever their tests), and forgets nothing between
//! test binaries: a test finds its own deliveries by its order's id. It does
//! not honour idempotency keys. A delivery in progress while another webhook
//! is registered may stop short of the webhooks after it, so a suite
//! registers its webhooks once, before it creates payments.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde::Deserialize;
use thiserror::Error;

use crate::signature::SigningKey;

/// The environment variable that holds localstripe's address.
pub const STRIPE_URL_VARIABLE: &str = "CLOUDBASH_TEST_STRIPE_URL";

/// A secret key localstripe takes (it takes any `sk_...`).
pub const TEST_SECRET_KEY: &str = "sk_test_cloudbash";

/// How long one call of these helpers may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// localstripe's address, from [`STRIPE_URL_VARIABLE`]. Panics, saying how
/// to start it, when it is not set or not on this machine: a test never
/// skips for want of it, and never pays at the real Stripe.
pub fn localstripe_url() -> String {
    let url = std::env::var(STRIPE_URL_VARIABLE).unwrap_or_default();
    assert!(
        url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost"),
        "{STRIPE_URL_VARIABLE} must point at localstripe on this machine (got {url:?}); run the tests through \
         scripts/test.sh, or `. scripts/services.sh` first"
    );
    url.trim_end_matches('/').to_owned()
}

/// A card from Stripe's test numbers, as the PaymentMethod id that stands
/// for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestCard {
    /// A Visa card that pays (`pm_card_visa`): `payment_intent.succeeded`.
    Visa,
    /// A card whose charges are declined (`pm_card_chargeCustomerFail`,
    /// 4000 0000 0000 0341): `payment_intent.payment_failed`, and the
    /// PaymentIntent waits for another card. It is the one test card
    /// localstripe declines when charged; it takes
    /// `pm_card_visa_chargeDeclined` (which Stripe declines) and pays.
    Declined,
}

impl TestCard {
    /// The PaymentMethod id.
    pub fn payment_method(self) -> &'static str {
        match self {
            TestCard::Visa => "pm_card_visa",
            TestCard::Declined => "pm_card_chargeCustomerFail",
        }
    }
}

/// How Stripe answered a confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// The card was taken; the outcome is notified.
    Accepted,
    /// The card was declined (a 402), with Stripe's message; the failure is
    /// notified too.
    Declined {
        /// What Stripe said.
        message: String,
    },
}

/// Why a helper failed.
#[derive(Debug, Error)]
pub enum TestingError {
    /// No answer.
    #[error("no answer from the Stripe stand-in")]
    Http(#[from] reqwest::Error),
    /// An answer other than the expected one.
    #[error("the Stripe stand-in answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The answer's body.
        body: String,
    },
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

fn client() -> Result<Client, TestingError> {
    Ok(Client::builder().timeout(CALL_TIMEOUT).build()?)
}

/// Pays the PaymentIntent `payment_id` with `card`, as Stripe.js does with
/// the buyer's card: the card is attached to the PaymentIntent, which is
/// then confirmed. (localstripe does not take a card in the confirmation
/// itself.)
pub async fn confirm_payment(
    api_base: &str,
    secret_key: &str,
    payment_id: &str,
    card: TestCard,
) -> Result<Confirmation, TestingError> {
    let http = client()?;
    let intent = format!("{}/v1/payment_intents/{payment_id}", api_base.trim_end_matches('/'));
    let attach = http.post(&intent).bearer_auth(secret_key).form(&[("payment_method", card.payment_method())]);
    expect_success(attach.send().await?).await?;
    let confirm = http.post(format!("{intent}/confirm")).bearer_auth(secret_key).send().await?;
    if confirm.status() == StatusCode::PAYMENT_REQUIRED {
        let body = confirm.text().await?;
        let message = serde_json::from_str::<ErrorBody>(&body).map(|body| body.error.message).unwrap_or(body);
        return Ok(Confirmation::Declined { message });
    }
    expect_success(confirm).await?;
    Ok(Confirmation::Accepted)
}

/// Has localstripe deliver every event to `url`, signed with `secret`, as
/// the webhook `webhook_id` (registering the same id again replaces it).
/// Stripe's own webhook endpoints are set up in its dashboard instead.
pub async fn register_webhook(api_base: &str, webhook_id: &str, url: &str, secret: &str) -> Result<(), TestingError> {
    let endpoint = format!("{}/_config/webhooks/{webhook_id}", api_base.trim_end_matches('/'));
    let response = client()?.post(endpoint).form(&[("url", url), ("secret", secret)]).send().await?;
    expect_success(response).await
}

/// The `Stripe-Signature` header Stripe would send with `body` at
/// `timestamp` (Unix seconds) to an endpoint whose secret is
/// `webhook_secret`: for tests that deliver a notice themselves.
pub fn signature_header(webhook_secret: &str, timestamp: i64, body: &[u8]) -> String {
    SigningKey::new(webhook_secret).header(timestamp, body)
}

async fn expect_success(response: reqwest::Response) -> Result<(), TestingError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(TestingError::Status { status, body: response.text().await.unwrap_or_default() })
}
