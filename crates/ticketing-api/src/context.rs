//! What every command route passes to the application layer besides the command itself: the caller's
//! `Idempotency-Key`, which becomes the command's id so that a retried request returns the first result instead of
//! acting twice, and the caller's id as the actor stamped on every event the command causes.

use axum::extract::FromRequestParts;
use axum::http::HeaderName;
use axum::http::request::Parts;
use es_core::{CommandContext, CommandId, CorrelationId, Metadata};
use uuid::Uuid;

use crate::problem::{FieldError, Problem};

/// The request header that makes a command idempotent (draft-ietf-httpapi-idempotency-key-header).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The namespace of command ids derived from idempotency keys (a fixed, random UUID: changing it would make every
/// stored key unknown).
const COMMAND_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_5a2e_9b3d_4f80_a7c4_1d2e_3f4a_5b6c);

/// The optional `Idempotency-Key` of a request: a UUID, with the method and path it was sent to. As an extractor it
/// rejects a malformed key with a 400 problem, because silently ignoring it would make a client's retry act twice.
///
/// A key is scoped to its caller and its request line: the command id is a UUID v5 of (caller, method and path, key).
/// So two users who happen to send the same key never see each other's results, and one key reused on another route
/// is a new command rather than the first route's stored result (which would not even have the right shape).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdempotencyKey {
    key: Option<Uuid>,
    request_line: String,
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let request_line = format!("{} {}", parts.method, parts.uri.path());
        let Some(value) = values.next() else {
            return Ok(Self { key: None, request_line });
        };
        let malformed = |message: &str| {
            Problem::bad_request(format!("The Idempotency-Key header is invalid: {message}."))
                .with_errors(vec![FieldError::new("Idempotency-Key", message)])
        };
        if values.next().is_some() {
            return Err(malformed("it must be sent once"));
        }
        let text = value.to_str().map_err(|_| malformed("it must be a UUID"))?;
        let uuid = Uuid::try_parse(text.trim()).map_err(|_| malformed("it must be a UUID"))?;
        Ok(Self { key: Some(uuid), request_line })
    }
}

impl IdempotencyKey {
    /// The key's command id for `actor`, if a key was sent.
    pub fn command_id(&self, actor: Uuid) -> Option<CommandId> {
        let key = self.key?;
        let name = format!("{actor}\n{}\n{key}", self.request_line);
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
