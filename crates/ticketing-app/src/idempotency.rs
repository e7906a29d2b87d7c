//! What a command id was first used for, so that a repeated id answers the
//! first result only to the same request.
//!
//! A client retries a command with the same command id (the HTTP API's
//! `Idempotency-Key`) and gets the first result back instead of acting
//! twice. A client that reuses an id for a *different* request (another
//! body, another route) must not be told that its new request succeeded with
//! the first one's result. So the edge fingerprints each request (method,
//! path, body), the shop stores the fingerprint with the command's result in
//! the same append, and a repeated id whose fingerprint differs is refused
//! as invalid (422 at the HTTP edge).
//!
//! The fingerprint travels in a task-local scope that the edge opens around
//! the request ([`for_request`]), as the read-your-writes note does
//! (`written.rs`), so that no handler's signature has to carry it. Commands
//! run outside any scope (tests, background processes) store no fingerprint,
//! and a result stored without one, or before fingerprints were stored,
//! answers any request with its id.

use std::future::Future;
use std::sync::Arc;

use es_core::{CodecError, CommandId, CommandRecord, Receipt, RepositoryError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ticketing::RefusalKind;

use crate::error::{AppError, AttemptError, Refused};

tokio::task_local! {
    static REQUEST: Fingerprint;
}

/// What identifies a request apart from its command id: a digest of its
/// method, path and body, computed by the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub uuid::Uuid);

/// Runs `work` as the handling of the request with `fingerprint`: commands
/// with an id that it runs store the fingerprint, and a repeated id answers
/// only if its fingerprint is this one.
pub async fn for_request<F: Future>(fingerprint: Fingerprint, work: F) -> F::Output {
    REQUEST.scope(fingerprint, work).await
}

/// The fingerprint of the request being handled, if the edge gave one.
fn current() -> Option<Fingerprint> {
    REQUEST.try_with(|fingerprint| *fingerprint).ok()
}

/// What the log stores with a command id: the command's result and the
/// fingerprint of the request that caused it.
#[derive(Serialize)]
pub(crate) struct Stored<'a, T> {
    request: Option<Fingerprint>,
    result: &'a T,
}

/// [`Stored`] as read back, the result still undecoded: a result stored for another request may not even be of the
/// type this command returns.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredDocument {
    request: Option<Fingerprint>,
    result: serde_json::Value,
}

/// How a command with `command_id` keeps its result: with the current
/// request's fingerprint, taken now (the command may be decided in another
/// task, a lane's), and answering a repeat only to the same request.
pub(crate) fn receipt<T: Serialize + DeserializeOwned>(command_id: CommandId) -> Receipt<T, AppError> {
    let request = current();
    Receipt {
        command_id,
        encode: Box::new(move |result| {
            serde_json::to_string(&Stored { request, result })
                .map_err(|source| CodecError::Json { event_type: "command result".to_owned(), source })
        }),
        decode: Arc::new(move |record| first_result_for(request, record).map_err(AppError::from)),
    }
}

/// `result` as the current request stores it with its command id.
#[cfg(test)]
fn stored<T: Serialize>(result: &T) -> Stored<'_, T> {
    Stored { request: current(), result }
}

/// The first result of a repeated command id, refused when the current
/// request is not the one that caused it.
#[cfg(test)]
fn first_result<T: DeserializeOwned>(record: &CommandRecord) -> Result<T, AttemptError> {
    first_result_for(current(), record)
}

/// The first result of a repeated command id, refused when `now` is the
/// fingerprint of another request than the one that caused it.
fn first_result_for<T: DeserializeOwned>(now: Option<Fingerprint>, record: &CommandRecord) -> Result<T, AttemptError> {
    let (request, result) = match serde_json::from_str::<StoredDocument>(&record.result) {
        Ok(stored) => (stored.request, stored.result),
        // Stored before fingerprints were: the bare result.
        Err(_) => (None, serde_json::from_str(&record.result).map_err(unreadable)?),
    };
    if let (Some(first), Some(now)) = (request, now)
        && first != now
    {
        return Err(RepositoryError::Rejected(Refused::Domain {
            kind: RefusalKind::Invalid,
            message: "this Idempotency-Key was used for a different request (another method, path or body); \
                      send a new key with a new request"
                .to_owned(),
        }));
    }
    serde_json::from_value(result).map_err(unreadable)
}

fn unreadable(source: serde_json::Error) -> AttemptError {
    RepositoryError::Codec(CodecError::Json { event_type: "command result".to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(n: u128) -> Fingerprint {
        Fingerprint(uuid::Uuid::from_u128(n))
    }

    async fn record_in(request: Option<Fingerprint>, result: &str) -> CommandRecord {
        let text = |result: &str| serde_json::to_string(&stored(&result.to_owned())).unwrap_or_default();
        let result = match request {
            Some(request) => for_request(request, async { text(result) }).await,
            None => text(result),
        };
        CommandRecord { command_id: CommandId(uuid::Uuid::nil()), result }
    }

    #[tokio::test]
    async fn the_same_request_gets_the_first_result_and_another_is_refused() {
        let record = record_in(Some(fingerprint(1)), "first").await;

        let same = for_request(fingerprint(1), async { first_result::<String>(&record) }).await;
        let other = for_request(fingerprint(2), async { first_result::<String>(&record) }).await;

        assert_eq!(same.ok().as_deref(), Some("first"));
        assert!(
            matches!(other, Err(RepositoryError::Rejected(Refused::Domain { kind: RefusalKind::Invalid, .. }))),
            "{other:?}"
        );
    }

    #[tokio::test]
    async fn another_request_is_refused_even_when_it_returns_another_type() {
        let record = record_in(Some(fingerprint(1)), "first").await;

        let other = for_request(fingerprint(2), async { first_result::<u64>(&record) }).await;

        assert!(
            matches!(other, Err(RepositoryError::Rejected(Refused::Domain { kind: RefusalKind::Invalid, .. }))),
            "{other:?}"
        );
    }

    #[tokio::test]
    async fn without_a_fingerprint_on_either_side_the_first_result_answers() {
        let unmarked = record_in(None, "first").await;
        let marked = record_in(Some(fingerprint(1)), "first").await;
        let bare = CommandRecord { command_id: CommandId(uuid::Uuid::nil()), result: r#""first""#.to_owned() };

        let from_unmarked = for_request(fingerprint(2), async { first_result::<String>(&unmarked) }).await;
        let outside_a_request = first_result::<String>(&marked);
        let from_bare = for_request(fingerprint(2), async { first_result::<String>(&bare) }).await;

        assert_eq!(from_unmarked.ok().as_deref(), Some("first"));
        assert_eq!(outside_a_request.ok().as_deref(), Some("first"));
        assert_eq!(from_bare.ok().as_deref(), Some("first"), "a result stored before fingerprints were");
    }
}
