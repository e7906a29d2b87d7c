//! The ports every backend implements: the event store itself and
//! snapshots. They speak in serialized records ([`NewEvent`],
//! [`RecordedEvent`]) so that a backend is a small amount of storage code;
//! typing, upcasting, caching and retries live in the kernel.
//!
//! Every port is object safe: the application holds `Arc<dyn EventStore>` and
//! only the composition roots know which backend is behind it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::watch;

use crate::ids::{AggregateId, CommandId, ExpectedVersion, Position, Version};
use crate::limits;
use crate::record::{NewEvent, RecordedEvent};

/// The events for one aggregate within an append.
#[derive(Clone, Debug)]
pub struct StreamAppend {
    /// The aggregate written to.
    pub aggregate_id: AggregateId,
    /// What its current version must be for the append to go through.
    pub expected: ExpectedVersion,
    /// The events, in order. May be empty: the member then only checks the
    /// version (a DynamoDB `ConditionCheck`), for a decision that read an
    /// aggregate without changing it.
    pub events: Vec<NewEvent>,
}

/// The result a command produced, kept with its id so a retry of the same
/// command returns it instead of acting twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// The caller's id for the command.
    pub command_id: CommandId,
    /// The command's result as JSON text, opaque to the log.
    pub result: String,
}

/// One atomic append: every member goes in, or none does.
#[derive(Clone, Debug, Default)]
pub struct AppendRequest {
    /// One entry per aggregate; an aggregate appears at most once.
    pub streams: Vec<StreamAppend>,
    /// The ids and results of the commands this append carries out (one,
    /// or several commands sharing an append), stored in the same
    /// transaction. If any id is already stored, nothing is written and
    /// that id's first result comes back ([`Appended::AlreadyApplied`]).
    pub commands: Vec<CommandRecord>,
}

impl AppendRequest {
    /// An append to a single aggregate.
    pub fn single(aggregate_id: AggregateId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        Self { streams: vec![StreamAppend { aggregate_id, expected, events }], commands: Vec::new() }
    }

    /// Number of events over all members.
    pub fn event_count(&self) -> usize {
        self.streams.iter().map(|stream| stream.events.len()).sum()
    }

    /// Checks the limits and shape that every backend enforces identically.
    /// Backends call it before touching storage, so bad input never leaves
    /// anything half-written.
    pub fn validate(&self) -> Result<(), InvalidAppend> {
        if self.streams.is_empty() || self.event_count() == 0 {
            return Err(InvalidAppend::Empty);
        }
        if self.streams.len() > limits::AGGREGATES_PER_APPEND_MAX {
            return Err(InvalidAppend::TooManyAggregates(self.streams.len()));
        }
        if self.event_count() > limits::EVENTS_PER_APPEND_MAX {
            return Err(InvalidAppend::TooManyEvents(self.event_count()));
        }
        if self.event_count() + self.commands.len() > limits::RECORDS_PER_APPEND_MAX {
            return Err(InvalidAppend::TooManyRecords(self.event_count() + self.commands.len()));
        }
        for (index, command) in self.commands.iter().enumerate() {
            if self.commands[..index].iter().any(|other| other.command_id == command.command_id) {
                return Err(InvalidAppend::RepeatedCommand(command.command_id));
            }
        }
        let data_bytes: usize =
            self.streams.iter().flat_map(|stream| &stream.events).map(|event| event.data.len()).sum();
        for (index, stream) in self.streams.iter().enumerate() {
            if self.streams[..index].iter().any(|other| other.aggregate_id == stream.aggregate_id) {
                return Err(InvalidAppend::RepeatedAggregate(stream.aggregate_id));
            }
            for event in &stream.events {
                validate_event(event)?;
            }
        }
        if data_bytes > limits::APPEND_DATA_BYTES_MAX {
            return Err(InvalidAppend::AppendTooLarge(data_bytes));
        }
        Ok(())
    }
}

fn validate_event(event: &NewEvent) -> Result<(), InvalidAppend> {
    let type_ok = !event.event_type.is_empty()
        && event.event_type.len() <= limits::EVENT_TYPE_BYTES_MAX
        && event.event_type.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"._-:".contains(&byte));
    if !type_ok {
        return Err(InvalidAppend::EventType(event.event_type.clone()));
    }
    if event.schema_version == 0 {
        return Err(InvalidAppend::SchemaVersion(event.event_type.clone()));
    }
    if event.data.len() > limits::EVENT_DATA_BYTES_MAX {
        return Err(InvalidAppend::DataTooLarge(event.data.len()));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(&event.data).is_err() {
        return Err(InvalidAppend::DataNotJson(event.event_type.clone()));
    }
    Ok(())
}

/// What a successful append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// The events were committed.
    Committed(Commit),
    /// A command id of the request was already stored: nothing was written,
    /// and this is that command's record from its first execution (with
    /// several commands, its id says which one).
    AlreadyApplied(CommandRecord),
}

/// Where a committed append landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Position of the last event written, on a backend that assigns
    /// positions at commit ([`LogOrder::AtCommit`]): a reader that has passed
    /// it sees the whole append. `None` where positions come after the
    /// commit ([`LogOrder::AfterCommit`]); read-your-writes then waits for
    /// the versions instead.
    pub position: Option<Position>,
    /// The new version of every member, in request order.
    pub versions: Vec<(AggregateId, Version)>,
}

/// An append that went nowhere.
#[derive(Debug, Error)]
pub enum AppendError {
    /// An aggregate was not at the expected version. Nothing was written.
    /// Handle by reloading and deciding again (the repository does).
    #[error(transparent)]
    Conflict(#[from] VersionConflict),
    /// The request breaks a limit or is malformed. Nothing was written.
    /// A programmer or input error: do not retry.
    #[error(transparent)]
    Invalid(#[from] InvalidAppend),
    /// The backend failed. Whether anything was written is unknown only if
    /// the error says so; retry with the same command id to find out safely.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The optimistic-concurrency check failed for one member of an append.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("aggregate {aggregate_id} expected {expected}, but it is at version {actual}")]
pub struct VersionConflict {
    /// The aggregate whose version did not match.
    pub aggregate_id: AggregateId,
    /// What the append expected.
    pub expected: ExpectedVersion,
    /// What the log holds. Every backend reports it (DynamoDB through
    /// `ReturnValuesOnConditionCheckFailure`); the conformance suite checks.
    pub actual: Version,
}

/// Why an append request was refused before anything was written.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InvalidAppend {
    /// No events in the request.
    #[error("an append needs at least one event")]
    Empty,
    /// More aggregates than [`limits::AGGREGATES_PER_APPEND_MAX`].
    #[error("an append may touch at most {max} aggregates, not {0}", max = limits::AGGREGATES_PER_APPEND_MAX)]
    TooManyAggregates(usize),
    /// More events than [`limits::EVENTS_PER_APPEND_MAX`].
    #[error("an append may carry at most {max} events, not {0}", max = limits::EVENTS_PER_APPEND_MAX)]
    TooManyEvents(usize),
    /// More events and command records than [`limits::RECORDS_PER_APPEND_MAX`].
    #[error("an append may write at most {max} events and command records, not {0}", max = limits::RECORDS_PER_APPEND_MAX)]
    TooManyRecords(usize),
    /// One command id appears twice in one request.
    #[error("command {0} appears more than once in one append")]
    RepeatedCommand(CommandId),
    /// One aggregate appears twice in one request.
    #[error("aggregate {0} appears more than once in one append")]
    RepeatedAggregate(AggregateId),
    /// Empty, overlong or oddly spelled event type.
    #[error("event type {0:?} is not a valid name")]
    EventType(String),
    /// Schema versions start at 1.
    #[error("event type {0:?} has schema version 0")]
    SchemaVersion(String),
    /// `Data` over [`limits::EVENT_DATA_BYTES_MAX`].
    #[error("event data of {0} bytes is over the limit of {max} bytes", max = limits::EVENT_DATA_BYTES_MAX)]
    DataTooLarge(usize),
    /// The events' `Data` together over [`limits::APPEND_DATA_BYTES_MAX`].
    #[error("an append may carry at most {max} bytes of event data, not {0}", max = limits::APPEND_DATA_BYTES_MAX)]
    AppendTooLarge(usize),
    /// One stored record (data, metadata and the backend's own attributes)
    /// over what the backend can hold in one item (DynamoDB: 400 KB).
    #[error("a stored event of {bytes} bytes is over this backend's limit of {max} bytes")]
    RecordTooLarge {
        /// The record's size as the backend counts it.
        bytes: usize,
        /// The backend's limit.
        max: usize,
    },
    /// `Data` must be JSON text.
    #[error("data of event type {0:?} is not JSON")]
    DataNotJson(String),
}

/// A backend failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backend cannot be reached or is shutting down. Retry later.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back (a bug or a damaged store).
    /// Do not retry; investigate.
    #[error("event store holds unreadable data: {0}")]
    Corrupt(String),
    /// Any other backend error.
    #[error("event store failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

/// When a backend gives committed events their place in the whole log, which
/// decides what [`EventStore::read_all`], [`EventStore::head`] and
/// [`EventStore::commits`] promise right after an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogOrder {
    /// In the commit itself (one writer, as SQLite): an acknowledged append
    /// is in `read_all` at once, and [`Commit::position`] is known.
    AtCommit,
    /// After the commit, by an indexer that reads what was committed (the
    /// DynamoDB log, where appends to different aggregates share no item):
    /// `read_all` shows an acknowledged append once the indexer has passed
    /// it, in the commit order of each aggregate. Per-aggregate reads
    /// ([`EventStore::load`]) are exact at once; positions of events read
    /// that way are [`Position::START`] (not assigned yet, or not looked up).
    AfterCommit,
}

/// The event log's storage port.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// When this backend assigns positions: [`LogOrder::AtCommit`] unless it
    /// says otherwise.
    fn log_order(&self) -> LogOrder {
        LogOrder::AtCommit
    }

    /// Appends atomically with optimistic concurrency on every member.
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError>;

    /// Events of one aggregate with a version above `after`, in version
    /// order: exactly `limit` (≤ [`limits::READ_PAGE_MAX`]) while that many
    /// remain — a short page means the end of the stream. A backend whose
    /// reads stop early (DynamoDB's 1 MB pages) keeps reading to fill it.
    async fn load(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events of the whole log after `after`, in commit order: exactly
    /// `limit` (≤ [`limits::READ_PAGE_MAX`]) while that many remain, and
    /// only positions above `after`. Never skips an event that commits
    /// later with a lower position. (On a [`LogOrder::AfterCommit`] backend:
    /// the events positioned so far.)
    async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The position of the last event created before `time`, so that reading
    /// after it starts at the first event created at or after `time`.
    async fn position_before(&self, time: chrono::DateTime<chrono::Utc>) -> Result<Position, StoreError>;

    /// The stored result of a command id, if that command was committed.
    async fn stored_command(&self, command_id: CommandId) -> Result<Option<CommandRecord>, StoreError>;

    /// The last committed position (on a [`LogOrder::AfterCommit`] backend:
    /// the last one assigned).
    async fn head(&self) -> Result<Position, StoreError>;

    /// A receiver that changes whenever this process commits (or, on a
    /// [`LogOrder::AfterCommit`] backend, sees positions assigned), holding
    /// the newest position: subscribers sleep on it instead of polling.
    fn commits(&self) -> watch::Receiver<Position>;
}

/// A serialized aggregate state at a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The aggregate.
    pub aggregate_id: AggregateId,
    /// The aggregate's kind, so different types never read each other's state.
    pub kind: String,
    /// The version the state includes.
    pub version: Version,
    /// The state's shape; a snapshot whose shape differs from the code's is
    /// ignored, which invalidates every snapshot when the state type changes.
    pub shape_version: u32,
    /// The state as JSON text.
    pub state: String,
}

/// Storage for snapshots. A snapshot is a cache: losing one costs a longer
/// load, never a wrong answer.
#[async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// The latest snapshot of the aggregate, if any.
    async fn load_snapshot(&self, aggregate_id: AggregateId, kind: &str) -> Result<Option<Snapshot>, StoreError>;
    /// Stores a snapshot, replacing an older one; a snapshot older than the
    /// stored one (saved late) is ignored.
    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError>;
}
