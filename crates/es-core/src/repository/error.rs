//! Why a command did not go through: the domain's refusal kept apart from the log's and the backend's failures,
//! so that a caller maps each to its own answer.

use thiserror::Error;

use crate::event::CodecError;
use crate::ids::AggregateId;
use crate::log::ReadError;
use crate::store::{AppendError, InvalidAppend, StoreError, VersionConflict};

/// Why a command did not go through.
#[derive(Debug, Error)]
pub enum RepositoryError<E: std::error::Error + 'static> {
    /// The domain refused the command. Show it to the caller.
    #[error(transparent)]
    Rejected(E),
    /// A version conflict; the repository retries these itself, so callers
    /// only see it from [`super::Transaction::commit`].
    #[error(transparent)]
    Conflict(VersionConflict),
    /// Still conflicting after [`crate::limits::COMMAND_ATTEMPTS_MAX`] attempts:
    /// the aggregate is too hot. The caller may retry later.
    #[error("gave up after {0} conflicting attempts")]
    TooManyConflicts(u32),
    /// The append broke a limit: a programmer error or oversized input.
    #[error(transparent)]
    Invalid(#[from] InvalidAppend),
    /// The id names a stream of another kind of aggregate (its first event
    /// is not one of this kind's): to this kind, no such aggregate exists.
    #[error("{aggregate_id} is not a {kind}: its stream starts with {event_type:?}")]
    OtherKind {
        /// The id asked for.
        aggregate_id: AggregateId,
        /// The kind asked for.
        kind: &'static str,
        /// The first event of the stream the id names.
        event_type: String,
    },
    /// Events could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The log could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E: std::error::Error + 'static> From<AppendError> for RepositoryError<E> {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict(conflict) => RepositoryError::Conflict(conflict),
            AppendError::Invalid(invalid) => RepositoryError::Invalid(invalid),
            AppendError::Store(store) => RepositoryError::Store(store),
        }
    }
}

impl<E: std::error::Error + 'static> RepositoryError<E> {
    /// Re-types an error whose domain part is a different type.
    pub fn map_rejected<F: std::error::Error + 'static>(self, map: impl FnOnce(E) -> F) -> RepositoryError<F> {
        match self {
            RepositoryError::Rejected(error) => RepositoryError::Rejected(map(error)),
            RepositoryError::Conflict(conflict) => RepositoryError::Conflict(conflict),
            RepositoryError::TooManyConflicts(attempts) => RepositoryError::TooManyConflicts(attempts),
            RepositoryError::Invalid(invalid) => RepositoryError::Invalid(invalid),
            RepositoryError::OtherKind { aggregate_id, kind, event_type } => {
                RepositoryError::OtherKind { aggregate_id, kind, event_type }
            }
            RepositoryError::Codec(codec) => RepositoryError::Codec(codec),
            RepositoryError::Read(read) => RepositoryError::Read(read),
            RepositoryError::Store(store) => RepositoryError::Store(store),
        }
    }
}
