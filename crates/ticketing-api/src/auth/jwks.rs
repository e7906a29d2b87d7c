//! The signing keys of a trusted identity provider (`cloudbash serve --jwt-issuer`): the JSON Web Key Set it
//! publishes, fetched over HTTP and kept in memory, looked up by the `kid` in a token's header.
//!
//! Fetching is bounded in both directions. A `kid` the cache does not hold may mean the issuer rotated its keys, so
//! the set is fetched again, but at most once per [`JWKS_REFETCH_INTERVAL_MIN`]: tokens with made-up key ids, however
//! many, cost the issuer one request per interval and are refused from the cache meanwhile. Requests that find a
//! key missing while a fetch runs wait for that fetch rather than start their own. A set older than
//! [`KEY_SET_AGE_MAX`] is fetched again by the next request that finds no fetch running (the others go on with the
//! keys they have), so a key the issuer withdraws stops being trusted; should that fetch fail, the old keys stay in
//! use. A set that cannot be fetched at all leaves nothing to check a token with, which a request learns as
//! [`AuthError::KeysUnavailable`] (a 503), never as a panic or a 500.
//!
//! The cache is read without waiting, so that callers that cannot wait (the edge's rate limiter, the pages'
//! session) check tokens against the keys already fetched.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use reqwest::Url;
use reqwest::header::ACCEPT;
use serde::Deserialize;

use super::AuthError;

/// How long one fetch of the key set may take, connecting included. Cognito answers in milliseconds; a request
/// waiting on a fetch must still be answered well within the server's request timeout.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest key set read. Cognito publishes two keys, under 1 KiB; anything much larger is not a key set, and
/// reading it would cost memory for nothing.
pub const JWKS_BYTES_MAX: usize = 64 * 1024;

/// The shortest time between two fetches of the key set, whatever the outcome of the first. It bounds what tokens
/// with unknown key ids can make this server ask of the issuer, and how long after a failed fetch requests are
/// answered 503 without trying again.
pub const JWKS_REFETCH_INTERVAL_MIN: Duration = Duration::from_secs(10);

/// How long a fetched key set is used before it is fetched again, so that a key the issuer withdrew stops being
/// trusted within this time.
pub const KEY_SET_AGE_MAX: Duration = Duration::from_secs(60 * 60);

/// Where an OpenID Connect issuer publishes its keys, relative to the issuer's URL (Cognito follows it).
const JWKS_PATH: &str = ".well-known/jwks.json";

/// The identity provider whose access tokens a host accepts: who issues them (`iss`), where its signing keys are
/// published, and the app client they must be issued to (`client_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    issuer: String,
    jwks_url: String,
    client_id: String,
}

impl TrustedIssuer {
    /// Tokens of `issuer` (exactly as its tokens name it; Cognito's is
    /// `https://cognito-idp.<region>.amazonaws.com/<pool id>`) for `client_id`, with the keys published at
    /// `<issuer>/.well-known/jwks.json`.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        let issuer = issuer.into();
        let jwks_url = format!("{}/{JWKS_PATH}", issuer.trim_end_matches('/'));
        Self { issuer, jwks_url, client_id: client_id.into() }
    }

    /// The same issuer, with its keys published at `jwks_url` instead.
    pub fn with_jwks_url(self, jwks_url: impl Into<String>) -> Self {
        Self { jwks_url: jwks_url.into(), ..self }
    }

    /// The issuer, as tokens must name it in `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the issuer's signing keys are fetched from.
    pub fn jwks_url(&self) -> &str {
        &self.jwks_url
    }

    /// The app client whose access tokens are accepted.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// What can go wrong with a trusted issuer's key set: its address (when the verifier is made), and fetching it.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    /// The key set's address is not an absolute http or https URL. A configuration error: fix the address (or the
    /// issuer it is derived from).
    #[error("the key set's address {url:?} is not an http or https URL")]
    BadUrl {
        /// The address as given.
        url: String,
    },
    /// No HTTP client could be made (its TLS set-up failed, say). A configuration error of the host.
    #[error("cannot make the HTTP client that fetches the key set: {0}")]
    Client(#[source] reqwest::Error),
    /// The request failed: no connection, no answer within [`JWKS_FETCH_TIMEOUT`], or a broken body. Usually passes.
    #[error("cannot fetch the key set from {url}: {source}")]
    Fetch {
        /// The key set's address.
        url: Url,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// The issuer answered, but not with success.
    #[error("the key set at {url} answered HTTP {status}")]
    Status {
        /// The key set's address.
        url: Url,
        /// The HTTP status of the answer.
        status: u16,
    },
    /// The answer is larger than [`JWKS_BYTES_MAX`]; not read further.
    #[error("the key set at {url} is larger than {JWKS_BYTES_MAX} bytes")]
    TooLarge {
        /// The key set's address.
        url: Url,
    },
    /// The answer is not a JSON Web Key Set (RFC 7517 section 5): the address probably names something else.
    #[error("the key set at {url} is not a JSON Web Key Set: {source}")]
    NotAKeySet {
        /// The key set's address.
        url: Url,
        /// What is wrong with the JSON.
        #[source]
        source: serde_json::Error,
    },
}

/// The keys one issuer publishes, fetched when needed and kept.
pub(super) struct KeySet {
    url: Url,
    client: reqwest::Client,
    refetch_interval_min: Duration,
    age_max: Duration,
    cache: RwLock<Cache>,
    /// Held for the whole of a fetch (a turn that spans I/O), so that requests missing the same key share one.
    fetching: tokio::sync::Mutex<()>,
}

/// The keys fetched last, and when fetches happened.
#[derive(Default)]
struct Cache {
    /// The usable signing keys, by key id.
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the keys were fetched; `None` before the first fetch that succeeded.
    fetched_at: Option<Instant>,
    /// When the last fetch ended, whether it succeeded or not: the start of the interval without another.
    attempted_at: Option<Instant>,
    /// Whether the last fetch failed, so that a missing key means "cannot tell now" rather than "not published".
    last_fetch_failed: bool,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cache = self.read();
        formatter
            .debug_struct("KeySet")
            .field("url", &self.url.as_str())
            .field("keys", &cache.keys.len())
            .field("last_fetch_failed", &cache.last_fetch_failed)
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// The key set published at `url`, not fetched yet.
    pub(super) fn new(url: &str) -> Result<Self, KeySetError> {
        let parsed = Url::parse(url)
            .ok()
            .filter(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.has_host())
            .ok_or_else(|| KeySetError::BadUrl { url: url.to_owned() })?;
        let client = reqwest::Client::builder().timeout(JWKS_FETCH_TIMEOUT).build().map_err(KeySetError::Client)?;
        Ok(Self {
            url: parsed,
            client,
            refetch_interval_min: JWKS_REFETCH_INTERVAL_MIN,
            age_max: KEY_SET_AGE_MAX,
            cache: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The same key set with other timings, so that tests need not wait for the production ones.
    #[cfg(test)]
    pub(super) fn with_timing(self, refetch_interval_min: Duration, age_max: Duration) -> Self {
        Self { refetch_interval_min, age_max, ..self }
    }

    /// The key with this id among those fetched so far, without waiting.
    pub(super) fn cached(&self, key_id: &str) -> Option<Arc<DecodingKey>> {
        self.read().keys.get(key_id).cloned()
    }

    /// Fetches the set now, whenever it was fetched last (for a host starting up).
    pub(super) async fn fetch_now(&self) -> Result<(), KeySetError> {
        let _turn = self.fetching.lock().await;
        self.fetch_and_keep().await
    }

    /// The key with this id: from the cache, or else from the set fetched again if the last fetch is at least
    /// [`JWKS_REFETCH_INTERVAL_MIN`] ago. [`AuthError::UnknownKey`] when the issuer does not publish it (as far as the
    /// last successful fetch tells), [`AuthError::KeysUnavailable`] when the last fetch failed.
    pub(super) async fn key(&self, key_id: &str) -> Result<Arc<DecodingKey>, AuthError> {
        self.refresh_if_old().await;
        if let Some(key) = self.cached(key_id) {
            return Ok(key);
        }
        let _turn = self.fetching.lock().await;
        // Whoever held the turn before may have fetched the key meanwhile.
        if let Some(key) = self.cached(key_id) {
            return Ok(key);
        }
        if !self.may_fetch(Instant::now()) {
            return Err(if self.read().last_fetch_failed { AuthError::KeysUnavailable } else { AuthError::UnknownKey });
        }
        match self.fetch_and_keep().await {
            Ok(()) => self.cached(key_id).ok_or(AuthError::UnknownKey),
            Err(_) => Err(AuthError::KeysUnavailable),
        }
    }

    /// Fetches a set older than its maximum age again, unless a fetch is running or was tried too recently.
    async fn refresh_if_old(&self) {
        if !self.is_old(Instant::now()) {
            return;
        }
        let Ok(_turn) = self.fetching.try_lock() else {
            return;
        };
        let now = Instant::now();
        if self.is_old(now) && self.may_fetch(now) {
            // A failure is logged by the fetch; the old keys stay in use until one succeeds.
            let _ = self.fetch_and_keep().await;
        }
    }

    fn is_old(&self, now: Instant) -> bool {
        self.read().fetched_at.is_some_and(|fetched_at| now.duration_since(fetched_at) >= self.age_max)
    }

    fn may_fetch(&self, now: Instant) -> bool {
        self.read()
            .attempted_at
            .is_none_or(|attempted_at| now.duration_since(attempted_at) >= self.refetch_interval_min)
    }

    /// Fetches the set and keeps its keys, replacing those fetched before; the caller holds the `fetching` turn.
    async fn fetch_and_keep(&self) -> Result<(), KeySetError> {
        let fetched = self.fetch().await;
        let now = Instant::now();
        let mut cache = self.write();
        cache.attempted_at = Some(now);
        cache.last_fetch_failed = fetched.is_err();
        match fetched {
            Ok(keys) => {
                let count = keys.len();
                cache.keys = keys;
                cache.fetched_at = Some(now);
                drop(cache);
                tracing::info!(url = %self.url, keys = count, "fetched the identity provider's signing keys");
                Ok(())
            }
            Err(error) => {
                drop(cache);
                let cause = root_cause(&error);
                tracing::warn!(%error, %cause, "cannot fetch the identity provider's signing keys");
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, KeySetError> {
        let url = &self.url;
        let fetch_error = |source| KeySetError::Fetch { url: url.clone(), source };
        let mut response =
            self.client.get(url.clone()).header(ACCEPT, "application/json").send().await.map_err(fetch_error)?;
        if !response.status().is_success() {
            return Err(KeySetError::Status { url: url.clone(), status: response.status().as_u16() });
        }
        if response.content_length().is_some_and(|length| length > JWKS_BYTES_MAX as u64) {
            return Err(KeySetError::TooLarge { url: url.clone() });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            if body.len() + chunk.len() > JWKS_BYTES_MAX {
                return Err(KeySetError::TooLarge { url: url.clone() });
            }
            body.extend_from_slice(&chunk);
        }
        signing_keys(&body).map_err(|source| KeySetError::NotAKeySet { url: url.clone(), source })
    }

    fn read(&self) -> RwLockReadGuard<'_, Cache> {
        // Nothing panics while holding the lock, and every write leaves the cache whole, so a poisoned lock is used
        // as it is.
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The innermost error under `error`: what the operating system or the TLS library said, which the HTTP client's
/// own message ("error sending request") leaves out.
fn root_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> &'a (dyn std::error::Error + 'static) {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause
}

/// The RS256 signing keys of a JSON Web Key Set, by key id. A key this verifier cannot use (another type or
/// algorithm, one for encryption, one without an id, a malformed one) is left out rather than spoiling the set:
/// issuers may publish more than signing keys. Of two keys with one id, the first counts.
fn signing_keys(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Published {
        keys: Vec<serde_json::Value>,
    }
    let published: Published = serde_json::from_slice(body)?;
    let mut keys = HashMap::new();
    for value in published.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if let Some((key_id, key)) = signing_key(&jwk) {
            keys.entry(key_id).or_insert_with(|| Arc::new(key));
        }
    }
    Ok(keys)
}

fn signing_key(jwk: &Jwk) -> Option<(String, DecodingKey)> {
    let key_id = jwk.common.key_id.clone()?;
    let rsa = matches!(jwk.algorithm, AlgorithmParameters::RSA(_));
    let for_signing = matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature));
    let for_rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
    if !(rsa && for_signing && for_rs256) {
        return None;
    }
    DecodingKey::from_jwk(jwk).ok().map(|key| (key_id, key))
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use axum::http::StatusCode;

    use super::*;
    use crate::auth::Verifier;
    use crate::auth::testing::{
        KEY_A, KEY_B, KeySetServer, TEST_CLIENT_ID, access_claims, key_set, sign, unreachable_url, verifier,
    };
    use crate::test_support::TEST_ISSUER;

    /// Long enough that no test waits it out.
    const LONG: Duration = Duration::from_secs(3600);

    /// Short enough to wait out in a test.
    const SHORT: Duration = Duration::from_millis(200);

    fn token(key_id: &str, der: &[u8]) -> String {
        sign(&access_claims(SystemTime::now()), Some(key_id), der)
    }

    async fn verify(verifier: &Verifier, token: &str) -> Result<(), AuthError> {
        verifier.verify_fetching(token, SystemTime::now()).await.map(|_| ())
    }

    #[tokio::test]
    async fn the_first_token_fetches_the_key_set_and_later_ones_use_the_cache() {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let verifier = verifier(&server, LONG, LONG);

        assert!(verifier.verify(&token("key-a", KEY_A), SystemTime::now()).is_err(), "nothing is fetched yet");
        for _ in 0..3 {
            verify(&verifier, &token("key-a", KEY_A)).await.expect("a published key");
        }

        assert_eq!(server.fetches(), 1);
        assert!(
            verifier.verify(&token("key-a", KEY_A), SystemTime::now()).is_ok(),
            "the cache serves callers that cannot wait"
        );
    }

    #[tokio::test]
    async fn an_unknown_key_id_fetches_the_set_again_once_then_is_refused_from_the_cache() {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let verifier = verifier(&server, SHORT, LONG);
        verify(&verifier, &token("key-a", KEY_A)).await.expect("a published key");
        tokio::time::sleep(SHORT).await;

        let first = verify(&verifier, &token("key-b", KEY_B)).await;
        let second = verify(&verifier, &token("key-b", KEY_B)).await;

        assert!(matches!(first, Err(AuthError::UnknownKey)), "{first:?}");
        assert!(matches!(second, Err(AuthError::UnknownKey)), "{second:?}");
        assert_eq!(server.fetches(), 2, "one fetch for the first token, one again for the unknown key");
    }

    #[tokio::test]
    async fn a_key_the_issuer_publishes_later_is_found_by_fetching_again() {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let verifier = verifier(&server, SHORT, LONG);
        verify(&verifier, &token("key-a", KEY_A)).await.expect("a published key");

        server.answer(StatusCode::OK, key_set(&["key-a", "key-b"]));
        tokio::time::sleep(SHORT).await;

        verify(&verifier, &token("key-b", KEY_B)).await.expect("the rotated key is fetched");
        verify(&verifier, &token("key-a", KEY_A)).await.expect("the old key is still published");
        assert_eq!(server.fetches(), 2);
    }

    #[tokio::test]
    async fn a_flood_of_made_up_key_ids_fetches_the_set_once_per_interval() {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let verifier = Arc::new(verifier(&server, LONG, LONG));

        let mut requests = tokio::task::JoinSet::new();
        for attempt in 0..200 {
            let verifier = Arc::clone(&verifier);
            let token = token(&format!("made-up-{attempt}"), KEY_B);
            requests.spawn(async move { verify(&verifier, &token).await });
        }
        let refused = requests.join_all().await;

        assert!(refused.iter().all(|verified| matches!(verified, Err(AuthError::UnknownKey))), "{refused:?}");
        assert_eq!(server.fetches(), 1);
        verify(&verifier, &token("key-a", KEY_A)).await.expect("genuine tokens are served meanwhile");
        assert_eq!(server.fetches(), 1);
    }

    #[tokio::test]
    async fn a_key_set_that_cannot_be_fetched_makes_tokens_unavailable_until_a_fetch_succeeds() {
        let server = KeySetServer::start(String::new()).await;
        server.answer(StatusCode::INTERNAL_SERVER_ERROR, "down".to_owned());
        let verifier = verifier(&server, SHORT, LONG);

        let first = verify(&verifier, &token("key-a", KEY_A)).await;
        let second = verify(&verifier, &token("key-a", KEY_A)).await;

        assert!(matches!(first, Err(AuthError::KeysUnavailable)), "{first:?}");
        assert!(matches!(second, Err(AuthError::KeysUnavailable)), "{second:?}");
        assert_eq!(server.fetches(), 1, "no second fetch within the interval");

        server.answer(StatusCode::OK, key_set(&["key-a"]));
        tokio::time::sleep(SHORT).await;
        verify(&verifier, &token("key-a", KEY_A)).await.expect("the set is fetched once it is served");
    }

    #[tokio::test]
    async fn an_unreachable_key_set_makes_tokens_unavailable() {
        let trusted = TrustedIssuer::new(TEST_ISSUER, TEST_CLIENT_ID).with_jwks_url(unreachable_url().await);
        let verifier = Verifier::trusting(&trusted).expect("a valid address");

        assert!(matches!(verifier.fetch_keys().await, Err(KeySetError::Fetch { .. })));
        assert!(matches!(verify(&verifier, &token("key-a", KEY_A)).await, Err(AuthError::KeysUnavailable)));
    }

    #[tokio::test]
    async fn an_old_key_set_is_fetched_again_and_a_withdrawn_key_refused() {
        let server = KeySetServer::start(key_set(&["key-a", "key-b"])).await;
        let verifier = verifier(&server, Duration::ZERO, SHORT);
        verify(&verifier, &token("key-a", KEY_A)).await.expect("a published key");

        server.answer(StatusCode::OK, key_set(&["key-b"]));
        tokio::time::sleep(SHORT).await;

        let withdrawn = verify(&verifier, &token("key-a", KEY_A)).await;
        assert!(matches!(withdrawn, Err(AuthError::UnknownKey)), "{withdrawn:?}");
        verify(&verifier, &token("key-b", KEY_B)).await.expect("the key still published");
    }

    #[tokio::test]
    async fn an_old_key_set_stays_in_use_while_it_cannot_be_fetched_again() {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let verifier = verifier(&server, Duration::ZERO, SHORT);
        verify(&verifier, &token("key-a", KEY_A)).await.expect("a published key");

        server.answer(StatusCode::SERVICE_UNAVAILABLE, String::new());
        tokio::time::sleep(SHORT).await;

        verify(&verifier, &token("key-a", KEY_A)).await.expect("the old keys still count");
        assert_eq!(server.fetches(), 2, "the old set was fetched again");
    }

    #[tokio::test]
    async fn an_oversized_key_set_is_refused() {
        let server = KeySetServer::start("x".repeat(JWKS_BYTES_MAX + 1)).await;
        let verifier = verifier(&server, LONG, LONG);

        assert!(matches!(verifier.fetch_keys().await, Err(KeySetError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn an_answer_that_is_not_a_key_set_is_refused() {
        let server = KeySetServer::start("<html>sign in</html>".to_owned()).await;
        let verifier = verifier(&server, LONG, LONG);

        assert!(matches!(verifier.fetch_keys().await, Err(KeySetError::NotAKeySet { .. })));
    }

    #[test]
    fn only_rs256_signing_keys_with_an_id_are_kept() {
        let published: serde_json::Value = serde_json::from_str(&key_set(&["key-a"])).expect("JSON");
        let key_a = &published["keys"][0];
        let with = |changes: serde_json::Value| {
            let mut key = key_a.clone();
            for (name, value) in changes.as_object().expect("an object") {
                key[name] = value.clone();
            }
            key
        };
        let body = serde_json::json!({"keys": [
            with(serde_json::json!({"kid": "for-encryption", "use": "enc"})),
            with(serde_json::json!({"kid": "for-rs512", "alg": "RS512"})),
            with(serde_json::json!({"kid": "broken", "n": 7})),
            {"kid": "elliptic", "kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {"kid": "nonsense"},
            {"kty": "RSA", "n": key_a["n"], "e": key_a["e"]},
            key_a,
        ]});

        let keys = signing_keys(body.to_string().as_bytes()).expect("a key set");

        assert_eq!(keys.keys().collect::<Vec<_>>(), ["key-a"]);
    }

    #[test]
    fn the_key_set_is_published_under_the_issuers_well_known_path_by_default() {
        let pool = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123";

        let trusted = TrustedIssuer::new(pool, "client");
        let with_slash = TrustedIssuer::new(format!("{pool}/"), "client");

        assert_eq!(trusted.jwks_url(), format!("{pool}/.well-known/jwks.json"));
        assert_eq!(with_slash.jwks_url(), format!("{pool}/.well-known/jwks.json"));
        assert_eq!(with_slash.issuer(), format!("{pool}/"), "the issuer is compared exactly as given");
        assert_eq!(trusted.with_jwks_url("http://127.0.0.1:9/keys").jwks_url(), "http://127.0.0.1:9/keys");
    }

    #[test]
    fn a_key_set_address_that_is_not_http_is_refused() {
        for url in ["ftp://example.com/jwks.json", "file:///etc/jwks.json", "not a url", ""] {
            assert!(matches!(KeySet::new(url), Err(KeySetError::BadUrl { .. })), "{url:?}");
        }
    }
}
