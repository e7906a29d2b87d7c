//! Calls to Stripe's API: form-encoded requests with the secret key, and
//! answers sorted into what the shop can do about them. A refusal (a 4xx)
//! will be refused again, so it is reported with Stripe's explanation; a
//! failure to get an answer (no connection, a timeout, a 5xx, a 429) may
//! pass, and retrying it with the same idempotency key is safe, so it is
//! reported as unavailable with its cause kept.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use thiserror::Error;
use ticketing_app::payments::PaymentError;

/// The API version the answers are read as. Stripe answers an account's
/// default version otherwise, which its owner can change in the dashboard;
/// pinned, the shapes read here change only when this does.
pub const API_VERSION: &str = "2024-06-20";

/// How long connecting to Stripe may take, within a call's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call got no answer the shop can use: the cause kept in
/// [`PaymentError::Unavailable`].
#[derive(Debug, Error)]
pub enum ApiFailure {
    /// No answer: no connection, a timeout, a connection cut.
    #[error("no answer from Stripe")]
    Transport(#[source] reqwest::Error),
    /// Stripe failed, or asked to be called again later.
    #[error("Stripe answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// Stripe's explanation, or the status's reason.
        message: String,
    },
    /// A success whose body is not what this API version answers.
    #[error("Stripe's answer cannot be read")]
    Unreadable(#[source] serde_json::Error),
    /// A payment in a state this adapter does not know.
    #[error("Stripe reports a status this shop does not know: {0:?}")]
    UnknownStatus(String),
}

impl From<ApiFailure> for PaymentError {
    fn from(failure: ApiFailure) -> Self {
        PaymentError::Unavailable(Arc::new(failure))
    }
}

/// Stripe's error body: `{"error": {"message": ..., "code": ..., "type": ...}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// The secret API key: sent, never printed.
pub(crate) struct SecretKey(String);

impl SecretKey {
    pub(crate) fn new(key: String) -> Self {
        Self(key)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<secret>")
    }
}

/// An HTTP client for one Stripe account.
pub(crate) struct StripeApi {
    http: Client,
    base: Url,
    key: SecretKey,
    timeout: Duration,
}

impl StripeApi {
    pub(crate) fn new(base: Url, key: SecretKey, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = Client::builder().connect_timeout(CONNECT_TIMEOUT).build()?;
        Ok(Self { http, base, key, timeout })
    }

    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The URL of `segments` under the API's base, each segment escaped, so
    /// an id cannot reach another path.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `GET` of the object at `segments`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, PaymentError> {
        self.send(self.http.get(self.url(segments))).await
    }

    /// `POST` of `form` to `segments`, under `idempotency_key`: Stripe answers
    /// a repeated key with the first call's answer instead of acting again.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<T, PaymentError> {
        let request = self.http.post(self.url(segments)).header("Idempotency-Key", idempotency_key).form(form);
        self.send(request).await
    }

    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, PaymentError> {
        let response = request
            .bearer_auth(&self.key.0)
            .header("Stripe-Version", API_VERSION)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(ApiFailure::Transport)?;
        let status = response.status();
        let should_retry = response.headers().get("Stripe-Should-Retry").and_then(flag);
        let body = response.bytes().await.map_err(ApiFailure::Transport)?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|error| ApiFailure::Unreadable(error).into());
        }
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .and_then(|body| body.error.message)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("no reason given").to_owned());
        Err(match classify(status, should_retry) {
            Answer::Refused => PaymentError::Refused { message },
            Answer::Unavailable => ApiFailure::Status { status, message }.into(),
        })
    }
}

/// `true` or `false`, as Stripe writes its `Stripe-Should-Retry` header.
fn flag(value: &HeaderValue) -> Option<bool> {
    match value.as_bytes() {
        b"true" => Some(true),
        b"false" => Some(false),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Refused,
    Unavailable,
}

/// What an unsuccessful `status` means for the caller. Stripe says so itself
/// with `Stripe-Should-Retry` when it knows; otherwise a 409 (another call
/// with the same idempotency key still running), a 408, a 429 and a 5xx may
/// pass, and any other 4xx will not.
fn classify(status: StatusCode, should_retry: Option<bool>) -> Answer {
    match should_retry {
        Some(true) => Answer::Unavailable,
        Some(false) => Answer::Refused,
        None if status.is_server_error() => Answer::Unavailable,
        None => match status {
            StatusCode::CONFLICT | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Answer::Unavailable,
            _ if status.is_client_error() => Answer::Refused,
            // A redirect or an informational answer is not the API speaking.
            _ => Answer::Unavailable,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_error_is_refused_and_the_rest_may_pass() {
        for status in [400, 401, 402, 403, 404] {
            let status = StatusCode::from_u16(status).expect("a status");
            assert_eq!(classify(status, None), Answer::Refused, "{status}");
        }
        for status in [408, 409, 429, 500, 502, 503, 504, 302] {
            let status = StatusCode::from_u16(status).expect("a status");
            assert_eq!(classify(status, None), Answer::Unavailable, "{status}");
        }
    }

    #[test]
    fn stripe_s_own_word_on_retrying_wins() {
        assert_eq!(classify(StatusCode::BAD_REQUEST, Some(true)), Answer::Unavailable);
        assert_eq!(classify(StatusCode::CONFLICT, Some(false)), Answer::Refused);
        assert_eq!(classify(StatusCode::INTERNAL_SERVER_ERROR, Some(false)), Answer::Refused);
        assert_eq!(flag(&HeaderValue::from_static("true")), Some(true));
        assert_eq!(flag(&HeaderValue::from_static("false")), Some(false));
        assert_eq!(flag(&HeaderValue::from_static("maybe")), None);
    }

    #[test]
    fn ids_are_path_segments_of_their_own() {
        let base = Url::parse("http://127.0.0.1:9/").expect("a URL");
        let api = StripeApi::new(base, SecretKey::new("sk_test_x".into()), CONNECT_TIMEOUT).expect("a client");
        assert_eq!(api.url(&["v1", "payment_intents", "pi_1"]).as_str(), "http://127.0.0.1:9/v1/payment_intents/pi_1");
        assert_eq!(
            api.url(&["v1", "payment_intents", "../refunds?x=1"]).as_str(),
            "http://127.0.0.1:9/v1/payment_intents/..%2Frefunds%3Fx=1"
        );
        let prefixed = Url::parse("http://127.0.0.1:9/stripe").expect("a URL");
        let api = StripeApi::new(prefixed, SecretKey::new("sk_test_x".into()), CONNECT_TIMEOUT).expect("a client");
        assert_eq!(api.url(&["v1", "refunds"]).as_str(), "http://127.0.0.1:9/stripe/v1/refunds");
    }

    #[test]
    fn the_key_is_never_printed() {
        assert_eq!(format!("{:?}", SecretKey::new("sk_live_very_secret".into())), "<secret>");
    }
}
