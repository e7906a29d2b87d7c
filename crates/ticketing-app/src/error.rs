//! One error type for every handler, so that the HTTP layer maps all of them
//! with one `match`: a refusal carries its [`RefusalKind`] (422/409/404),
//! `Busy` means "too hot, retry later" (503), `Unavailable` means the backend
//! cannot be reached right now (503), `Store` is any other backend failure
//! (500). Domain variants are flattened to a kind and a message here, at the
//! one place that knows every domain error type. A backend's failure is kept
//! whole, with its sources, because whoever logs it needs what broke under
//! the message (the operating system's or the driver's words); it is shared
//! (`Arc`) because the runner hands one result to every command of a round.

use std::fmt;
use std::sync::Arc;

use es_core::RepositoryError;
use thiserror::Error;
use ticketing::{CartError, ConcertError, OrderError, RefusalKind, VenueError};

/// Why a command did not go through.
#[derive(Clone, Debug)]
pub enum AppError {
    /// The domain refused the command.
    Rejected {
        /// What kind of refusal: Invalid (422), Conflict (409), NotFound (404).
        kind: RefusalKind,
        /// The domain's explanation, fit to show the caller.
        message: String,
    },
    /// Something the command names, read before any decision, does not
    /// exist (a venue for a new concert, an order to check in).
    NotFound(String),
    /// Still conflicting after every retry: the aggregates are too hot right
    /// now. Retrying later (with the same command id) is safe.
    Busy,
    /// The backend cannot be reached or is shutting down
    /// ([`es_core::StoreError::Unavailable`]): nothing was decided, and
    /// retrying later (with the same command id) is safe.
    Unavailable(Cause),
    /// The backend failed, or the log could not be read or written.
    Store(Cause),
}

/// How a command went, as the metrics and logs name it: `ok`, `refused` (by
/// the domain, or something it names does not exist), `busy` (kept
/// conflicting), `unavailable` (the backend cannot be reached) or `failed`.
pub(crate) fn outcome(answer: Result<(), &AppError>) -> &'static str {
    match answer {
        Ok(()) => "ok",
        Err(AppError::Rejected { .. } | AppError::NotFound(_)) => "refused",
        Err(AppError::Busy) => "busy",
        Err(AppError::Unavailable(_)) => "unavailable",
        Err(AppError::Store(_)) => "failed",
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Rejected { message, .. } => formatter.write_str(message),
            AppError::NotFound(what) => write!(formatter, "{what} not found"),
            AppError::Busy => formatter.write_str("too many concurrent changes, try again later"),
            AppError::Unavailable(cause) => write!(formatter, "storage unavailable: {cause}"),
            AppError::Store(cause) => write!(formatter, "storage failure: {cause}"),
        }
    }
}

// Written out rather than derived so that the source is the cause itself,
// which a caller can downcast, not the `Arc` that shares it.
impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::Unavailable(cause) | AppError::Store(cause) => Some(&**cause),
            AppError::Rejected { .. } | AppError::NotFound(_) | AppError::Busy => None,
        }
    }
}

/// What made a backend fail, with its own sources.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

impl AppError {
    /// A backend failure, keeping `error` as its source.
    pub fn store(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Store(Arc::new(error))
    }

    /// An unreachable backend, keeping `error` as its source.
    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Unavailable(Arc::new(error))
    }

    /// A payment provider's failure: unreachable (retry later), or a refusal
    /// of what the shop asked (an amount below its minimum, say), which the
    /// caller is told.
    pub(crate) fn payment(error: crate::payments::PaymentError) -> Self {
        match error {
            crate::payments::PaymentError::Unavailable(cause) => AppError::Unavailable(cause),
            refused @ crate::payments::PaymentError::Refused { .. } => {
                AppError::Rejected { kind: RefusalKind::Invalid, message: refused.to_string() }
            }
        }
    }
}

/// The refusal of one decision inside a handler: a domain error flattened to
/// its kind, or a missing thing the handler needed to read.
#[derive(Clone, Debug, Error)]
pub(crate) enum Refused {
    #[error("{message}")]
    Domain { kind: RefusalKind, message: String },
    #[error("{0} not found")]
    Missing(String),
}

impl Refused {
    pub(crate) fn invalid(error: impl std::error::Error) -> Self {
        Refused::Domain { kind: RefusalKind::Invalid, message: error.to_string() }
    }
}

/// A domain error that knows its kind.
pub(crate) trait Refusal: std::error::Error {
    fn kind(&self) -> RefusalKind;
}

macro_rules! refusal {
    ($($error:ty),*) => {
        $(impl Refusal for $error {
            fn kind(&self) -> RefusalKind {
                <$error>::kind(self)
            }
        })*
    };
}

refusal!(VenueError, ConcertError, CartError, OrderError);

/// Flattens a domain error.
pub(crate) fn refused(error: impl Refusal) -> Refused {
    Refused::Domain { kind: error.kind(), message: error.to_string() }
}

/// The error type of one attempt of a handler.
pub(crate) type AttemptError = RepositoryError<Refused>;

/// A domain refusal inside an attempt.
pub(crate) fn rejected(error: impl Refusal) -> AttemptError {
    RepositoryError::Rejected(refused(error))
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Domain { kind, message } => AppError::Rejected { kind, message },
            Refused::Missing(what) => AppError::NotFound(what),
        }
    }
}

impl From<AttemptError> for AppError {
    fn from(error: AttemptError) -> Self {
        match error {
            RepositoryError::Rejected(refused) => refused.into(),
            // A conflict only escapes the runner as `TooManyConflicts`.
            RepositoryError::Conflict(_) | RepositoryError::TooManyConflicts(_) => AppError::Busy,
            // The domain's limits keep every append far within the kernel's,
            // so an invalid append is a bug, reported like a backend failure.
            RepositoryError::Invalid(invalid) => AppError::store(invalid),
            // An id of something else: as far as this kind goes, there is none.
            RepositoryError::OtherKind { kind, .. } => AppError::NotFound(kind.to_owned()),
            RepositoryError::Codec(codec) => AppError::store(codec),
            RepositoryError::Store(store @ es_core::StoreError::Unavailable(_))
            | RepositoryError::Read(es_core::ReadError::Store(store @ es_core::StoreError::Unavailable(_))) => {
                AppError::unavailable(store)
            }
            RepositoryError::Read(read) => AppError::store(read),
            RepositoryError::Store(store) => AppError::store(store),
        }
    }
}

impl Refused {
    /// The cart has no item with this id.
    pub(crate) fn from_cart_item(item_id: ticketing::HoldId) -> Self {
        refused(CartError::ItemNotFound(item_id))
    }
}

#[cfg(test)]
mod tests {
    use es_core::{ReadError, StoreError};

    use super::*;

    #[test]
    fn an_unreachable_backend_is_unavailable_and_any_other_failure_a_store_failure() {
        let unavailable = |error: AttemptError| matches!(AppError::from(error), AppError::Unavailable(_));

        assert!(unavailable(RepositoryError::Store(StoreError::Unavailable("throttled".into()))));
        assert!(unavailable(RepositoryError::Read(ReadError::Store(StoreError::Unavailable("closed".into())))));
        let corrupt = AppError::from(RepositoryError::Store(StoreError::Corrupt("a bad item".into())));
        assert!(matches!(corrupt, AppError::Store(_)), "{corrupt:?}");
    }

    #[test]
    fn a_backend_failure_keeps_its_cause() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let failed = AppError::from(RepositoryError::Store(StoreError::Backend(Box::new(refused))));

        let source = std::error::Error::source(&failed).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("event store failed: connection refused"));
        let root = std::error::Error::source(&failed).and_then(std::error::Error::source);
        assert!(root.is_some_and(|root| root.is::<std::io::Error>()), "{failed:?}");

        let unavailable = AppError::from(RepositoryError::Store(StoreError::Unavailable("throttled".into())));
        let source = std::error::Error::source(&unavailable);
        assert!(source.is_some_and(|source| source.is::<StoreError>()), "{unavailable:?}");
    }
}
