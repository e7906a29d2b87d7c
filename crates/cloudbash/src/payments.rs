//! Where `serve` sends its buyers to pay: Stripe, when given its keys, or
//! the built-in test provider, which marks every order paid at checkout (a
//! shop to try on one's own machine, or a demo). The secret keys are read
//! from files, never from the command line, where other users of the
//! machine could read them.
//!
//! The web shop takes the card with Stripe.js, which needs the shop's
//! publishable key: public by design, so it may be a flag. Without it the
//! API takes Stripe payments and the web's payment page says that it
//! cannot; the server warns at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use ticketing_app::payments::PaymentProvider;
use ticketing_stripe::StripeProvider;
use ticketing_web::StripeJs;

/// Options of the payment provider.
#[derive(Debug, Args)]
pub(crate) struct PaymentArgs {
    /// Take payments with Stripe, with the secret API key (`sk_...`) in this file. Without it orders are paid at
    /// checkout by the built-in test provider, and the pages say so.
    #[arg(long, env = "CLOUDBASH_STRIPE_SECRET_KEY_FILE", requires = "stripe_webhook_secret_file")]
    stripe_secret_key_file: Option<PathBuf>,
    /// The file holding the signing secret (`whsec_...`) of the webhook endpoint Stripe notifies, which is
    /// `<shop>/payments/stripe/webhook`.
    #[arg(long, env = "CLOUDBASH_STRIPE_WEBHOOK_SECRET_FILE", requires = "stripe_secret_key_file")]
    stripe_webhook_secret_file: Option<PathBuf>,
    /// Stripe's API, or a stand-in for it.
    #[arg(long, env = "CLOUDBASH_STRIPE_API_BASE", default_value = ticketing_stripe::API_BASE)]
    stripe_api_base: String,
    /// The publishable key (`pk_...`) with which the web shop's payment page loads Stripe.js to take the card.
    #[arg(long, env = "CLOUDBASH_STRIPE_PUBLISHABLE_KEY", requires = "stripe_secret_key_file")]
    stripe_publishable_key: Option<String>,
    /// Where the payment page loads Stripe.js from: Stripe's, or a stand-in's. Its origin is the one other site the
    /// payment page lets run script, connect and frame.
    #[arg(long, env = "CLOUDBASH_STRIPE_JS_URL", default_value = ticketing_web::STRIPE_JS_URL)]
    stripe_js_url: String,
}

impl PaymentArgs {
    /// The provider the options name; `None`: the built-in test provider.
    pub(crate) fn provider(&self) -> anyhow::Result<Option<Payments>> {
        let (Some(key_file), Some(webhook_file)) = (&self.stripe_secret_key_file, &self.stripe_webhook_secret_file)
        else {
            return Ok(None);
        };
        let provider = StripeProvider::new(&self.stripe_api_base, secret(key_file)?, secret(webhook_file)?)
            .context("configuring Stripe")?;
        let web = match &self.stripe_publishable_key {
            Some(key) => Some(StripeJs::new(key, &self.stripe_js_url).context("configuring Stripe.js")?),
            None => {
                tracing::warn!(
                    "no --stripe-publishable-key: the API takes payments with Stripe, but the web shop cannot take cards"
                );
                None
            }
        };
        Ok(Some(Payments { provider: Arc::new(provider), web }))
    }
}

/// A payment provider, as a host is configured with it, and what the web pages need to take cards for it.
#[derive(Clone)]
pub(crate) struct Payments {
    pub(crate) provider: Arc<dyn PaymentProvider>,
    /// Stripe.js's configuration; `None`: the pages take no cards.
    pub(crate) web: Option<StripeJs>,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments").field("provider", &self.provider.name()).field("web", &self.web).finish()
    }
}

/// A secret kept in a file, without the line end an editor adds.
fn secret(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text.trim().to_owned())
}
