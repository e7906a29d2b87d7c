//! Bearer-token authentication with the claims Amazon Cognito puts in its access tokens, so that the same handler
//! code serves behind API Gateway's JWT authorizer (Cognito signs, the gateway verifies) and in local mode (a
//! [`LocalSigner`] signs HS256 with a secret kept in the data directory, the [`Verifier`] checks it here).
//!
//! The claims mirrored from a Cognito access token: `sub` (the user's UUID), `cognito:groups` (absent when the
//! user is in no group; admins are in `admin`), `iss`, `client_id` (access tokens carry the app client here; ID
//! tokens carry it in `aud`), `token_use` (`access`), `exp`, `iat` and `jti`. The verifier accepts only access
//! tokens, as Cognito advises for APIs, and checks the audience as API Gateway does: `aud` if present, otherwise
//! `client_id`.
//!
//! Behind API Gateway the token is checked before the request reaches the function, so the function has nothing to
//! verify and no key to verify with: [`AuthState::gateway`] takes the caller from the [`GatewayClaims`] that the
//! Lambda host copies from the request context into the request's extensions. That host is the only writer of the
//! extension; this crate knows nothing of Lambda, and a bearer-mode API ignores the extension altogether.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::limits::{BEARER_TOKEN_BYTES_MAX, SECRET_BYTES_MAX, SECRET_BYTES_MIN, TOKEN_CLOCK_SKEW_MAX};
use crate::problem::Problem;

/// The name of the signing secret's file inside the data directory.
pub const SECRET_FILE_NAME: &str = "jwt-secret";

/// The Cognito group whose members are administrators.
pub const ADMIN_GROUP: &str = "admin";

/// The app client id of locally issued tokens; plays the role of a Cognito app client id.
pub const LOCAL_CLIENT_ID: &str = "cloudbash-local";

/// The issuer of locally issued tokens. Cognito's is `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
pub const LOCAL_ISSUER: &str = "urn:cloudbash:local";

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
    /// The signature does not match: forged, or signed with another secret.
    #[error("The bearer token's signature is not valid.")]
    BadSignature,
    /// Signed by someone we do not trust to issue tokens for this API.
    #[error("The bearer token was not issued by a trusted issuer.")]
    WrongIssuer,
    /// Issued for another app client, or an ID token rather than an access token.
    #[error("The bearer token was not issued for this API.")]
    WrongAudience,
    /// Past its `exp` (beyond the allowed clock skew). The client should refresh it.
    #[error("The bearer token has expired.")]
    Expired,
    /// Its `iat` is in the future beyond the allowed clock skew: a clock is wrong or the token is forged.
    #[error("The bearer token was issued in the future.")]
    IssuedInFuture,
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
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The secret file has a size we refuse: truncated, or not written by us. Delete it to make a new one
    /// (which invalidates every token issued so far).
    #[error("the signing secret at {path} has {len} bytes; expected {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX}")]
    SecretSize {
        /// The secret file.
        path: PathBuf,
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
            | AuthError::WrongIssuer
            | AuthError::WrongAudience
            | AuthError::Expired
            | AuthError::IssuedInFuture => Problem::invalid_token(error.to_string()),
            AuthError::NotAdmin => Problem::forbidden(error.to_string()),
            AuthError::SecretIo { .. } | AuthError::SecretSize { .. } | AuthError::Random(_) => {
                Problem::internal(&error)
            }
        }
    }
}

/// The HS256 key shared by the local signer and verifier. Its bytes never appear in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(Arc<[u8]>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(..)")
    }
}

impl Secret {
    /// A secret with these bytes, for a key supplied by configuration (and tests).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Arc::from(bytes.into()))
    }

    /// Reads the secret from `data_dir`, or on first start creates it there with [`SECRET_BYTES_MIN`] random
    /// bytes, readable by the owner only, so that tokens stay valid across restarts.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, AuthError> {
        let path = data_dir.join(SECRET_FILE_NAME);
        match read_secret(&path) {
            Err(AuthError::SecretIo { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            loaded => return loaded,
        }
        let mut bytes = vec![0; SECRET_BYTES_MIN];
        getrandom::fill(&mut bytes).map_err(AuthError::Random)?;
        fs::create_dir_all(data_dir).map_err(|source| AuthError::SecretIo { path: path.clone(), source })?;
        match write_new_secret(&path, &bytes) {
            Ok(()) => Ok(Self::from_bytes(bytes)),
            // Another process started at the same time and won: use its secret, so both accept the same tokens.
            Err(source) if source.kind() == io::ErrorKind::AlreadyExists => read_secret(&path),
            Err(source) => Err(AuthError::SecretIo { path, source }),
        }
    }
}

fn read_secret(path: &Path) -> Result<Secret, AuthError> {
    let io_error = |source| AuthError::SecretIo { path: path.to_owned(), source };
    let file = File::open(path).map_err(io_error)?;
    let mut bytes = Vec::with_capacity(SECRET_BYTES_MIN);
    // Reading one byte past the maximum is enough to know the file is too large, without reading all of it.
    file.take(SECRET_BYTES_MAX as u64 + 1).read_to_end(&mut bytes).map_err(io_error)?;
    if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&bytes.len()) {
        return Err(AuthError::SecretSize { path: path.to_owned(), len: bytes.len() });
    }
    Ok(Secret::from_bytes(bytes))
}

/// Creates the file (never overwriting one) with owner-only permissions, and removes it again if the write fails,
/// so that a later start does not find a truncated secret.
fn write_new_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        drop(file);
        // The write error is the one worth reporting; a failed cleanup leaves a short file that load refuses.
        let _ = fs::remove_file(path);
    }
    written
}

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

/// Issues tokens in local mode, where there is no Cognito: for `cloudbash token` and tests.
#[derive(Clone)]
pub struct LocalSigner {
    key: EncodingKey,
    issuer: String,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("LocalSigner").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// A signer with this secret, naming `issuer` in every token.
    pub fn new(secret: &Secret, issuer: impl Into<String>) -> Self {
        Self { key: EncodingKey::from_secret(&secret.0), issuer: issuer.into() }
    }

    /// A Cognito-shaped access token for user `sub`, in the admin group when `admin`, valid for `lifetime` from
    /// `now` (see [`crate::limits::TOKEN_LIFETIME_DEFAULT`]).
    pub fn issue(&self, sub: Uuid, admin: bool, lifetime: Duration, now: SystemTime) -> String {
        let iat = unix_seconds(now);
        let claims = Claims {
            sub: sub.to_string(),
            groups: if admin { vec![ADMIN_GROUP.to_owned()] } else { Vec::new() },
            iss: self.issuer.clone(),
            client_id: Some(LOCAL_CLIENT_ID.to_owned()),
            aud: None,
            token_use: ACCESS_TOKEN_USE.to_owned(),
            exp: iat.saturating_add(lifetime.as_secs()),
            iat,
            jti: Some(Uuid::new_v4().to_string()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .expect("HS256 accepts a key of any length and the claims are plain strings and numbers")
    }
}

/// Checks local-mode tokens: HS256 signature, issuer, audience, token use, expiry and issue time.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Verifier").field("issuer", &self.validation.iss).finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for tokens signed with `secret` by `issuer` for [`LOCAL_CLIENT_ID`].
    pub fn new(secret: &Secret, issuer: impl Into<String>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer.into()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Time is checked in `check_times` against an injected clock, so tests control it; the audience is
        // checked in `check_audience`, because Cognito access tokens carry it in `client_id`, not `aud`.
        validation.validate_exp = false;
        validation.validate_aud = false;
        Self { key: DecodingKey::from_secret(&secret.0), validation }
    }

    /// The caller a token stands for, if the token is valid at `now`.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Caller, AuthError> {
        if token.len() > BEARER_TOKEN_BYTES_MAX {
            return Err(AuthError::TokenTooLong);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| decode_error(&error))?
            .claims;
        check_audience(&claims)?;
        check_times(&claims, now)?;
        let user_id = Uuid::parse_str(&claims.sub)
            .map_err(|_| AuthError::Malformed("the `sub` claim is not a UUID".to_owned()))?;
        Ok(Caller { user_id, admin: claims.is_admin() })
    }
}

/// Names what is wrong for the client, without echoing decoder internals such as `InvalidToken`.
fn decode_error(error: &jsonwebtoken::errors::Error) -> AuthError {
    use AuthError::Malformed as malformed;
    match error.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAlgorithm => malformed("it is not signed with HS256".to_owned()),
        ErrorKind::MissingRequiredClaim(claim) => malformed(format!("the `{claim}` claim is missing")),
        ErrorKind::Json(json) => malformed(format!("its claims are not those of an access token: {json}")),
        _ => malformed("it is not a JSON Web Token".to_owned()),
    }
}

/// As API Gateway's JWT authorizer: `aud` if present, else `client_id`; and only access tokens.
fn check_audience(claims: &Claims) -> Result<(), AuthError> {
    let audience = claims.aud.as_deref().or(claims.client_id.as_deref());
    if audience != Some(LOCAL_CLIENT_ID) || claims.token_use != ACCESS_TOKEN_USE {
        return Err(AuthError::WrongAudience);
    }
    Ok(())
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

fn unix_seconds(time: SystemTime) -> u64 {
    // A clock before 1970 is broken; reading it as 1970 makes every token expired rather than valid forever.
    time.duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or(0)
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

    /// The verifier of bearer tokens; `None` behind API Gateway, where this process verifies no token.
    pub fn verifier(&self) -> Option<&Verifier> {
        match &self.mode {
            AuthMode::Bearer(verifier) => Some(verifier),
            AuthMode::Gateway => None,
        }
    }

    /// The caller of a request with these parts, or `None` when it brings no credentials at all.
    fn caller(&self, parts: &Parts) -> Result<Option<Caller>, AuthError> {
        match &self.mode {
            AuthMode::Bearer(verifier) => {
                if !parts.headers.contains_key(AUTHORIZATION) {
                    return Ok(None);
                }
                let token = bearer_token(&parts.headers)?;
                verifier.verify(token, SystemTime::now()).map(Some)
            }
            AuthMode::Gateway => parts.extensions.get::<GatewayClaims>().map(GatewayClaims::caller).transpose(),
        }
    }

    /// What a request without credentials is told.
    fn missing(&self) -> AuthError {
        match self.mode {
            AuthMode::Bearer(_) => AuthError::MissingToken,
            AuthMode::Gateway => AuthError::NoVerifiedClaims,
        }
    }
}

/// The claims of an access token that API Gateway's JWT authorizer has verified, as the gateway hands them to a
/// function (`requestContext.authorizer.jwt.claims`). The Lambda host puts them into the request's extensions;
/// [`AuthState::gateway`] reads the caller from them.
///
/// The gateway passes every claim as text: a list such as `cognito:groups` arrives as `"[admin]"` or
/// `"[admin staff]"` (or, from some emulators, as a JSON array), so [`GatewayClaims::caller`] accepts each form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayClaims {
    claims: HashMap<String, serde_json::Value>,
}

impl GatewayClaims {
    /// Claims as the gateway passes them: name and text value.
    pub fn from_text<N, V>(claims: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        let claims = claims.into_iter().map(|(name, value)| (name.into(), serde_json::Value::String(value.into())));
        Self { claims: claims.collect() }
    }

    /// Claims as JSON values, for callers that have them unflattened (a list as an array).
    pub fn from_json(claims: serde_json::Map<String, serde_json::Value>) -> Self {
        Self { claims: claims.into_iter().collect() }
    }

    /// The caller the claims stand for: `sub` must be a UUID; `cognito:groups` (absent: no group) decides
    /// [`Caller::admin`].
    pub fn caller(&self) -> Result<Caller, AuthError> {
        let sub = match self.claims.get("sub") {
            Some(serde_json::Value::String(sub)) => sub,
            Some(_) => return Err(AuthError::Malformed("the `sub` claim is not a string".to_owned())),
            None => return Err(AuthError::Malformed("the `sub` claim is missing".to_owned())),
        };
        let user_id =
            Uuid::parse_str(sub).map_err(|_| AuthError::Malformed("the `sub` claim is not a UUID".to_owned()))?;
        let admin = self.groups().iter().any(|group| group == ADMIN_GROUP);
        Ok(Caller { user_id, admin })
    }

    /// The `cognito:groups` claim as a list, whichever form it arrived in.
    pub fn groups(&self) -> Vec<String> {
        match self.claims.get(GROUPS_CLAIM) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(groups)) => {
                groups.iter().filter_map(|group| group.as_str().map(str::to_owned)).collect()
            }
            Some(serde_json::Value::String(text)) => groups_from_text(text),
            Some(other) => groups_from_text(&other.to_string()),
        }
    }
}

/// The claim that lists a Cognito user's groups.
const GROUPS_CLAIM: &str = "cognito:groups";

/// A list claim flattened to text: `["a","b"]` (JSON), `[a b]` (as API Gateway writes a list) or `a` (one item).
/// Cognito group names hold no white space, so splitting on it cannot cut a name in two.
fn groups_from_text(text: &str) -> Vec<String> {
    let text = text.trim();
    if let Ok(groups) = serde_json::from_str::<Vec<String>>(text) {
        return groups;
    }
    let inner = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(text);
    inner.split_whitespace().map(str::to_owned).collect()
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
        Ok(auth.caller(parts)?.ok_or_else(|| auth.missing())?)
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
        Ok(AuthState::from_ref(state).caller(parts)?)
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
    use axum::body::Body;
    use axum::http::header::WWW_AUTHENTICATE;
    use axum::http::{Request, StatusCode};

    use super::*;
    use crate::limits::TOKEN_LIFETIME_DEFAULT;
    use crate::test_support::{TEST_ISSUER, TEST_SECRET, send, send_problem, test_app, test_secret, test_signer};

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

    fn verifier() -> Verifier {
        Verifier::new(&test_secret(), TEST_ISSUER)
    }

    fn valid_claims(now: SystemTime) -> Claims {
        let iat = unix_seconds(now);
        Claims {
            sub: Uuid::new_v4().to_string(),
            groups: Vec::new(),
            iss: TEST_ISSUER.to_owned(),
            client_id: Some(LOCAL_CLIENT_ID.to_owned()),
            aud: None,
            token_use: ACCESS_TOKEN_USE.to_owned(),
            exp: iat + 3600,
            iat,
            jti: None,
        }
    }

    fn sign(claims: &Claims, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
            .expect("HS256 signing of plain claims succeeds")
    }

    #[test]
    fn an_issued_token_round_trips_through_the_verifier() {
        let now = SystemTime::now();
        let user_id = Uuid::new_v4();

        let customer = test_signer().issue(user_id, false, TOKEN_LIFETIME_DEFAULT, now);
        let admin = test_signer().issue(user_id, true, TOKEN_LIFETIME_DEFAULT, now);

        assert_eq!(verifier().verify(&customer, now).ok(), Some(Caller { user_id, admin: false }));
        assert_eq!(verifier().verify(&admin, now).ok(), Some(Caller { user_id, admin: true }));
    }

    #[test]
    fn an_issued_token_carries_cognito_access_token_claims() {
        let now = SystemTime::now();
        let token = test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, now);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_aud = false;

        let claims =
            jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_secret(TEST_SECRET), &validation)
                .expect("the token is signed with the test secret")
                .claims;

        assert_eq!(claims["cognito:groups"], serde_json::json!(["admin"]));
        assert_eq!(claims["token_use"], "access");
        assert_eq!(claims["client_id"], LOCAL_CLIENT_ID);
        assert_eq!(claims["iss"], TEST_ISSUER);
        assert_eq!(claims["exp"].as_u64(), Some(unix_seconds(now) + TOKEN_LIFETIME_DEFAULT.as_secs()));
        assert!(claims.get("aud").is_none(), "Cognito access tokens have no `aud`: {claims}");
    }

    #[test]
    fn a_token_expired_within_the_clock_skew_is_still_accepted() {
        let now = SystemTime::now();
        let issued = now - Duration::from_secs(3600 + 10);
        let token = test_signer().issue(Uuid::new_v4(), false, Duration::from_secs(3600), issued);

        assert!(verifier().verify(&token, now).is_ok());
    }

    #[test]
    fn a_token_expired_beyond_the_clock_skew_is_refused() {
        let now = SystemTime::now();
        let issued = now - Duration::from_secs(3600) - TOKEN_CLOCK_SKEW_MAX;
        let token = test_signer().issue(Uuid::new_v4(), false, Duration::from_secs(3600), issued);

        assert!(matches!(verifier().verify(&token, now), Err(AuthError::Expired)));
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused() {
        let now = SystemTime::now();
        let token = test_signer().issue(Uuid::new_v4(), false, TOKEN_LIFETIME_DEFAULT, now + Duration::from_secs(600));

        assert!(matches!(verifier().verify(&token, now), Err(AuthError::IssuedInFuture)));
    }

    #[test]
    fn an_id_token_is_refused() {
        let now = SystemTime::now();
        let claims = Claims {
            client_id: None,
            aud: Some(LOCAL_CLIENT_ID.to_owned()),
            token_use: "id".to_owned(),
            ..valid_claims(now)
        };

        assert!(matches!(verifier().verify(&sign(&claims, TEST_SECRET), now), Err(AuthError::WrongAudience)));
    }

    #[test]
    fn a_token_for_another_app_client_is_refused() {
        let now = SystemTime::now();
        let claims = Claims { client_id: Some("someone-else".to_owned()), ..valid_claims(now) };

        assert!(matches!(verifier().verify(&sign(&claims, TEST_SECRET), now), Err(AuthError::WrongAudience)));
    }

    #[test]
    fn a_token_whose_subject_is_not_a_uuid_is_refused() {
        let now = SystemTime::now();
        let claims = Claims { sub: "alice".to_owned(), ..valid_claims(now) };

        assert!(matches!(verifier().verify(&sign(&claims, TEST_SECRET), now), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn a_token_signed_with_alg_none_is_refused() {
        // The classic JWT attack: a genuine payload under `{"alg":"none"}` with an empty signature.
        let now = SystemTime::now();
        let genuine = test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, now);
        let payload = genuine.split('.').nth(1).expect("a JWT has three parts");
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");

        assert!(verifier().verify(&unsigned, now).is_err());
    }

    #[test]
    fn an_oversized_token_is_refused_before_decoding() {
        let token = "a".repeat(BEARER_TOKEN_BYTES_MAX + 1);

        assert!(matches!(verifier().verify(&token, SystemTime::now()), Err(AuthError::TokenTooLong)));
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
    fn the_secret_file_is_created_once_and_reused() {
        let data_dir = tempfile::tempdir().expect("a temporary directory can be created");

        let first = Secret::load_or_create(data_dir.path()).expect("the secret is created");
        let second = Secret::load_or_create(data_dir.path()).expect("the secret is read back");

        assert_eq!(first.0.len(), SECRET_BYTES_MIN);
        assert_eq!(first.0, second.0);
        let token = LocalSigner::new(&first, TEST_ISSUER).issue(
            Uuid::new_v4(),
            false,
            TOKEN_LIFETIME_DEFAULT,
            SystemTime::now(),
        );
        assert!(Verifier::new(&second, TEST_ISSUER).verify(&token, SystemTime::now()).is_ok());
    }

    #[test]
    fn the_secret_file_is_created_inside_a_missing_data_directory() {
        let root = tempfile::tempdir().expect("a temporary directory can be created");
        let data_dir = root.path().join("data");

        Secret::load_or_create(&data_dir).expect("the secret is created");

        assert!(data_dir.join(SECRET_FILE_NAME).is_file());
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let data_dir = tempfile::tempdir().expect("a temporary directory can be created");

        Secret::load_or_create(data_dir.path()).expect("the secret is created");

        let mode = fs::metadata(data_dir.path().join(SECRET_FILE_NAME)).expect("the file exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_truncated_secret_file_is_refused_not_replaced() {
        let data_dir = tempfile::tempdir().expect("a temporary directory can be created");
        let path = data_dir.path().join(SECRET_FILE_NAME);
        fs::write(&path, [1, 2, 3]).expect("the file can be written");

        let loaded = Secret::load_or_create(data_dir.path());

        assert!(matches!(loaded, Err(AuthError::SecretSize { len: 3, .. })));
        assert_eq!(fs::read(&path).expect("the file is still there"), [1, 2, 3]);
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", Secret::from_bytes(b"hunter2-hunter2".to_vec())), "Secret(..)");
    }

    fn gateway_claims(sub: &str, groups: Option<&str>) -> GatewayClaims {
        let mut claims = vec![("sub", sub.to_owned()), ("client_id", LOCAL_CLIENT_ID.to_owned())];
        if let Some(groups) = groups {
            claims.push((GROUPS_CLAIM, groups.to_owned()));
        }
        GatewayClaims::from_text(claims)
    }

    #[test]
    fn gateway_groups_are_read_from_every_form_the_claim_arrives_in() {
        let sub = Uuid::new_v4().to_string();
        for (groups, expected) in [
            ("[admin]", vec!["admin"]),
            ("admin", vec!["admin"]),
            ("[staff admin]", vec!["staff", "admin"]),
            (r#"["staff","admin"]"#, vec!["staff", "admin"]),
            ("[]", vec![]),
            ("", vec![]),
        ] {
            let claims = gateway_claims(&sub, Some(groups));
            assert_eq!(claims.groups(), expected, "groups claim {groups:?}");
            let caller = claims.caller().expect("a valid sub");
            assert_eq!(caller.admin, expected.contains(&"admin"), "groups claim {groups:?}");
        }
    }

    #[test]
    fn gateway_groups_as_a_json_array_make_an_admin() {
        let user_id = Uuid::new_v4();
        let claims = serde_json::json!({"sub": user_id.to_string(), "cognito:groups": ["customers", "admin"]});
        let claims = serde_json::from_value(claims).expect("a literal object is a map");

        let caller = GatewayClaims::from_json(claims).caller().expect("valid claims");

        assert_eq!(caller, Caller { user_id, admin: true });
    }

    #[test]
    fn gateway_claims_without_groups_are_a_customer() {
        let user_id = Uuid::new_v4();

        let caller = gateway_claims(&user_id.to_string(), None).caller().expect("valid claims");

        assert_eq!(caller, Caller { user_id, admin: false });
    }

    #[test]
    fn a_group_that_only_contains_admin_is_not_admin() {
        let caller = gateway_claims(&Uuid::new_v4().to_string(), Some("[administrators]")).caller();

        assert!(matches!(caller, Ok(Caller { admin: false, .. })));
    }

    #[test]
    fn gateway_claims_without_a_sub_are_refused() {
        let claims = GatewayClaims::from_text([(GROUPS_CLAIM, "[admin]")]);

        assert!(matches!(claims.caller(), Err(AuthError::Malformed(message)) if message.contains("missing")));
    }

    #[test]
    fn gateway_claims_whose_sub_is_not_a_uuid_are_refused() {
        assert!(matches!(gateway_claims("alice", None).caller(), Err(AuthError::Malformed(_))));
    }

    /// Routes that report their caller, authenticated by the gateway's claims.
    fn gateway_app() -> axum::Router {
        async fn me(caller: Option<Caller>) -> String {
            caller.map_or_else(|| "anonymous".to_owned(), |caller| format!("{} {}", caller.user_id, caller.admin))
        }
        async fn admin(admin: Admin) -> String {
            admin.user_id.to_string()
        }
        axum::Router::new()
            .route("/me", axum::routing::get(me))
            .route("/admin", axum::routing::get(admin))
            .with_state(AuthState::gateway())
    }

    fn with_claims(uri: &str, claims: Option<GatewayClaims>, authorization: Option<&str>) -> Request<Body> {
        let mut request = get(uri, authorization);
        if let Some(claims) = claims {
            request.extensions_mut().insert(claims);
        }
        request
    }

    #[tokio::test]
    async fn behind_the_gateway_an_admin_route_serves_the_claims_of_an_admin() {
        let user_id = Uuid::new_v4();
        let claims = gateway_claims(&user_id.to_string(), Some("[admin]"));

        let (status, _, body) = send(gateway_app(), with_claims("/admin", Some(claims), None)).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, user_id.to_string().as_bytes());
    }

    #[tokio::test]
    async fn behind_the_gateway_a_request_without_claims_is_a_401_problem() {
        let problem = send_problem(gateway_app(), with_claims("/admin", None, None), StatusCode::UNAUTHORIZED).await;

        assert!(problem["detail"].as_str().unwrap_or_default().contains("no verified token"));
    }

    #[tokio::test]
    async fn behind_the_gateway_a_bearer_token_alone_is_never_trusted() {
        // On a route without the authorizer nobody checked the header: even a well-signed token means nothing here.
        let token = test_signer().issue(Uuid::new_v4(), true, TOKEN_LIFETIME_DEFAULT, SystemTime::now());

        send_problem(gateway_app(), with_claims("/admin", None, Some(&bearer(&token))), StatusCode::UNAUTHORIZED).await;
        let (status, _, body) = send(gateway_app(), with_claims("/me", None, Some(&bearer(&token)))).await;
        assert_eq!((status, body.as_ref()), (StatusCode::OK, b"anonymous".as_ref()));
    }

    #[tokio::test]
    async fn behind_the_gateway_a_customer_on_an_admin_route_is_a_403_problem() {
        let claims = gateway_claims(&Uuid::new_v4().to_string(), Some("[customers]"));

        send_problem(gateway_app(), with_claims("/admin", Some(claims), None), StatusCode::FORBIDDEN).await;
    }

    #[tokio::test]
    async fn behind_the_gateway_claims_without_a_sub_are_a_401_problem() {
        let claims = GatewayClaims::from_text([(GROUPS_CLAIM, "[admin]")]);

        send_problem(gateway_app(), with_claims("/me", Some(claims), None), StatusCode::UNAUTHORIZED).await;
    }

    #[test]
    fn a_gateway_auth_state_has_no_verifier() {
        assert!(AuthState::gateway().verifier().is_none());
        assert!(AuthState::new(verifier()).verifier().is_some());
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
