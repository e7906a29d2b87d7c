//! Bearer-token authentication with the claims Amazon Cognito puts in its access tokens, so that the same handler
//! code serves on every host. Where the caller comes from depends on the host:
//!
//! - **locally**, a [`LocalSigner`] signs HS256 tokens with a secret kept in the data directory, and the
//!   [`Verifier`] checks them here (`local.rs`);
//! - **on a host that trusts an identity provider** (`cloudbash serve --jwt-issuer`), the [`Verifier`] checks RS256
//!   access tokens against the keys the issuer publishes (`jwks.rs`), and refuses locally signed tokens;
//! - **behind API Gateway**, the gateway's JWT authorizer checks the token before the request reaches the function,
//!   so the function has nothing to verify and no key to verify with: [`AuthState::gateway`] takes the caller from
//!   the [`GatewayClaims`] that the Lambda host copies from the request context into the request's extensions
//!   (`gateway.rs`). That host is the only writer of the extension; this crate knows nothing of Lambda, and a
//!   bearer-mode API ignores the extension altogether.
//!
//! The claims mirrored from a Cognito access token: `sub` (the user's UUID), `cognito:groups` (absent when the
//! user is in no group; admins are in `admin`), `iss`, `client_id` (access tokens carry the app client here; ID
//! tokens carry it in `aud`), `token_use` (`access`), `exp`, `iat` and `jti`. Every path accepts only access
//! tokens, as Cognito advises for APIs: an ID token of the same app client is refused.
//!
//! The module is split by what each part trusts, so that a reader of one path need not read the others, and the
//! claim rules are written once (`verify.rs`) for both kinds of signature. This file holds what every host shares:
//! the errors and their problems, and the extractors handlers use ([`Caller`], [`Admin`]).

mod gateway;
mod jwks;
mod local;
mod verify;

#[cfg(test)]
mod testing;

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

pub use gateway::GatewayClaims;
pub use jwks::{
    JWKS_BYTES_MAX, JWKS_FETCH_TIMEOUT, JWKS_REFETCH_INTERVAL_MIN, KEY_SET_AGE_MAX, KeySetError, TrustedIssuer,
};
pub use local::{LOCAL_CLIENT_ID, LOCAL_ISSUER, LocalSigner, SECRET_FILE_NAME, Secret};
pub use verify::{Claims, Verifier};

use crate::limits::{BEARER_TOKEN_BYTES_MAX, SECRET_BYTES_MAX, SECRET_BYTES_MIN};
use crate::problem::Problem;

/// The Cognito group whose members are administrators.
pub const ADMIN_GROUP: &str = "admin";

/// The `token_use` of a Cognito access token, the only kind this API accepts.
const ACCESS_TOKEN_USE: &str = "access";

/// Everything that can go wrong in authentication, from a request's token to the secret file.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request has no `Authorization` header. The client should log in and send a token.
    #[error("The request has no bearer token; send `Authorization: Bearer <token>`.")]
    MissingToken,
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("The Authorization header must be `Bearer <token>`.")]
    NotBearer,
    /// The token is longer than [`BEARER_TOKEN_BYTES_MAX`]; refused before any decoding.
    #[error("The bearer token is longer than {BEARER_TOKEN_BYTES_MAX} bytes.")]
    TokenTooLong,
    /// The token is not a well-formed JWT with the claims we need.
    #[error("The bearer token is malformed: {0}.")]
    Malformed(String),
    /// The signature does not match: forged, tampered with, or signed with another key.
    #[error("The bearer token's signature is not valid.")]
    BadSignature,
    /// The token names a signing key (`kid`) that the trusted issuer does not publish, even after its keys were
    /// fetched again. Forged, or signed by another issuer.
    #[error("The bearer token is signed with a key the issuer does not publish.")]
    UnknownKey,
    /// Signed by someone we do not trust to issue tokens for this API.
    #[error("The bearer token was not issued by a trusted issuer.")]
    WrongIssuer,
    /// Issued for another app client.
    #[error("The bearer token was not issued for this API.")]
    WrongAudience,
    /// An ID token (or any token whose `token_use` is not `access`): it says who the user is to the app that
    /// signed them in, not what an API may do for them. The client should send its access token.
    #[error("The bearer token is not an access token; send the access token, not the ID token.")]
    NotAccessToken,
    /// Past its `exp` (beyond the allowed clock skew). The client should refresh it.
    #[error("The bearer token has expired.")]
    Expired,
    /// Its `iat` is in the future beyond the allowed clock skew: a clock is wrong or the token is forged.
    #[error("The bearer token was issued in the future.")]
    IssuedInFuture,
    /// The trusted issuer's signing keys cannot be fetched, so no token can be checked now. An operating error: the
    /// client may try again shortly; the server's log says what the key set's address answered.
    #[error("The identity provider's signing keys cannot be fetched right now; try again shortly.")]
    KeysUnavailable,
    /// Behind API Gateway: the request carries no verified claims, so the route was reached without the gateway's
    /// authorizer (a route configured without it, or an invocation that bypassed the gateway).
    #[error("The request carries no verified token; send `Authorization: Bearer <token>`.")]
    NoVerifiedClaims,
    /// A valid token of a caller who is not an administrator, on an administrators' route.
    #[error("This operation is for administrators only.")]
    NotAdmin,
    /// The secret file could not be read or written. An operating error: check the data directory.
    #[error("cannot use the signing secret at {path}: {source}")]
    SecretIo {
        /// The secret file.
        path: std::path::PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The secret file has a size we refuse: truncated, or not written by us. Delete it to make a new one
    /// (which invalidates every token issued so far).
    #[error("the signing secret at {path} has {len} bytes; expected {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX}")]
    SecretSize {
        /// The secret file.
        path: std::path::PathBuf,
        /// Its size in bytes, or at least `SECRET_BYTES_MAX + 1` when larger.
        len: usize,
    },
    /// The operating system gave no randomness for a new secret.
    #[error("cannot generate a signing secret: {0}")]
    Random(getrandom::Error),
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::MissingToken | AuthError::NotBearer | AuthError::NoVerifiedClaims => {
                Problem::unauthorized(error.to_string())
            }
            AuthError::TokenTooLong
            | AuthError::Malformed(_)
            | AuthError::BadSignature
            | AuthError::UnknownKey
            | AuthError::WrongIssuer
            | AuthError::WrongAudience
            | AuthError::NotAccessToken
            | AuthError::Expired
            | AuthError::IssuedInFuture => Problem::invalid_token(error.to_string()),
            // The keys are fetched again at most once per interval, so sooner than that nothing changes.
            AuthError::KeysUnavailable => Problem::service_unavailable(error.to_string(), JWKS_REFETCH_INTERVAL_MIN),
            AuthError::NotAdmin => Problem::forbidden(error.to_string()),
            AuthError::SecretIo { .. } | AuthError::SecretSize { .. } | AuthError::Random(_) => {
                Problem::internal_error(&error)
            }
        }
    }
}

/// What handlers need to authenticate requests; part of the router state, reached through [`FromRef`].
#[derive(Debug, Clone)]
pub struct AuthState {
    mode: AuthMode,
}

/// Where the caller of a request comes from.
#[derive(Debug, Clone)]
enum AuthMode {
    /// The request's bearer token, checked here (local and container hosts).
    Bearer(Arc<Verifier>),
    /// The [`GatewayClaims`] extension: API Gateway verified the token already (the Lambda host).
    Gateway,
}

impl AuthState {
    /// Authentication with this verifier: every request's bearer token is checked here.
    pub fn new(verifier: Verifier) -> Self {
        Self { mode: AuthMode::Bearer(Arc::new(verifier)) }
    }

    /// Authentication already done by API Gateway's JWT authorizer: the caller is read from the request's
    /// [`GatewayClaims`] extension, and a request without one is a 401. The `Authorization` header is never read,
    /// because on a route without the authorizer nobody checked it.
    pub fn gateway() -> Self {
        Self { mode: AuthMode::Gateway }
    }

    /// The verifier of bearer tokens; `None` behind API Gateway, where this process verifies no token. Its
    /// [`Verifier::verify`] checks a token without waiting (with the keys already fetched, for a trusted issuer),
    /// for callers that cannot wait, such as the edge's rate limiter and the pages.
    pub fn verifier(&self) -> Option<&Verifier> {
        match &self.mode {
            AuthMode::Bearer(verifier) => Some(verifier),
            AuthMode::Gateway => None,
        }
    }

    /// The caller of a request with these parts, or `None` when it brings no credentials at all. A token signed
    /// with a key not fetched yet makes the trusted issuer's keys be fetched (see `jwks.rs` for how often).
    /// The caller is named in the request's span (`request_id.rs`).
    async fn caller(&self, parts: &Parts) -> Result<Option<Caller>, AuthError> {
        let caller = match &self.mode {
            AuthMode::Bearer(verifier) => {
                if !parts.headers.contains_key(AUTHORIZATION) {
                    return Ok(None);
                }
                let token = bearer_token(&parts.headers)?;
                verifier.verify_fetching(token, SystemTime::now()).await.map(Some)
            }
            AuthMode::Gateway => parts.extensions.get::<GatewayClaims>().map(GatewayClaims::caller).transpose(),
        }?;
        if let Some(caller) = &caller {
            crate::request_id::note_caller(&caller.user_id);
        }
        Ok(caller)
    }

    /// What a request without credentials is told.
    fn missing(&self) -> AuthError {
        match self.mode {
            AuthMode::Bearer(_) => AuthError::MissingToken,
            AuthMode::Gateway => AuthError::NoVerifiedClaims,
        }
    }
}

/// The authenticated caller of a request. As an extractor it rejects a request without a valid bearer token with a
/// 401 problem and a `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The user's id, from the token's `sub`.
    pub user_id: Uuid,
    /// Whether the user is in the `admin` group.
    pub admin: bool,
}

impl<S> FromRequestParts<S> for Caller
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthState::from_ref(state);
        Ok(auth.caller(parts).await?.ok_or_else(|| auth.missing())?)
    }
}

/// `Option<Caller>`: `None` for a request without an `Authorization` header (behind API Gateway: without verified
/// claims), that is an anonymous reader of a public route; the caller for a valid token, and the same 401 as
/// [`Caller`] for a token that is present but invalid, so that a client with an expired token learns it rather than
/// silently seeing the anonymous view.
impl<S> OptionalFromRequestParts<S> for Caller
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(AuthState::from_ref(state).caller(parts).await?)
    }
}

/// An authenticated administrator. As an extractor it rejects like [`Caller`], and a valid token of a
/// non-administrator with a 403 problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin {
    /// The administrator's user id.
    pub user_id: Uuid,
}

impl<S> FromRequestParts<S> for Admin
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = <Caller as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if !caller.admin {
            return Err(AuthError::NotAdmin.into());
        }
        Ok(Admin { user_id: caller.user_id })
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 9110 11.1).
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers.get(AUTHORIZATION).ok_or(AuthError::MissingToken)?;
    let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("Bearer") || token.is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
    use axum::http::{Request, StatusCode};

    use super::testing::{KEY_A, KeySetServer, TEST_CLIENT_ID, access_claims, key_set, sign, unreachable_url};
    use super::*;
    use crate::limits::TOKEN_LIFETIME_DEFAULT;
    use crate::problem::PROBLEM_CONTENT_TYPE;
    use crate::test_support::{TEST_ISSUER, send, send_problem, test_app, test_secret, test_signer};

    fn get(uri: &str, authorization: Option<&str>) -> Request<Body> {
        let mut builder = Request::builder().uri(uri);
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(Body::empty()).expect("a literal request is valid")
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[tokio::test]
    async fn a_request_without_a_token_is_a_401_problem_with_a_bearer_challenge() {
        let (_, headers, problem) = send_problem_with_headers(get("/test/me", None), StatusCode::UNAUTHORIZED).await;

        assert_eq!(headers[WWW_AUTHENTICATE], "Bearer");
        assert!(problem["detail"].as_str().unwrap_or_default().contains("no bearer token"));
    }

    #[tokio::test]
    async fn a_non_bearer_authorization_is_a_401_problem_with_a_bearer_challenge() {
        let request = get("/test/me", Some("Basic YWxpY2U6c2VjcmV0"));

        let (_, headers, _) = send_problem_with_headers(request, StatusCode::UNAUTHORIZED).await;

        assert_eq!(headers[WWW_AUTHENTICATE], "Bearer");
    }

    #[tokio::test]
    async fn a_garbage_token_is_a_401_invalid_token_problem() {
        let request = get("/test/me", Some("Bearer not.a.jwt"));

        let (_, headers, _) = send_problem_with_headers(request, StatusCode::UNAUTHORIZED).await;

        assert_eq!(headers[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
    }

    #[tokio::test]
    async fn a_token_with_a_wrong_signature_is_a_401_problem() {
        let forged = LocalSigner::new(&Secret::from_bytes(vec![9; 32]), TEST_ISSUER).issue(
            Uuid::new_v4(),
            true,
            TOKEN_LIFETIME_DEFAULT,
            SystemTime::now(),
        );

        let (_, headers, problem) =
            send_problem_with_headers(get("/test/me", Some(&bearer(&forged))), StatusCode::UNAUTHORIZED).await;

        assert_eq!(headers[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
        assert!(problem["detail"].as_str().unwrap_or_default().contains("signature"));
    }

    #[tokio::test]
    async fn an_expired_token_is_a_401_problem() {
        let issued = SystemTime::now() - Duration::from_secs(7200);
        let token = test_signer().issue(Uuid::new_v4(), false, Duration::from_secs(3600), issued);

        let (_, _, problem) =
            send_problem_with_headers(get("/test/me", Some(&bearer(&token))), StatusCode::UNAUTHORIZED).await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("expired"));
    }

    #[tokio::test]
    async fn a_token_from_another_issuer_is_a_401_problem() {
        let token = LocalSigner::new(&test_secret(), "https://elsewhere.example").issue(
            Uuid::new_v4(),
            false,
            TOKEN_LIFETIME_DEFAULT,
            SystemTime::now(),
        );

        let (_, _, problem) =
            send_problem_with_headers(get("/test/me", Some(&bearer(&token))), StatusCode::UNAUTHORIZED).await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("issuer"));
    }

    #[tokio::test]
    async fn a_valid_token_identifies_the_caller() {
        let user_id = Uuid::new_v4();
        let token = test_signer().issue(user_id, false, TOKEN_LIFETIME_DEFAULT, SystemTime::now());

        let (status, _, body) = send(test_app(), get("/test/me", Some(&bearer(&token)))).await;

        assert_eq!(status, StatusCode::OK);
        let caller: serde_json::Value = serde_json::from_slice(&body).expect("the route returns JSON");
        assert_eq!(caller, serde_json::json!({"user_id": user_id, "admin": false}));
    }

    #[tokio::test]
    async fn a_customer_token_on_an_admin_route_is_a_403_problem() {
        let token = test_signer().issue(Uuid::new_v4(), false, TOKEN_LIFETIME_DEFAULT, SystemTime::now());

        send_problem(test_app(), get("/test/admin", Some(&bearer(&token))), StatusCode::FORBIDDEN).await;
    }

    #[tokio::test]
    async fn an_admin_token_on_an_admin_route_is_served() {
        let user_id = Uuid::new_v4();
        let token = test_signer().issue(user_id, true, TOKEN_LIFETIME_DEFAULT, SystemTime::now());

        let (status, _, body) = send(test_app(), get("/test/admin", Some(&bearer(&token)))).await;

        assert_eq!(status, StatusCode::OK);
        let admin: serde_json::Value = serde_json::from_slice(&body).expect("the route returns JSON");
        assert_eq!(admin, serde_json::json!({"user_id": user_id}));
    }

    #[tokio::test]
    async fn no_token_on_an_admin_route_is_a_401_not_a_403() {
        send_problem(test_app(), get("/test/admin", None), StatusCode::UNAUTHORIZED).await;
    }

    #[test]
    fn a_bearer_auth_state_has_a_verifier() {
        assert!(AuthState::new(Verifier::new(&test_secret(), TEST_ISSUER)).verifier().is_some());
    }

    /// Routes that report their caller, authenticated with `verifier`.
    fn app_with(verifier: Verifier) -> axum::Router {
        async fn me(caller: Caller) -> String {
            format!("{} {}", caller.user_id, caller.admin)
        }
        async fn admin(admin: Admin) -> String {
            admin.user_id.to_string()
        }
        axum::Router::new()
            .route("/me", axum::routing::get(me))
            .route("/admin", axum::routing::get(admin))
            .with_state(AuthState::new(verifier))
    }

    fn trusted(jwks_url: String) -> Verifier {
        let trusted = TrustedIssuer::new(TEST_ISSUER, TEST_CLIENT_ID).with_jwks_url(jwks_url);
        Verifier::trusting(&trusted).expect("a valid address")
    }

    #[tokio::test]
    async fn with_a_trusted_issuer_its_organisers_and_customers_are_told_apart() {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let app = app_with(trusted(server.url()));
        let organiser = Claims { groups: vec![ADMIN_GROUP.to_owned()], ..access_claims(SystemTime::now()) };
        let customer = access_claims(SystemTime::now());

        let (status, _, body) =
            send(app.clone(), get("/admin", Some(&bearer(&sign(&organiser, Some("key-a"), KEY_A))))).await;
        send_problem(app, get("/admin", Some(&bearer(&sign(&customer, Some("key-a"), KEY_A)))), StatusCode::FORBIDDEN)
            .await;

        assert_eq!((status, body.as_ref()), (StatusCode::OK, organiser.sub.as_bytes()));
    }

    #[tokio::test]
    async fn with_a_trusted_issuer_a_locally_signed_token_is_a_401_problem() {
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let token = test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, SystemTime::now());

        let problem =
            send_problem(app_with(trusted(server.url())), get("/me", Some(&bearer(&token))), StatusCode::UNAUTHORIZED)
                .await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("RS256"), "{problem}");
    }

    #[tokio::test]
    async fn with_a_trusted_issuer_an_id_token_is_a_401_problem() {
        let claims = Claims {
            client_id: None,
            aud: Some(TEST_CLIENT_ID.to_owned()),
            token_use: "id".to_owned(),
            ..access_claims(SystemTime::now())
        };
        let server = KeySetServer::start(key_set(&["key-a"])).await;
        let request = get("/me", Some(&bearer(&sign(&claims, Some("key-a"), KEY_A))));

        let problem = send_problem(app_with(trusted(server.url())), request, StatusCode::UNAUTHORIZED).await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("not an access token"), "{problem}");
    }

    #[tokio::test]
    async fn keys_that_cannot_be_fetched_are_a_503_problem_with_retry_after() {
        let app = app_with(trusted(unreachable_url().await));
        let token = sign(&access_claims(SystemTime::now()), Some("key-a"), KEY_A);

        let (status, headers, body) = send(app, get("/me", Some(&bearer(&token)))).await;

        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
        assert_eq!(headers[RETRY_AFTER], JWKS_REFETCH_INTERVAL_MIN.as_secs().to_string().as_str());
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("a problem is JSON");
        assert!(problem["detail"].as_str().unwrap_or_default().contains("signing keys"), "{problem}");
    }

    async fn send_problem_with_headers(
        request: Request<Body>,
        expected: StatusCode,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let (status, headers, body) = send(test_app(), request).await;
        let problem = crate::test_support::problem_body(status, &headers, &body);
        assert_eq!(status, expected, "unexpected status; problem: {problem}");
        (status, headers, problem)
    }
}
