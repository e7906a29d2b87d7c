//! The in-memory reference backend: the same semantics as every durable
//! backend (it passes the same conformance suite), no durability. For unit
//! tests of pure logic and for the conformance suite's own checks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::ids::{AggregateId, CommandId, Position, Version};
use crate::projection::{Projection, ProjectionError, Rebuildable, StagedGeneration};
use crate::record::RecordedEvent;
use crate::store::{
    AppendError, AppendRequest, Appended, CommandRecord, Commit, EventStore, Snapshot, SnapshotStore, StoreError,
    VersionConflict,
};

#[derive(Default)]
struct Log {
    events: Vec<RecordedEvent>,
    streams: HashMap<AggregateId, Vec<usize>>,
    commands: HashMap<CommandId, CommandRecord>,
}

impl Log {
    fn version(&self, aggregate_id: AggregateId) -> Version {
        Version(self.streams.get(&aggregate_id).map_or(0, |indexes| indexes.len() as u64))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().expect("in-memory backend mutexes are never poisoned: no code panics while holding them")
}

/// An event store in a `Vec`.
pub struct InMemoryEventStore {
    log: Mutex<Log>,
    commits: watch::Sender<Position>,
}

impl Default for InMemoryEventStore {
    fn default() -> Self {
        Self { log: Mutex::new(Log::default()), commits: watch::Sender::new(Position::START) }
    }
}

impl std::fmt::Debug for InMemoryEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryEventStore").field("events", &lock(&self.log).events.len()).finish()
    }
}

impl InMemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl EventStore for InMemoryEventStore {
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        request.validate()?;
        let mut log = lock(&self.log);
        if let Some(first) = request.commands.iter().find_map(|command| log.commands.get(&command.command_id)) {
            return Ok(Appended::AlreadyApplied(first.clone()));
        }
        for stream in &request.streams {
            let actual = log.version(stream.aggregate_id);
            if !stream.expected.admits(actual) {
                return Err(
                    VersionConflict { aggregate_id: stream.aggregate_id, expected: stream.expected, actual }.into()
                );
            }
        }
        let mut versions = Vec::with_capacity(request.streams.len());
        for stream in request.streams {
            let mut version = log.version(stream.aggregate_id);
            for event in stream.events {
                version = version.next();
                let index = log.events.len();
                log.events.push(RecordedEvent {
                    position: Position(index as u64 + 1),
                    aggregate_id: stream.aggregate_id,
                    aggregate_version: version,
                    created: event.created,
                    event_type: event.event_type,
                    data: event.data,
                    event_id: event.event_id,
                    schema_version: event.schema_version,
                    metadata: event.metadata,
                });
                log.streams.entry(stream.aggregate_id).or_default().push(index);
            }
            versions.push((stream.aggregate_id, version));
        }
        for command in request.commands {
            log.commands.insert(command.command_id, command);
        }
        let position = Position(log.events.len() as u64);
        // Published under the lock, so concurrent appends publish in commit
        // order and the signal never steps back to an older position.
        self.commits.send_replace(position);
        drop(log);
        Ok(Appended::Committed(Commit { position: Some(position), versions }))
    }

    async fn load(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = lock(&self.log);
        let Some(indexes) = log.streams.get(&aggregate_id) else {
            return Ok(Vec::new());
        };
        Ok(indexes.iter().skip(after.0 as usize).take(limit as usize).map(|&index| log.events[index].clone()).collect())
    }

    async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = lock(&self.log);
        Ok(log.events.iter().skip(after.0 as usize).take(limit as usize).cloned().collect())
    }

    async fn position_before(&self, time: DateTime<Utc>) -> Result<Position, StoreError> {
        let log = lock(&self.log);
        let first_at_or_after = log.events.iter().position(|event| event.created >= time).unwrap_or(log.events.len());
        Ok(Position(first_at_or_after as u64))
    }

    async fn stored_command(&self, command_id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        Ok(lock(&self.log).commands.get(&command_id).cloned())
    }

    async fn head(&self) -> Result<Position, StoreError> {
        Ok(Position(lock(&self.log).events.len() as u64))
    }

    fn commits(&self) -> watch::Receiver<Position> {
        self.commits.subscribe()
    }
}

/// Snapshots in a map.
#[derive(Debug, Default)]
pub struct InMemorySnapshots {
    snapshots: Mutex<HashMap<(AggregateId, String), Snapshot>>,
}

#[async_trait]
impl SnapshotStore for InMemorySnapshots {
    async fn load_snapshot(&self, aggregate_id: AggregateId, kind: &str) -> Result<Option<Snapshot>, StoreError> {
        Ok(lock(&self.snapshots).get(&(aggregate_id, kind.to_owned())).cloned())
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut snapshots = lock(&self.snapshots);
        let key = (snapshot.aggregate_id, snapshot.kind.clone());
        if snapshots.get(&key).is_none_or(|current| current.version < snapshot.version) {
            snapshots.insert(key, snapshot);
        }
        Ok(())
    }
}

type Fold<S> = dyn Fn(&mut S, &RecordedEvent) -> Result<(), String> + Send + Sync;

struct Generation<S> {
    state: S,
    position: Position,
}

/// A read model held in memory, folded from events by a function. Each
/// event's effect and the checkpoint move together under one lock, so the
/// effect is exactly once; a fold error stops the batch at that event.
pub struct MemoryProjection<S> {
    name: String,
    fold: Arc<Fold<S>>,
    live: Arc<Mutex<Generation<S>>>,
}

impl<S: Default + Send + 'static> MemoryProjection<S> {
    /// A projection called `name` that folds with `fold`.
    pub fn new(
        name: impl Into<String>,
        fold: impl Fn(&mut S, &RecordedEvent) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            fold: Arc::new(fold),
            live: Arc::new(Mutex::new(Generation { state: S::default(), position: Position::START })),
        }
    }

    /// Reads the live state.
    pub fn read<T>(&self, reader: impl FnOnce(&S) -> T) -> T {
        reader(&lock(&self.live).state)
    }
}

fn apply_to<S>(
    name: &str,
    fold: &Fold<S>,
    generation: &Mutex<Generation<S>>,
    after: Position,
    batch: &[RecordedEvent],
) -> Result<(), ProjectionError> {
    let mut generation = lock(generation);
    if generation.position != after {
        return Err(ProjectionError::Moved { name: name.to_owned(), expected: after, actual: generation.position });
    }
    for event in batch {
        fold(&mut generation.state, event).map_err(|reason| ProjectionError::Apply {
            name: name.to_owned(),
            position: event.position,
            reason,
        })?;
        generation.position = event.position;
    }
    Ok(())
}

#[async_trait]
impl<S: Default + Send + 'static> Projection for MemoryProjection<S> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn position(&self) -> Result<Position, ProjectionError> {
        Ok(lock(&self.live).position)
    }

    async fn apply(&self, after: Position, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        apply_to(&self.name, &*self.fold, &self.live, after, batch)
    }
}

#[async_trait]
impl<S: Default + Send + 'static> Rebuildable for MemoryProjection<S> {
    async fn stage(&self) -> Result<Box<dyn StagedGeneration>, ProjectionError> {
        Ok(Box::new(StagedMemory {
            name: format!("{} (rebuild)", self.name),
            fold: Arc::clone(&self.fold),
            staged: Mutex::new(Generation { state: S::default(), position: Position::START }),
            live: Arc::clone(&self.live),
        }))
    }
}

struct StagedMemory<S> {
    name: String,
    fold: Arc<Fold<S>>,
    staged: Mutex<Generation<S>>,
    live: Arc<Mutex<Generation<S>>>,
}

#[async_trait]
impl<S: Default + Send + 'static> Projection for StagedMemory<S> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn position(&self) -> Result<Position, ProjectionError> {
        Ok(lock(&self.staged).position)
    }

    async fn apply(&self, after: Position, batch: &[RecordedEvent]) -> Result<(), ProjectionError> {
        apply_to(&self.name, &*self.fold, &self.staged, after, batch)
    }
}

#[async_trait]
impl<S: Default + Send + 'static> StagedGeneration for StagedMemory<S> {
    async fn promote(self: Box<Self>) -> Result<(), ProjectionError> {
        let staged = self.staged.into_inner().expect("in-memory backend mutexes are never poisoned");
        *lock(&self.live) = staged;
        Ok(())
    }
}
