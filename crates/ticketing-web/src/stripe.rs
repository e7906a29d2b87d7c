//! Card payments in the browser, with Stripe.js. The card number never reaches this server: Stripe's script
//! draws the card form in the page and sends what the buyer types to Stripe itself, which is why the payment page
//! needs script at all. What the pages need to load it is the shop's publishable key (`pk_...`, public by design)
//! and the script's URL; a stand-in for Stripe serves its own script at another URL.
//!
//! The page that loads the script must let it run, connect and frame its card fields: its content security policy
//! names the script's origin for `script-src`, `connect-src` and `frame-src`, and nothing else is added, but for
//! Stripe's own script, which also calls Stripe's API and frames the bank's check from Stripe's hooks site. Every other
//! page keeps the policy that names only this site ([`crate::content_security_policy`]).

use axum::http::{HeaderValue, Uri};

/// Where Stripe.js is served from, unless told otherwise.
pub const STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";

/// Why a Stripe.js configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeJsError {
    /// The key is not a publishable key.
    #[error("the publishable key must start with `pk_` and hold only letters, digits and underscores")]
    Key,
    /// The script's URL is not an absolute http(s) URL whose origin a content security policy can name.
    #[error("the Stripe.js URL must be an absolute http or https URL with a plain host name: {0}")]
    Url(String),
}

/// What the payment page needs to load Stripe.js: the publishable key, the script's URL and, for the content
/// security policy, that URL's origin.
#[derive(Debug, Clone)]
pub struct StripeJs {
    publishable_key: String,
    script_url: String,
    /// The content security policy of a page that loads the script.
    policy: HeaderValue,
}

impl StripeJs {
    /// Stripe.js from `script_url` ([`STRIPE_JS_URL`] for Stripe's own), for the shop whose publishable key is
    /// `publishable_key`.
    pub fn new(publishable_key: &str, script_url: &str) -> Result<Self, StripeJsError> {
        let key = publishable_key.trim();
        let key_chars = key.chars().all(|character| character.is_ascii_alphanumeric() || character == '_');
        if !key.starts_with("pk_") || key.len() <= 3 || !key_chars {
            return Err(StripeJsError::Key);
        }
        let origin = origin(script_url).ok_or_else(|| StripeJsError::Url(script_url.to_owned()))?;
        let policy = HeaderValue::try_from(crate::content_security_policy(Some(&origin)))
            .map_err(|_| StripeJsError::Url(script_url.to_owned()))?;
        Ok(Self { publishable_key: key.to_owned(), script_url: script_url.to_owned(), policy })
    }

    pub(crate) fn publishable_key(&self) -> &str {
        &self.publishable_key
    }

    pub(crate) fn script_url(&self) -> &str {
        &self.script_url
    }

    /// The content security policy of the payment page.
    pub(crate) fn policy(&self) -> &HeaderValue {
        &self.policy
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL. A host with anything but letters, digits, dots, hyphens and
/// a port is refused: the origin is written into a header, where `;`, `,` or a space would change the policy.
fn origin(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str().filter(|scheme| *scheme == "https" || *scheme == "http")?;
    let authority = uri.authority()?.as_str();
    let plain = authority.chars().all(|character| character.is_ascii_alphanumeric() || ".-:".contains(character));
    (plain && !authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_the_scheme_and_the_host() {
        assert_eq!(origin(STRIPE_JS_URL).as_deref(), Some("https://js.stripe.com"));
        assert_eq!(origin("http://127.0.0.1:8420/js.stripe.com/v3/").as_deref(), Some("http://127.0.0.1:8420"));
        assert_eq!(origin("/js.stripe.com/v3/"), None, "not absolute");
        assert_eq!(origin("ftp://js.stripe.com/v3/"), None, "not http");
        assert_eq!(origin("https://user@js.stripe.com/v3/"), None, "credentials are not an origin");
    }

    #[test]
    fn only_a_publishable_key_is_taken() {
        assert!(StripeJs::new("pk_test_123", STRIPE_JS_URL).is_ok());
        assert_eq!(StripeJs::new("sk_test_123", STRIPE_JS_URL).err(), Some(StripeJsError::Key));
        assert_eq!(StripeJs::new("pk_", STRIPE_JS_URL).err(), Some(StripeJsError::Key));
        assert_eq!(StripeJs::new("pk_x\" onload=\"", STRIPE_JS_URL).err(), Some(StripeJsError::Key));
    }

    #[test]
    fn the_policy_adds_the_scripts_origin_and_nothing_else() {
        let stand_in =
            StripeJs::new("pk_test_123", "http://127.0.0.1:8420/js.stripe.com/v3/").expect("a configuration");
        let policy = stand_in.policy().to_str().expect("text");

        assert!(policy.contains("script-src 'self' http://127.0.0.1:8420;"), "{policy}");
        assert!(policy.contains("connect-src 'self' http://127.0.0.1:8420;"), "{policy}");
        assert!(policy.contains("frame-src http://127.0.0.1:8420;"), "{policy}");
        assert!(policy.contains("default-src 'self';"), "{policy}");
        assert_eq!(policy.matches("127.0.0.1").count(), 3, "only the three directives name it: {policy}");
    }

    #[test]
    fn stripes_own_script_may_also_reach_its_api_and_frame_the_banks_check() {
        let stripe = StripeJs::new("pk_test_123", STRIPE_JS_URL).expect("a configuration");
        let policy = stripe.policy().to_str().expect("text");

        assert!(policy.contains("script-src 'self' https://js.stripe.com;"), "{policy}");
        assert!(policy.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;"), "{policy}");
        assert!(policy.contains("frame-src https://js.stripe.com https://hooks.stripe.com;"), "{policy}");
    }
}
