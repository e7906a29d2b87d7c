//! Checking a bearer token: its signature, with the local HS256 secret or with an RS256 key the trusted issuer
//! publishes, and then the claims every Cognito access token carries (issuer, app client, `token_use`, times,
//! subject). One [`Verifier`] does both, so that the rules for the claims cannot drift apart between the tokens a
//! developer mints and those an identity provider issues; only where the key comes from differs.
//!
//! A verifier checks exactly one algorithm, fixed when it is made: a verifier of RS256 tokens never tries a token's
//! header's `alg` on its keys, so neither a locally signed HS256 token nor one whose header claims another
//! algorithm for a published key is ever accepted by it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::jwks::{KeySet, KeySetError, TrustedIssuer};
use super::local::{LOCAL_CLIENT_ID, Secret};
use super::{ACCESS_TOKEN_USE, ADMIN_GROUP, AuthError, Caller};
use crate::limits::{BEARER_TOKEN_BYTES_MAX, TOKEN_CLOCK_SKEW_MAX};

/// The claims of a token, named as Cognito names them in an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id: a UUID, as Cognito's `sub` is.
    pub sub: String,
    /// The user's groups; Cognito leaves the claim out when there are none.
    #[serde(rename = "cognito:groups", default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Who issued the token.
    pub iss: String,
    /// The app client the access token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The app client of an ID token; access tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// `access` or `id`.
    pub token_use: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: u64,
    /// A unique id of this token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    /// Whether the user is in the [`ADMIN_GROUP`].
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|group| group == ADMIN_GROUP)
    }
}

/// Checks bearer tokens: the signature (HS256 with the local secret, or RS256 with the trusted issuer's published
/// keys), issuer, app client, token use, expiry and issue time.
#[derive(Clone)]
pub struct Verifier {
    keys: Keys,
    validation: Validation,
    /// The app client whose access tokens are accepted (`client_id`).
    client_id: String,
}

/// Where the signature's key comes from.
#[derive(Clone)]
enum Keys {
    /// The local secret (HS256).
    Shared(DecodingKey),
    /// The keys the trusted issuer publishes (RS256), by key id.
    Published(Arc<KeySet>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: &dyn std::fmt::Debug = match &self.keys {
            Keys::Shared(_) => &"local secret",
            Keys::Published(key_set) => key_set,
        };
        formatter
            .debug_struct("Verifier")
            .field("issuer", &self.validation.iss)
            .field("client_id", &self.client_id)
            .field("keys", keys)
            .finish()
    }
}

impl Verifier {
    /// A verifier for HS256 tokens signed with `secret` by `issuer` for [`LOCAL_CLIENT_ID`].
    pub fn new(secret: &Secret, issuer: impl Into<String>) -> Self {
        let key = DecodingKey::from_secret(secret.bytes());
        Self::with_keys(Keys::Shared(key), Algorithm::HS256, issuer.into(), LOCAL_CLIENT_ID.to_owned())
    }

    /// A verifier for the RS256 access tokens `trusted` issues to its app client, with the keys it publishes. No key
    /// is fetched yet: the first token fetches them, or [`Verifier::fetch_keys`] does beforehand.
    pub fn trusting(trusted: &TrustedIssuer) -> Result<Self, KeySetError> {
        let key_set = KeySet::new(trusted.jwks_url())?;
        Ok(Self::with_key_set(key_set, trusted))
    }

    pub(super) fn with_key_set(key_set: KeySet, trusted: &TrustedIssuer) -> Self {
        let keys = Keys::Published(Arc::new(key_set));
        Self::with_keys(keys, Algorithm::RS256, trusted.issuer().to_owned(), trusted.client_id().to_owned())
    }

    fn with_keys(keys: Keys, algorithm: Algorithm, issuer: String, client_id: String) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Time is checked in `check_times` against an injected clock, so tests control it; the app client is
        // checked in `check_use_and_client`, because Cognito access tokens carry it in `client_id`, not `aud`.
        validation.validate_exp = false;
        validation.validate_aud = false;
        Self { keys, validation, client_id }
    }

    /// Fetches the trusted issuer's keys now, so that the first requests need not wait for them (nothing to do for
    /// a local secret). A failure is not final: requests fetch them again, at most once per
    /// [`super::JWKS_REFETCH_INTERVAL_MIN`], and are answered 503 until a fetch succeeds.
    pub async fn fetch_keys(&self) -> Result<(), KeySetError> {
        match &self.keys {
            Keys::Shared(_) => Ok(()),
            Keys::Published(key_set) => key_set.fetch_now().await,
        }
    }

    /// The caller a token stands for, if the token is valid at `now`, without waiting: a token signed with a key
    /// that has not been fetched yet is refused ([`AuthError::UnknownKey`]). For callers that cannot wait, such as
    /// the edge's rate limiter and the pages' session; handlers go through [`Verifier::verify_fetching`].
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Caller, AuthError> {
        match &self.keys {
            Keys::Shared(key) => self.check(token, key, now),
            Keys::Published(key_set) => {
                let key_id = self.key_id(token)?;
                let key = key_set.cached(&key_id).ok_or(AuthError::UnknownKey)?;
                self.check(token, &key, now)
            }
        }
    }

    /// As [`Verifier::verify`], but a key id not among the fetched keys makes the trusted issuer's keys be fetched
    /// again (at most once per [`super::JWKS_REFETCH_INTERVAL_MIN`]), as after the issuer rotated its keys. Keys
    /// that cannot be fetched are [`AuthError::KeysUnavailable`].
    pub async fn verify_fetching(&self, token: &str, now: SystemTime) -> Result<Caller, AuthError> {
        match &self.keys {
            Keys::Shared(key) => self.check(token, key, now),
            Keys::Published(key_set) => {
                let key_id = self.key_id(token)?;
                let key = key_set.key(&key_id).await?;
                self.check(token, &key, now)
            }
        }
    }

    /// The key id (`kid`) of a token for a published key, after the checks that need no key: its size, and that
    /// its header names the one algorithm this verifier accepts.
    fn key_id(&self, token: &str) -> Result<String, AuthError> {
        if token.len() > BEARER_TOKEN_BYTES_MAX {
            return Err(AuthError::TokenTooLong);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|error| self.decode_error(&error))?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(self.wrong_algorithm());
        }
        header.kid.ok_or_else(|| AuthError::Malformed("its header names no signing key (`kid`)".to_owned()))
    }

    fn check(&self, token: &str, key: &DecodingKey, now: SystemTime) -> Result<Caller, AuthError> {
        if token.len() > BEARER_TOKEN_BYTES_MAX {
            return Err(AuthError::TokenTooLong);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|error| self.decode_error(&error))?
            .claims;
        self.check_use_and_client(&claims)?;
        check_times(&claims, now)?;
        let user_id = Uuid::parse_str(&claims.sub)
            .map_err(|_| AuthError::Malformed("the `sub` claim is not a UUID".to_owned()))?;
        Ok(Caller { user_id, admin: claims.is_admin() })
    }

    /// Only access tokens, and only those issued to our app client: Cognito names it in `client_id`.
    fn check_use_and_client(&self, claims: &Claims) -> Result<(), AuthError> {
        if claims.token_use != ACCESS_TOKEN_USE {
            return Err(AuthError::NotAccessToken);
        }
        if claims.client_id.as_deref() != Some(self.client_id.as_str()) {
            return Err(AuthError::WrongAudience);
        }
        Ok(())
    }

    /// Names what is wrong for the client, without echoing decoder internals such as `InvalidToken`.
    fn decode_error(&self, error: &jsonwebtoken::errors::Error) -> AuthError {
        use AuthError::Malformed as malformed;
        match error.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::InvalidAlgorithm => self.wrong_algorithm(),
            ErrorKind::MissingRequiredClaim(claim) => malformed(format!("the `{claim}` claim is missing")),
            ErrorKind::Json(json) => malformed(format!("its claims are not those of an access token: {json}")),
            _ => malformed("it is not a JSON Web Token".to_owned()),
        }
    }

    fn wrong_algorithm(&self) -> AuthError {
        let expected =
            self.validation.algorithms.first().map_or_else(String::new, |algorithm| format!("{algorithm:?}"));
        AuthError::Malformed(format!("it is not signed with {expected}"))
    }
}

fn check_times(claims: &Claims, now: SystemTime) -> Result<(), AuthError> {
    let now = unix_seconds(now);
    let skew = TOKEN_CLOCK_SKEW_MAX.as_secs();
    if claims.exp.saturating_add(skew) <= now {
        return Err(AuthError::Expired);
    }
    if claims.iat > now.saturating_add(skew) {
        return Err(AuthError::IssuedInFuture);
    }
    Ok(())
}

pub(super) fn unix_seconds(time: SystemTime) -> u64 {
    // A clock before 1970 is broken; reading it as 1970 makes every token expired rather than valid forever.
    time.duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::auth::LocalSigner;
    use crate::auth::testing::{KEY_A, KEY_B, KeySetServer, TEST_CLIENT_ID, access_claims, key_set, sign, verifier};
    use crate::limits::TOKEN_LIFETIME_DEFAULT;
    use crate::test_support::{TEST_ISSUER, TEST_SECRET, test_secret, test_signer};

    fn local_verifier() -> Verifier {
        Verifier::new(&test_secret(), TEST_ISSUER)
    }

    fn local_claims(now: SystemTime) -> Claims {
        Claims { client_id: Some(LOCAL_CLIENT_ID.to_owned()), ..access_claims(now) }
    }

    fn sign_hs256(claims: &Claims, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
            .expect("HS256 signing of plain claims succeeds")
    }

    /// A verifier of RS256 tokens whose key set (`key-a`) is already fetched.
    async fn rs256_verifier() -> Verifier {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let verifier = verifier(&server, Duration::from_secs(60), Duration::from_secs(3600));
        verifier.fetch_keys().await.expect("the key set is served");
        verifier
    }

    #[test]
    fn an_issued_token_round_trips_through_the_verifier() {
        let now = SystemTime::now();
        let user_id = Uuid::new_v4();

        let customer = test_signer().issue(user_id, false, TOKEN_LIFETIME_DEFAULT, now);
        let admin = test_signer().issue(user_id, true, TOKEN_LIFETIME_DEFAULT, now);

        assert_eq!(local_verifier().verify(&customer, now).ok(), Some(Caller { user_id, admin: false }));
        assert_eq!(local_verifier().verify(&admin, now).ok(), Some(Caller { user_id, admin: true }));
    }

    #[test]
    fn a_token_expired_within_the_clock_skew_is_still_accepted() {
        let now = SystemTime::now();
        let issued = now - Duration::from_secs(3600 + 10);
        let token = test_signer().issue(Uuid::new_v4(), false, Duration::from_secs(3600), issued);

        assert!(local_verifier().verify(&token, now).is_ok());
    }

    #[test]
    fn a_token_expired_beyond_the_clock_skew_is_refused() {
        let now = SystemTime::now();
        let issued = now - Duration::from_secs(3600) - TOKEN_CLOCK_SKEW_MAX;
        let token = test_signer().issue(Uuid::new_v4(), false, Duration::from_secs(3600), issued);

        assert!(matches!(local_verifier().verify(&token, now), Err(AuthError::Expired)));
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused() {
        let now = SystemTime::now();
        let token = test_signer().issue(Uuid::new_v4(), false, TOKEN_LIFETIME_DEFAULT, now + Duration::from_secs(600));

        assert!(matches!(local_verifier().verify(&token, now), Err(AuthError::IssuedInFuture)));
    }

    #[test]
    fn an_id_token_is_refused() {
        let now = SystemTime::now();
        let claims = Claims {
            client_id: None,
            aud: Some(LOCAL_CLIENT_ID.to_owned()),
            token_use: "id".to_owned(),
            ..local_claims(now)
        };

        let verified = local_verifier().verify(&sign_hs256(&claims, TEST_SECRET), now);

        assert!(matches!(verified, Err(AuthError::NotAccessToken)));
    }

    #[test]
    fn a_token_for_another_app_client_is_refused() {
        let now = SystemTime::now();
        let claims = Claims { client_id: Some("someone-else".to_owned()), ..local_claims(now) };

        let verified = local_verifier().verify(&sign_hs256(&claims, TEST_SECRET), now);

        assert!(matches!(verified, Err(AuthError::WrongAudience)));
    }

    #[test]
    fn a_token_whose_subject_is_not_a_uuid_is_refused() {
        let now = SystemTime::now();
        let claims = Claims { sub: "alice".to_owned(), ..local_claims(now) };

        let verified = local_verifier().verify(&sign_hs256(&claims, TEST_SECRET), now);

        assert!(matches!(verified, Err(AuthError::Malformed(_))));
    }

    #[test]
    fn a_token_signed_with_alg_none_is_refused() {
        // The classic JWT attack: a genuine payload under `{"alg":"none"}` with an empty signature.
        let now = SystemTime::now();
        let genuine = test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, now);
        let payload = genuine.split('.').nth(1).expect("a JWT has three parts");
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");

        assert!(local_verifier().verify(&unsigned, now).is_err());
    }

    #[test]
    fn an_oversized_token_is_refused_before_decoding() {
        let token = "a".repeat(BEARER_TOKEN_BYTES_MAX + 1);

        assert!(matches!(local_verifier().verify(&token, SystemTime::now()), Err(AuthError::TokenTooLong)));
    }

    #[tokio::test]
    async fn an_rs256_access_token_signed_with_a_published_key_identifies_the_caller() {
        let now = SystemTime::now();
        let claims = Claims { groups: vec!["admin".to_owned()], ..access_claims(now) };
        let user_id = Uuid::parse_str(&claims.sub).expect("a UUID");
        let token = sign(&claims, Some("key-a"), KEY_A);

        let verifier = rs256_verifier().await;

        assert_eq!(verifier.verify(&token, now).ok(), Some(Caller { user_id, admin: true }));
        assert_eq!(verifier.verify_fetching(&token, now).await.ok(), Some(Caller { user_id, admin: true }));
    }

    #[tokio::test]
    async fn a_locally_signed_token_is_refused_by_a_verifier_of_the_trusted_issuer() {
        let now = SystemTime::now();
        // Even with the very issuer and client the trusted issuer's tokens name.
        let claims = access_claims(now);
        let local =
            LocalSigner::new(&test_secret(), TEST_ISSUER).issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, now);

        let verifier = rs256_verifier().await;

        for token in [local, sign_hs256(&claims, TEST_SECRET)] {
            let verified = verifier.verify_fetching(&token, now).await;
            assert!(
                matches!(&verified, Err(AuthError::Malformed(message)) if message.contains("RS256")),
                "{verified:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_token_signed_with_the_public_key_as_an_hmac_secret_is_refused() {
        // Algorithm confusion: the attacker knows the public key and signs HS256 with it, naming the published kid.
        let now = SystemTime::now();
        let public = key_set(&["key-a"]);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("key-a".to_owned());
        let token = jsonwebtoken::encode(&header, &access_claims(now), &EncodingKey::from_secret(public.as_bytes()))
            .expect("HS256 signs anything");

        let verifier = rs256_verifier().await;

        assert!(verifier.verify_fetching(&token, now).await.is_err());
    }

    #[tokio::test]
    async fn a_token_signed_with_an_unpublished_key_under_a_published_id_is_refused() {
        let now = SystemTime::now();
        let token = sign(&access_claims(now), Some("key-a"), KEY_B);

        let verifier = rs256_verifier().await;

        assert!(matches!(verifier.verify_fetching(&token, now).await, Err(AuthError::BadSignature)));
    }

    #[tokio::test]
    async fn a_tampered_rs256_token_is_refused() {
        let now = SystemTime::now();
        let claims = access_claims(now);
        let token = sign(&claims, Some("key-a"), KEY_A);
        let [header, _, signature]: [&str; 3] =
            token.split('.').collect::<Vec<_>>().try_into().expect("a JWT has three parts");
        // The same user made an administrator: a payload encoded by signing it with any key, then taken alone.
        let admin = Claims { groups: vec!["admin".to_owned()], ..claims };
        let admin_token = sign(&admin, Some("key-a"), KEY_B);
        let admin_payload = admin_token.split('.').nth(1).expect("a JWT has three parts");
        let tampered = format!("{header}.{admin_payload}.{signature}");

        let verifier = rs256_verifier().await;

        assert!(matches!(verifier.verify_fetching(&tampered, now).await, Err(AuthError::BadSignature)));
    }

    #[tokio::test]
    async fn an_rs256_token_without_a_key_id_is_refused() {
        let now = SystemTime::now();
        let token = sign(&access_claims(now), None, KEY_A);

        let verifier = rs256_verifier().await;

        assert!(
            matches!(verifier.verify_fetching(&token, now).await, Err(AuthError::Malformed(message)) if message.contains("kid"))
        );
    }

    #[tokio::test]
    async fn the_trusted_issuer_checks_issuer_client_token_use_and_expiry() {
        let now = SystemTime::now();
        let id_token = Claims {
            client_id: None,
            aud: Some(TEST_CLIENT_ID.to_owned()),
            token_use: "id".to_owned(),
            ..access_claims(now)
        };
        type Case = (&'static str, Claims, fn(&AuthError) -> bool);
        let cases: [Case; 4] = [
            ("another issuer", Claims { iss: "https://elsewhere.example".to_owned(), ..access_claims(now) }, |error| {
                matches!(error, AuthError::WrongIssuer)
            }),
            ("another client", Claims { client_id: Some("another".to_owned()), ..access_claims(now) }, |error| {
                matches!(error, AuthError::WrongAudience)
            }),
            ("an ID token", id_token, |error| matches!(error, AuthError::NotAccessToken)),
            ("expired", access_claims(now - Duration::from_secs(7200)), |error| matches!(error, AuthError::Expired)),
        ];
        let verifier = rs256_verifier().await;

        for (case, claims, expected) in cases {
            let verified = verifier.verify_fetching(&sign(&claims, Some("key-a"), KEY_A), now).await;
            assert!(verified.as_ref().is_err_and(expected), "{case}: {verified:?}");
        }
    }
}
