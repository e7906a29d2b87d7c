//! The crate's one error type, and its conversions at the two boundaries it
//! serves: the bus (`ProjectionError`) and the read side (`QueryError`).
//! Errors are classified by SQLSTATE and by sqlx's variants, never by
//! message text.

use es_core::{AggregateId, Position, ProjectionError, StoreError, Version};
use thiserror::Error;
use ticketing_app::queries::QueryError;

/// What went wrong in a read model on PostgreSQL.
#[derive(Debug, Error)]
pub enum PostgresError {
    /// PostgreSQL could not be reached or refused a statement. Transient
    /// ones ([`PostgresError::is_transient`]) are worth retrying as they
    /// are: the transaction was rolled back, nothing of it was written.
    #[error("postgresql: {0}")]
    Database(#[from] sqlx_core::Error),
    /// The embedded schema could not be brought up to date (a changed
    /// migration, or missing rights to create the tables or pg_trgm).
    /// Do not retry; fix the database or the release.
    #[error("migrating the read models' schema: {0}")]
    Migrate(#[from] sqlx_core::migrate::MigrateError),
    /// A read model cannot apply an event it reads: its data does not
    /// decode, or the event does not fit the rows (the read model is out of
    /// step with the log). Nothing of the batch was written; retrying the
    /// same batch fails the same way. Investigate, then rebuild.
    #[error("read model {sink} cannot apply version {version} of {aggregate_id} (position {position}): {reason}")]
    Apply {
        /// The read model.
        sink: &'static str,
        /// The event's aggregate.
        aggregate_id: AggregateId,
        /// The event's version.
        version: Version,
        /// The event's position in the log.
        position: Position,
        /// What does not fit.
        reason: String,
    },
    /// A stored value does not read back as its view's type (a bug or a
    /// damaged database). Do not retry; investigate.
    #[error("read model holds unreadable data: {0}")]
    Corrupt(String),
    /// The log could not be read while rebuilding. Retry the rebuild.
    #[error("reading the log: {0}")]
    Log(#[from] StoreError),
}

/// SQLSTATE classes after which the same work may succeed: connection
/// exceptions, transaction rollbacks (serialization failures, deadlocks),
/// insufficient resources, operator intervention (a restart).
const TRANSIENT_SQLSTATE_CLASSES: [&str; 4] = ["08", "40", "53", "57"];

impl PostgresError {
    /// Whether the same work may succeed if tried again.
    pub fn is_transient(&self) -> bool {
        match self {
            PostgresError::Database(error) => is_transient(error),
            PostgresError::Log(StoreError::Unavailable(_)) => true,
            _ => false,
        }
    }

    /// Whether the transaction lost to a concurrent one (a deadlock or a
    /// serialization failure), so that running it again at once is right.
    pub(crate) fn is_contention(&self) -> bool {
        let PostgresError::Database(sqlx_core::Error::Database(error)) = self else {
            return false;
        };
        matches!(error.code().as_deref(), Some("40001" | "40P01"))
    }
}

fn is_transient(error: &sqlx_core::Error) -> bool {
    match error {
        sqlx_core::Error::Io(_) | sqlx_core::Error::PoolTimedOut | sqlx_core::Error::WorkerCrashed => true,
        sqlx_core::Error::Database(error) => {
            error.code().is_some_and(|code| TRANSIENT_SQLSTATE_CLASSES.iter().any(|class| code.starts_with(class)))
        }
        _ => false,
    }
}

impl From<PostgresError> for ProjectionError {
    fn from(error: PostgresError) -> Self {
        match error {
            PostgresError::Apply { sink, position, aggregate_id, version, reason } => ProjectionError::Apply {
                name: sink.to_owned(),
                position,
                reason: format!("version {version} of {aggregate_id}: {reason}"),
            },
            PostgresError::Log(error) => ProjectionError::Store(error),
            PostgresError::Corrupt(what) => ProjectionError::Store(StoreError::Corrupt(what)),
            error if error.is_transient() => ProjectionError::Store(StoreError::Unavailable(error.to_string())),
            error => ProjectionError::Store(StoreError::backend(error)),
        }
    }
}

impl From<PostgresError> for QueryError {
    fn from(error: PostgresError) -> Self {
        QueryError::store(error)
    }
}
