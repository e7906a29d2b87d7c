//! Loading aggregates, deciding, and appending with the expected version.
//!
//! Command latency must not grow with stream length. A [`Repository`] keeps
//! a version-checked cache of aggregate states: a cached state is used
//! without reading the log at all, and the expected version on the append
//! tells whether it was stale (another process wrote meanwhile). On a
//! conflict the entry is refreshed by reading only the events after the
//! cached version, and the command is decided again, a bounded number of
//! times. Snapshots bound the cost of a cold load.
//!
//! Within one process, commands on the same aggregate take turns
//! ([`Turns`]): a hot aggregate then costs one commit per command instead of
//! a storm of conflicts. The expected version still guards against every
//! other process.
//!
//! Rules that span aggregates use a [`Transaction`]: members from several
//! repositories, one atomic append, every cache updated after the commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::aggregate::Aggregate;
use crate::decide::{Batch, Decision, load};
use crate::event::{CodecError, DomainEvent};
use crate::ids::{AggregateId, CommandId, ExpectedVersion, Version};
use crate::limits;
use crate::log::EventLog;
use crate::record::Metadata;
use crate::runner::{Command, Receipt, Runner};
use crate::store::{CommandRecord, Commit, Snapshot, SnapshotStore, StoreError};
use crate::turns::Turns;

mod error;
mod transaction;

pub use error::RepositoryError;
pub use transaction::Transaction;

/// Who runs a command, and under which id.
#[derive(Clone, Debug, Default)]
pub struct CommandContext {
    /// Makes the command idempotent: a retry with the same id returns the
    /// first result instead of acting twice.
    pub command_id: Option<CommandId>,
    /// Stamped on every event the command causes.
    pub metadata: Metadata,
}

/// An aggregate state at a version.
#[derive(Clone, Debug)]
pub struct Loaded<A> {
    /// Which aggregate.
    pub aggregate_id: AggregateId,
    /// The version `state` includes (0: no events yet).
    pub version: Version,
    /// The folded state.
    pub state: A,
}

impl<A> Loaded<A> {
    /// Whether the aggregate has no events yet.
    pub fn is_new(&self) -> bool {
        self.version == Version::INITIAL
    }

    /// The expected version for an append decided on this state.
    pub fn expected(&self) -> ExpectedVersion {
        ExpectedVersion::Exact(self.version)
    }
}

/// What executing a command did.
#[derive(Clone, Debug)]
pub enum Executed<A: Aggregate> {
    /// The command's events were committed.
    Committed {
        /// Where they landed.
        commit: Commit,
        /// The events.
        events: Vec<A::Event>,
        /// The state after them.
        after: Loaded<A>,
    },
    /// The command id had been executed before; this is its first result.
    AlreadyApplied(CommandRecord),
    /// The command was accepted but changes nothing (an idempotent domain
    /// operation): nothing was appended.
    Unchanged(Loaded<A>),
}

/// The pause before deciding again after the `number`th conflict in a row:
/// random below a ceiling that doubles per conflict ("full jitter"). Within
/// one process commands on an aggregate take turns and rarely conflict; the
/// pause is for writers in different processes (Lambda functions on
/// DynamoDB), which would otherwise collide again in lock step, the faster
/// one starving the other.
pub fn conflict_backoff(number: u32) -> std::time::Duration {
    let ceiling = (limits::CONFLICT_BACKOFF_BASE_MICROS << number.min(16)).min(limits::CONFLICT_BACKOFF_MAX_MICROS);
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    std::time::Duration::from_micros(random % ceiling.max(1))
}

struct CacheEntry<A> {
    loaded: Loaded<A>,
    snapshot_version: Version,
    /// Set after a conflict or an unknown outcome: the log may hold events
    /// beyond `loaded`, so the next load reads them (and only them).
    stale: bool,
}

struct Inner<A> {
    log: EventLog,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    cache: Mutex<HashMap<AggregateId, CacheEntry<A>>>,
    turns: Arc<Turns>,
}

impl<A> Inner<A> {
    fn new(log: EventLog, snapshots: Option<Arc<dyn SnapshotStore>>, turns: Arc<Turns>) -> Self {
        Self { log, snapshots, cache: Mutex::new(HashMap::new()), turns }
    }
}

/// Loads and saves aggregates of one type. Cheap to clone; clones share the
/// cache.
pub struct Repository<A: Aggregate> {
    inner: Arc<Inner<A>>,
}

impl<A: Aggregate> Clone for Repository<A> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<A: Aggregate> Repository<A> {
    /// A repository over `log`, without snapshots, with turns of its own.
    pub fn new(log: EventLog) -> Self {
        Self::with_options(log, None, Arc::new(Turns::new()))
    }

    /// A repository that also keeps snapshots every
    /// [`limits::SNAPSHOT_EVERY_EVENTS`] events.
    pub fn with_snapshots(log: EventLog, snapshots: Arc<dyn SnapshotStore>) -> Self {
        Self::with_options(log, Some(snapshots), Arc::new(Turns::new()))
    }

    /// A repository with snapshots if given, taking turns on `turns` (share
    /// one [`Turns`] among every repository and handler of a process).
    pub fn with_options(log: EventLog, snapshots: Option<Arc<dyn SnapshotStore>>, turns: Arc<Turns>) -> Self {
        Self { inner: Arc::new(Inner::new(log, snapshots, turns)) }
    }

    /// The log this repository writes to.
    pub fn log(&self) -> &EventLog {
        &self.inner.log
    }

    /// The aggregate's current state as far as this process knows: from the
    /// cache without any I/O, else from a snapshot plus the events after it.
    pub async fn load(&self, aggregate_id: AggregateId) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        if let Some(entry) = self.cache().get(&aggregate_id)
            && !entry.stale
        {
            return Ok(entry.loaded.clone());
        }
        self.refresh(aggregate_id).await
    }

    /// The state of an aggregate whose id was minted a moment ago (a random
    /// UUID), which therefore has no events: nothing is read. Were it to
    /// have events after all, the append's expected version (none yet)
    /// would refuse the command as a conflict.
    pub fn new_aggregate(&self, aggregate_id: AggregateId) -> Loaded<A> {
        Loaded { aggregate_id, version: Version::INITIAL, state: A::default() }
    }

    /// The aggregate's state brought up to the log's head: the cached state
    /// (or a snapshot) plus whatever events came after it.
    pub async fn refresh(&self, aggregate_id: AggregateId) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        let cached = self.cache().get(&aggregate_id).map(|entry| (entry.loaded.clone(), entry.snapshot_version));
        let (mut loaded, snapshot_version) = match cached {
            Some(cached) => cached,
            None => self.load_snapshot(aggregate_id).await?,
        };
        for record in self.inner.log.load(aggregate_id, loaded.version).await? {
            let event = match A::Event::from_record(&record) {
                Ok(event) => event,
                // Ids reach the log from outside (a path, a body): one may
                // name another kind's stream. A type unknown later in a
                // stream is a real decoding failure.
                Err(CodecError::UnknownType(event_type)) if record.aggregate_version == Version(1) => {
                    return Err(RepositoryError::OtherKind { aggregate_id, kind: A::KIND, event_type });
                }
                Err(error) => return Err(error.into()),
            };
            loaded.state.evolve(&event);
            loaded.version = record.aggregate_version;
        }
        self.remember(loaded.clone(), snapshot_version);
        Ok(loaded)
    }

    async fn load_snapshot(
        &self,
        aggregate_id: AggregateId,
    ) -> Result<(Loaded<A>, Version), RepositoryError<A::Error>> {
        let empty = Loaded { aggregate_id, version: Version::INITIAL, state: A::default() };
        let Some(store) = &self.inner.snapshots else {
            return Ok((empty, Version::INITIAL));
        };
        let Some(snapshot) = store.load_snapshot(aggregate_id, A::KIND).await? else {
            return Ok((empty, Version::INITIAL));
        };
        if snapshot.shape_version != A::SHAPE_VERSION {
            return Ok((empty, Version::INITIAL));
        }
        match serde_json::from_str::<A>(&snapshot.state) {
            Ok(state) => Ok((Loaded { aggregate_id, version: snapshot.version, state }, snapshot.version)),
            Err(error) => {
                tracing::warn!(%aggregate_id, kind = A::KIND, %error, "ignoring an unreadable snapshot");
                Ok((empty, Version::INITIAL))
            }
        }
    }

    /// Decides `command` on the aggregate and appends the result, deciding
    /// again after a version conflict: a command of one aggregate, run alone
    /// by the kernel's [`Runner`].
    pub async fn execute(
        &self,
        aggregate_id: AggregateId,
        command: A::Command,
        context: &CommandContext,
    ) -> Result<Executed<A>, RepositoryError<A::Error>>
    where
        A::Command: 'static,
    {
        let runner = Runner::<Self, A::Error, Shared<A::Error>>::new(self.log().clone(), Arc::clone(&self.inner.turns));
        let mut plan = Command::new(vec![aggregate_id]);
        if let Some(command_id) = context.command_id {
            plan = plan.with_receipt(Receipt {
                command_id,
                encode: Box::new(move |decided: &Decided<A>| {
                    let version = match decided {
                        Decided::Committed { after, .. } => after.version,
                        Decided::Unchanged(loaded) => loaded.version,
                        Decided::Repeat(_) => Version::INITIAL,
                    };
                    serde_json::to_string(&CommandResult { aggregate_id, version })
                        .map_err(|source| CodecError::Json { event_type: "command result".to_owned(), source })
                }),
                decode: Arc::new(|record| Ok(Decided::Repeat(record.clone()))),
            });
        }
        let (command, context) = (Arc::new(command), Arc::new(context.clone()));
        let running = runner.run(self, plan, move |repository, reads| {
            let (command, context) = (Arc::clone(&command), Arc::clone(&context));
            Box::pin(async move {
                let loaded = load(repository, aggregate_id, reads).await?;
                let events = loaded.state.decide(&command).map_err(RepositoryError::Rejected)?;
                if events.is_empty() {
                    return Ok(Decision::unchanged(Decided::Unchanged(loaded)));
                }
                let mut batch = Batch::new(&context);
                let after = batch.add(repository, &loaded, &events)?;
                Ok(batch.finish(Decided::Committed { events, after }))
            })
        });
        let outcome = running.await.map_err(Shared::into_inner)?;
        Ok(match outcome {
            (Decided::Committed { events, after }, Some(commit)) => Executed::Committed { commit, events, after },
            (Decided::Committed { after, .. } | Decided::Unchanged(after), _) => Executed::Unchanged(after),
            (Decided::Repeat(record), _) => Executed::AlreadyApplied(record),
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<AggregateId, CacheEntry<A>>> {
        self.inner.cache.lock().expect("cache mutex is never poisoned: no code panics while holding it")
    }

    fn remember(&self, loaded: Loaded<A>, snapshot_version: Version) {
        let mut cache = self.cache();
        if let Some(current) = cache.get(&loaded.aggregate_id)
            && current.loaded.version > loaded.version
            && !current.stale
        {
            return;
        }
        if cache.len() >= limits::CACHED_AGGREGATES_MAX
            && !cache.contains_key(&loaded.aggregate_id)
            && let Some(victim) = cache.keys().next().copied()
        {
            cache.remove(&victim);
        }
        cache.insert(loaded.aggregate_id, CacheEntry { loaded, snapshot_version, stale: false });
    }

    fn mark_stale(&self, aggregate_id: AggregateId) {
        if let Some(entry) = self.cache().get_mut(&aggregate_id) {
            entry.stale = true;
        }
    }

    fn committed(&self, loaded: Loaded<A>) {
        let snapshot_version =
            self.cache().get(&loaded.aggregate_id).map_or(Version::INITIAL, |entry| entry.snapshot_version);
        let due = loaded.version.0.saturating_sub(snapshot_version.0) >= limits::SNAPSHOT_EVERY_EVENTS;
        match (&self.inner.snapshots, due) {
            (Some(store), true) => {
                self.save_snapshot(Arc::clone(store), &loaded);
                let version = loaded.version;
                self.remember(loaded, version);
            }
            _ => self.remember(loaded, snapshot_version),
        }
    }

    fn save_snapshot(&self, store: Arc<dyn SnapshotStore>, loaded: &Loaded<A>) {
        let state = match serde_json::to_string(&loaded.state) {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(kind = A::KIND, %error, "cannot serialize a snapshot");
                return;
            }
        };
        let snapshot = Snapshot {
            aggregate_id: loaded.aggregate_id,
            kind: A::KIND.to_owned(),
            version: loaded.version,
            shape_version: A::SHAPE_VERSION,
            state,
        };
        // A snapshot is a cache: writing it must not delay the command.
        tokio::spawn(async move {
            if let Err(error) = store.save_snapshot(snapshot).await {
                tracing::warn!(%error, "cannot save a snapshot");
            }
        });
    }
}

/// What one attempt of [`Repository::execute`] decided.
enum Decided<A: Aggregate> {
    Committed {
        events: Vec<A::Event>,
        after: Loaded<A>,
    },
    Unchanged(Loaded<A>),
    /// A repeated command id, with its first result.
    Repeat(CommandRecord),
}

/// A repository error shared by the commands of one failed append (the
/// runner hands each a clone); [`Repository::execute`] runs alone, so the
/// error comes back whole.
struct Shared<E: std::error::Error + 'static>(Arc<RepositoryError<E>>);

impl<E: std::error::Error + 'static> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<E: std::error::Error + 'static> From<RepositoryError<E>> for Shared<E> {
    fn from(error: RepositoryError<E>) -> Self {
        Self(Arc::new(error))
    }
}

impl<E: std::error::Error + 'static> Shared<E> {
    fn into_inner(self) -> RepositoryError<E> {
        Arc::try_unwrap(self.0)
            .unwrap_or_else(|shared| RepositoryError::Store(StoreError::Backend(shared.to_string().into())))
    }
}

/// The default result remembered for an idempotent single-aggregate command.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CommandResult {
    aggregate_id: AggregateId,
    version: Version,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conflict_backoff_grows_with_each_conflict_and_stays_under_its_cap() {
        let longest = |number| (0..200).map(|_| conflict_backoff(number)).max().unwrap_or_default();
        let cap = std::time::Duration::from_micros(limits::CONFLICT_BACKOFF_MAX_MICROS);
        assert!(longest(1) < std::time::Duration::from_micros(2 * limits::CONFLICT_BACKOFF_BASE_MICROS));
        assert!(longest(4) > longest(1), "the ceiling doubles per conflict");
        for number in [8, 16, 40, u32::MAX] {
            assert!(longest(number) < cap, "never above the cap");
        }
    }
}
