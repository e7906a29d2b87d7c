//! What the tests of RS256 tokens share: two fixed RSA key pairs made for these tests only (`testdata/`: the private
//! keys as PKCS#1 DER, the public ones as a JSON Web Key Set with ids `key-a` and `key-b`), a signer of
//! Cognito-shaped access tokens with them, and a small key set server on 127.0.0.1 whose answer a test can change
//! and whose fetches it can count.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use uuid::Uuid;

use super::jwks::{KeySet, TrustedIssuer};
use super::verify::{Claims, Verifier, unix_seconds};
use crate::test_support::TEST_ISSUER;

/// The private key whose public half is published as `key-a`.
pub(super) const KEY_A: &[u8] = include_bytes!("testdata/key-a.der");

/// The private key whose public half is published as `key-b`.
pub(super) const KEY_B: &[u8] = include_bytes!("testdata/key-b.der");

/// Both public keys, as a JSON Web Key Set.
const PUBLIC_KEYS: &str = include_str!("testdata/public-keys.json");

/// The app client the tests' verifiers accept.
pub(super) const TEST_CLIENT_ID: &str = "test-app-client";

/// A JSON Web Key Set with the public keys of these ids (of `key-a` and `key-b`).
pub(super) fn key_set(key_ids: &[&str]) -> String {
    let all: serde_json::Value = serde_json::from_str(PUBLIC_KEYS).expect("the test key set is JSON");
    let keys = all["keys"].as_array().expect("the test key set has keys");
    let chosen: Vec<_> = keys.iter().filter(|key| key_ids.iter().any(|id| key["kid"] == *id)).cloned().collect();
    assert_eq!(chosen.len(), key_ids.len(), "every named key exists in the test key set");
    serde_json::json!({ "keys": chosen }).to_string()
}

/// The claims of a valid access token of the test issuer for the test client, issued at `now`.
pub(super) fn access_claims(now: SystemTime) -> Claims {
    let iat = unix_seconds(now);
    Claims {
        sub: Uuid::new_v4().to_string(),
        groups: Vec::new(),
        iss: TEST_ISSUER.to_owned(),
        client_id: Some(TEST_CLIENT_ID.to_owned()),
        aud: None,
        token_use: "access".to_owned(),
        exp: iat + 3600,
        iat,
        jti: Some(Uuid::new_v4().to_string()),
    }
}

/// `claims` signed with RS256 by the private key `der`, naming `key_id` in the header.
pub(super) fn sign(claims: &impl Serialize, key_id: Option<&str>, der: &[u8]) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = key_id.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der)).expect("the test key signs")
}

/// A verifier of the test issuer's RS256 tokens with the keys `server` publishes, fetching them again at most once
/// per `refetch_interval_min` and after `age_max`.
pub(super) fn verifier(server: &KeySetServer, refetch_interval_min: Duration, age_max: Duration) -> Verifier {
    let trusted = TrustedIssuer::new(TEST_ISSUER, TEST_CLIENT_ID).with_jwks_url(server.url());
    let key_set = KeySet::new(trusted.jwks_url()).expect("a local URL").with_timing(refetch_interval_min, age_max);
    Verifier::with_key_set(key_set, &trusted)
}

/// A key set server on 127.0.0.1: it answers every GET with the status and body last set, and counts them.
#[derive(Clone)]
pub(super) struct KeySetServer {
    addr: SocketAddr,
    answer: Arc<Mutex<(StatusCode, String)>>,
    fetches: Arc<AtomicUsize>,
}

impl KeySetServer {
    /// A server publishing `body`; it runs until the test's runtime ends.
    pub(super) async fn start(body: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
        let server = Self {
            addr: listener.local_addr().expect("a bound socket has an address"),
            answer: Arc::new(Mutex::new((StatusCode::OK, body))),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new().fallback(answer).with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    pub(super) fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.addr)
    }

    /// Answers from now on with `status` and `body`.
    pub(super) fn answer(&self, status: StatusCode, body: String) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = (status, body);
    }

    /// How many times the key set was asked for.
    pub(super) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn answer(State(server): State<KeySetServer>) -> Response {
    server.fetches.fetch_add(1, Ordering::SeqCst);
    let (status, body) = server.answer.lock().unwrap_or_else(PoisonError::into_inner).clone();
    (status, [("content-type", "application/json")], body).into_response()
}

/// An address where nothing listens: bound, then closed again.
pub(super) async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
    let addr = listener.local_addr().expect("a bound socket has an address");
    drop(listener);
    format!("http://{addr}/.well-known/jwks.json")
}
