//! One error type for every handler, so that the HTTP layer maps all of them
//! with one `match`: a refusal carries its [`RefusalKind`] (422/409/404),
//! `Busy` means "too hot, retry later" (503), `Unavailable` means the backend
//! cannot be reached right now (503), `Store` is any other backend failure
//! (500). Domain variants are flattened to a kind and a message here, at the
//! one place that knows every domain error type.

use es_core::RepositoryError;
use thiserror::Error;
use ticketing::{CartError, ConcertError, OrderError, RefusalKind, VenueError};

/// Why a command did not go through.
#[derive(Clone, Debug, Error)]
pub enum AppError {
    /// The domain refused the command.
    #[error("{message}")]
    Rejected {
        /// What kind of refusal: Invalid (422), Conflict (409), NotFound (404).
        kind: RefusalKind,
        /// The domain's explanation, fit to show the caller.
        message: String,
    },
    /// Something the command names, read before any decision, does not
    /// exist (a venue for a new concert, an order to check in).
    #[error("{0} not found")]
    NotFound(String),
    /// Still conflicting after every retry: the aggregates are too hot right
    /// now. Retrying later (with the same command id) is safe.
    #[error("too many concurrent changes, try again later")]
    Busy,
    /// The backend cannot be reached or is shutting down
    /// ([`es_core::StoreError::Unavailable`]): nothing was decided, and
    /// retrying later (with the same command id) is safe.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The backend failed, or the log could not be read or written.
    #[error("storage failure: {0}")]
    Store(String),
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
            RepositoryError::Invalid(invalid) => AppError::Store(invalid.to_string()),
            // An id of something else: as far as this kind goes, there is none.
            RepositoryError::OtherKind { kind, .. } => AppError::NotFound(kind.to_owned()),
            RepositoryError::Codec(codec) => AppError::Store(codec.to_string()),
            RepositoryError::Store(store @ es_core::StoreError::Unavailable(_))
            | RepositoryError::Read(es_core::ReadError::Store(store @ es_core::StoreError::Unavailable(_))) => {
                AppError::Unavailable(store.to_string())
            }
            RepositoryError::Read(read) => AppError::Store(read.to_string()),
            RepositoryError::Store(store) => AppError::Store(store.to_string()),
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
}
