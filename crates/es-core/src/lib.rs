//! # es-core: the event-sourcing kernel
//!
//! Knows nothing of tickets. It defines the event record of the log (the
//! seed's five attributes plus id, schema version and metadata), the ports
//! every backend implements ([`EventStore`], [`SnapshotStore`]), pure
//! aggregates with a caching, retrying [`Repository`], subscriptions that
//! follow the log live, and projections with compare-and-set checkpoints
//! that can be rebuilt beside the live one.
//!
//! The guarantees, and where each is kept:
//! 1. an append never overwrites — every member carries an
//!    [`ExpectedVersion`]; a mismatch is a typed [`VersionConflict`] and
//!    nothing is written ([`EventStore::append`]);
//! 2. every committed event reaches every consumer, in order per aggregate,
//!    at least once, replayable ([`Subscription`], [`ProjectionRunner`]);
//! 3. every read model is a pure function of the log, idempotent and
//!    rebuildable ([`Projection`], [`rebuild`]).

mod aggregate;
mod clock;
mod decide;
mod event;
mod ids;
pub mod limits;
mod log;
pub mod memory;
mod projection;
mod record;
mod repository;
mod runner;
mod store;
mod subscription;
mod tail;
mod turns;

pub use aggregate::Aggregate;
pub use clock::{Clock, ManualClock, SystemClock};
pub use decide::{AttemptFuture, Batch, Changes, Decision, Reads, Refreshed, States, load};
pub use event::{CodecError, DomainEvent, UpcastError, Upcasters, decode_adjacent, encode_adjacent};
pub use ids::{AggregateId, CommandId, CorrelationId, EventId, ExpectedVersion, Position, Version};
pub use log::{EventLog, ReadError};
pub use projection::{
    Projection, ProjectionError, ProjectionRunner, ProjectionStatus, Rebuildable, StagedGeneration, lowest_position,
    rebuild,
};
pub use record::{Metadata, NewEvent, RecordedEvent, format_created, parse_created, truncate_to_millis};
pub use repository::{CommandContext, Executed, Loaded, Repository, RepositoryError, Transaction, conflict_backoff};
pub use runner::{APPEND_DURATION, COMMAND_CONFLICTS, Command, Decode, Encode, ROUND_COMMANDS, Receipt, Runner};
pub use store::{
    AppendError, AppendRequest, Appended, CommandRecord, Commit, EventStore, InvalidAppend, LogOrder, Snapshot,
    SnapshotStore, StoreError, StreamAppend, VersionConflict,
};
pub use subscription::{StartFrom, Subscription};
pub use turns::Turns;

// Re-exported so that backends and tests name the same versions.
pub use async_trait::async_trait;
pub use tokio_util::sync::CancellationToken;

/// What [`uuid_newtype!`] expands to refers to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use uuid::{self, Uuid};
}
