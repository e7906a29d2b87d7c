//! What every command route passes to the application layer besides the command itself: the caller's
//! `Idempotency-Key`, which becomes the command's id so that a retried request returns the first result instead of
//! acting twice, the fingerprint of the request it was sent with, and the caller's id as the actor stamped on every
//! event the command causes.
//!
//! A key names one request (draft-ietf-httpapi-idempotency-key-header): the same key sent again with the same
//! method, path and body gets the first response; sent with a different one it is a 422 problem, not the first
//! request's response passed off as the new one's. The shop stores the request's fingerprint with the command's
//! result and compares it on a repeat (`ticketing_app::idempotency`); [`fingerprint_request`] computes it and opens
//! the scope in which the shop finds it. The body is read within the same limit as the body extractors read
//! it ([`crate::limits::REQUEST_BODY_BYTES_MAX`]).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use es_core::{CommandContext, CommandId, CorrelationId, Metadata};
use ticketing_app::idempotency::{Fingerprint, for_request};
use uuid::Uuid;

use crate::json::body_too_large;
use crate::problem::{FieldError, Problem};

/// The request header that makes a command idempotent (draft-ietf-httpapi-idempotency-key-header).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The namespace of command ids derived from idempotency keys (a fixed, random UUID: changing it would make every
/// stored key unknown).
const COMMAND_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_5a2e_9b3d_4f80_a7c4_1d2e_3f4a_5b6c);

/// The namespace of request fingerprints (fixed, like [`COMMAND_ID_NAMESPACE`]: changing it would make every stored
/// key refuse its own retries).
const FINGERPRINT_NAMESPACE: Uuid = Uuid::from_u128(0x0b7e_41c2_58d9_4a36_9f01_c3d4_e5f6_a7b8);

/// The optional `Idempotency-Key` of a request: a UUID. As an extractor it rejects a malformed key with a 400
/// problem, because silently ignoring it would make a client's retry act twice.
///
/// A key is scoped to its caller: the command id is a UUID v5 of (caller, key), so two users who happen to send the
/// same key never see each other's results. Within one caller, a key names one request, whatever its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdempotencyKey {
    key: Option<Uuid>,
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self { key: key_of(parts)? })
    }
}

impl IdempotencyKey {
    /// The key's command id for `actor`, if a key was sent.
    pub fn command_id(&self, actor: Uuid) -> Option<CommandId> {
        let key = self.key?;
        let name = format!("{actor}\n{key}");
        Some(CommandId(Uuid::new_v5(&COMMAND_ID_NAMESPACE, name.as_bytes())))
    }

    /// The context of a command by `actor` (the token's `sub`).
    pub fn context(self, actor: Uuid) -> CommandContext {
        CommandContext {
            command_id: self.command_id(actor),
            metadata: Metadata {
                correlation_id: Some(CorrelationId::random()),
                causation_id: None,
                actor: Some(actor.to_string()),
            },
        }
    }
}

/// The key in `Idempotency-Key`, if sent; a 400 if it is malformed or sent twice.
fn key_of(parts: &Parts) -> Result<Option<Uuid>, Problem> {
    let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let malformed = |message: &str| {
        Problem::bad_request(format!("The Idempotency-Key header is invalid: {message}."))
            .with_errors(vec![FieldError::new("Idempotency-Key", message)])
    };
    if values.next().is_some() {
        return Err(malformed("it must be sent once"));
    }
    let text = value.to_str().map_err(|_| malformed("it must be a UUID"))?;
    let key = Uuid::try_parse(text.trim()).map_err(|_| malformed("it must be a UUID"))?;
    Ok(Some(key))
}

/// Middleware of the command routes: a request with an `Idempotency-Key` is handled inside the scope of its
/// fingerprint, so that the command stores it and a repeated key is compared with it. The body is read here and
/// handed on unchanged; requests without a key pass straight through.
pub(crate) async fn fingerprint_request(request: Request, next: Next) -> Response {
    if !request.headers().contains_key(IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Read as the body extractors read it, within the same limit (`DefaultBodyLimit`).
    let bytes = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(bytes) => bytes,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return body_too_large().into_response();
        }
        Err(rejection) => {
            let detail = format!("The request body could not be read: {}", rejection.body_text());
            return Problem::bad_request(detail).into_response();
        }
    };
    let fingerprint = fingerprint(&parts, &bytes);
    for_request(fingerprint, next.run(Request::from_parts(parts, Body::from(bytes)))).await
}

/// The fingerprint of a request: a UUID v5 (a SHA-1 digest) of its method, path and body. A JSON body counts by its
/// content, not its spelling: it is serialized again, without spaces and with every object's members sorted (the
/// order of `serde_json`'s maps), so that a retry that formats the same document differently is the same request.
fn fingerprint(parts: &Parts, body: &Bytes) -> Fingerprint {
    let content = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(document) => serde_json::to_vec(&document).unwrap_or_else(|_| body.to_vec()),
        // Not JSON: the route refuses it, and nothing is stored under the key.
        Err(_) => body.to_vec(),
    };
    let mut name = format!("{}\n{}\n", parts.method, parts.uri.path()).into_bytes();
    name.extend_from_slice(&content);
    Fingerprint(Uuid::new_v5(&FINGERPRINT_NAMESPACE, &name))
}

#[cfg(test)]
mod tests {
    use axum::http::header::CONTENT_TYPE;
    use axum::http::{Method, Request};

    use super::*;
    use crate::limits::REQUEST_BODY_BYTES_MAX;
    use crate::test_support::{send_problem, test_state};

    fn parts(method: Method, uri: &str) -> Parts {
        Request::builder().method(method).uri(uri).body(()).expect("a literal request is valid").into_parts().0
    }

    fn of(method: Method, uri: &str, body: &str) -> Fingerprint {
        fingerprint(&parts(method, uri), &Bytes::copy_from_slice(body.as_bytes()))
    }

    #[test]
    fn a_request_is_told_by_its_method_path_and_document_not_by_its_spelling() {
        let first = of(Method::POST, "/cart/items", r#"{"quantity":2,"concertId":"a"}"#);

        assert_eq!(of(Method::POST, "/cart/items", "{ \"concertId\": \"a\",\n \"quantity\": 2 }"), first);
        assert_ne!(of(Method::POST, "/cart/items", r#"{"quantity":3,"concertId":"a"}"#), first);
        assert_ne!(of(Method::POST, "/cart/checkout", r#"{"quantity":2,"concertId":"a"}"#), first);
        assert_ne!(of(Method::PATCH, "/cart/items", r#"{"quantity":2,"concertId":"a"}"#), first);
        assert_ne!(of(Method::POST, "/cart/items", "not json"), of(Method::POST, "/cart/items", "not json!"));
    }

    #[test]
    fn a_key_is_scoped_to_its_caller_only() {
        let key = IdempotencyKey { key: Some(Uuid::new_v4()) };
        let (me, you) = (Uuid::new_v4(), Uuid::new_v4());

        assert_eq!(key.command_id(me), key.command_id(me));
        assert_ne!(key.command_id(me), key.command_id(you));
        assert_eq!(IdempotencyKey::default().command_id(me), None);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_sent_with_a_key_is_a_413_problem() {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/venues")
            .header(IDEMPOTENCY_KEY, Uuid::new_v4().to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(vec![b' '; REQUEST_BODY_BYTES_MAX + 1]))
            .expect("a literal request is valid");

        send_problem(crate::router(test_state()), request, StatusCode::PAYLOAD_TOO_LARGE).await;
    }
}
