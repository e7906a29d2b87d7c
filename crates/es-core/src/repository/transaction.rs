//! One atomic append over several aggregates, possibly of different types: the members are recorded against the
//! states they were decided on, appended together, and each repository's cache moves forward only after the
//! commit.

use serde::Serialize;

use super::{CommandContext, Loaded, Repository, RepositoryError};
use crate::aggregate::Aggregate;
use crate::event::CodecError;
use crate::ids::{AggregateId, ExpectedVersion, Version};
use crate::limits;
use crate::log::EventLog;
use crate::store::{AppendError, AppendRequest, Appended, CommandRecord, StreamAppend, VersionConflict};

type AfterCommit = Box<dyn FnOnce(bool) + Send>;

/// One atomic append over several aggregates, possibly of different types.
/// Record each member's events against the state they were decided on, then
/// commit: on success every repository's cache moves forward, on a conflict
/// the conflicting aggregate is refreshed on its next load.
pub struct Transaction {
    context: CommandContext,
    streams: Vec<StreamAppend>,
    /// The ids and results of the commands carried out (several when
    /// commands share the append).
    commands: Vec<CommandRecord>,
    after_commit: Vec<(AggregateId, AfterCommit)>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").field("context", &self.context).field("streams", &self.streams).finish()
    }
}

impl Transaction {
    /// An empty transaction for a command.
    pub fn new(context: &CommandContext) -> Self {
        Self { context: context.clone(), streams: Vec::new(), commands: Vec::new(), after_commit: Vec::new() }
    }

    /// Adds `events` for the aggregate `loaded`, expecting its version to be
    /// unchanged at commit. Returns the state after the events. With no
    /// events the member only asserts the version.
    pub fn record<A: Aggregate>(
        &mut self,
        repository: &Repository<A>,
        loaded: &Loaded<A>,
        events: &[A::Event],
    ) -> Result<Loaded<A>, CodecError> {
        let log = &repository.inner.log;
        let encoded =
            events.iter().map(|event| log.encode(event, &self.context.metadata)).collect::<Result<Vec<_>, _>>()?;
        let mut after = loaded.clone();
        for event in events {
            after.state.evolve(event);
            after.version = after.version.next();
        }
        self.streams.push(StreamAppend {
            aggregate_id: loaded.aggregate_id,
            expected: loaded.expected(),
            events: encoded,
        });
        let repository = repository.clone();
        let committed_state = after.clone();
        let aggregate_id = loaded.aggregate_id;
        let unchanged = events.is_empty();
        self.after_commit.push((
            aggregate_id,
            Box::new(move |succeeded| match (succeeded, unchanged) {
                (true, false) => repository.committed(committed_state),
                (true, true) => {}
                (false, _) => repository.mark_stale(aggregate_id),
            }),
        ));
        Ok(after)
    }

    /// Aggregates this transaction appends to or checks.
    pub fn aggregates(&self) -> usize {
        self.streams.len()
    }

    /// The ids of the aggregates this transaction appends to or checks.
    pub fn aggregate_ids(&self) -> Vec<AggregateId> {
        self.streams.iter().map(|stream| stream.aggregate_id).collect()
    }

    /// Events this transaction appends.
    pub fn events(&self) -> usize {
        self.streams.iter().map(|stream| stream.events.len()).sum()
    }

    /// Bytes of event data this transaction appends.
    pub fn data_bytes(&self) -> usize {
        self.streams.iter().flat_map(|stream| &stream.events).map(|event| event.data.len()).sum()
    }

    /// Stores `record` (a command's id and result) in the same append.
    pub(crate) fn carry(&mut self, record: CommandRecord) {
        self.commands.push(record);
    }

    /// Whether this transaction and `other` would still fit in one append
    /// together (the kernel's limits on aggregates, events, records and
    /// bytes).
    pub fn fits_with(&self, other: &Transaction) -> bool {
        let shared = other.streams.iter().filter(|stream| self.position_of(stream.aggregate_id).is_some()).count();
        let events = self.events() + other.events();
        self.aggregates() + other.aggregates() - shared <= limits::AGGREGATES_PER_APPEND_MAX
            && events <= limits::EVENTS_PER_APPEND_MAX
            && events + self.commands.len() + other.commands.len() <= limits::RECORDS_PER_APPEND_MAX
            && self.data_bytes() + other.data_bytes() <= limits::APPEND_DATA_BYTES_MAX
    }

    /// Takes every member of `other` in after this transaction's own, so
    /// that commands decided one after the other commit as one append (all
    /// or nothing, as one command would). A member for an aggregate already
    /// here must continue where this transaction leaves it — it was decided
    /// on the state after this transaction's events — and its events are
    /// joined to the existing member's. Anything else is refused as the
    /// conflict it would be at commit, and `self` is left unchanged.
    pub fn absorb(&mut self, other: Transaction) -> Result<(), VersionConflict> {
        for stream in &other.streams {
            if let Some(index) = self.position_of(stream.aggregate_id) {
                let existing = &self.streams[index];
                let continues_at = match existing.expected {
                    ExpectedVersion::Exact(version) => Some(Version(version.0 + existing.events.len() as u64)),
                    _ => None,
                };
                if continues_at.map(ExpectedVersion::Exact) != Some(stream.expected) {
                    return Err(VersionConflict {
                        aggregate_id: stream.aggregate_id,
                        expected: stream.expected,
                        actual: continues_at.unwrap_or_default(),
                    });
                }
            }
        }
        for stream in other.streams {
            match self.position_of(stream.aggregate_id) {
                Some(index) => self.streams[index].events.extend(stream.events),
                None => self.streams.push(stream),
            }
        }
        self.commands.extend(other.commands);
        self.after_commit.extend(other.after_commit);
        Ok(())
    }

    fn position_of(&self, aggregate_id: AggregateId) -> Option<usize> {
        self.streams.iter().position(|stream| stream.aggregate_id == aggregate_id)
    }

    /// Appends every member atomically. `result` is what an idempotent retry
    /// of this command will get back.
    pub async fn commit<E: std::error::Error + 'static>(
        mut self,
        log: &EventLog,
        result: &impl Serialize,
    ) -> Result<Appended, RepositoryError<E>> {
        if let Some(command_id) = self.context.command_id {
            let result = serde_json::to_string(result)
                .map_err(|source| CodecError::Json { event_type: "command result".to_owned(), source })?;
            self.carry(CommandRecord { command_id, result });
        }
        self.append(log).await
    }

    /// Appends every member atomically, with the command records it carries.
    pub(crate) async fn append<E: std::error::Error + 'static>(
        self,
        log: &EventLog,
    ) -> Result<Appended, RepositoryError<E>> {
        let request = AppendRequest { streams: self.streams, commands: self.commands };
        match log.append(request).await {
            Ok(Appended::Committed(commit)) => {
                for (_, update) in self.after_commit {
                    update(true);
                }
                Ok(Appended::Committed(commit))
            }
            Ok(already) => Ok(already),
            Err(AppendError::Conflict(conflict)) => {
                for (aggregate_id, update) in self.after_commit {
                    if aggregate_id == conflict.aggregate_id {
                        update(false);
                    }
                }
                Err(RepositoryError::Conflict(conflict))
            }
            Err(other) => {
                // Unknown outcome: every member reads the log on its next load.
                for (_, update) in self.after_commit {
                    update(false);
                }
                Err(other.into())
            }
        }
    }
}
