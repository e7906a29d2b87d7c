//! What one attempt of a command works with: where it reads its aggregates
//! from ([`Reads`]), the batch it records its events in ([`Batch`]), and
//! what it decided ([`Decision`]). The [`Runner`](crate::Runner) calls an
//! attempt once per try, with the reads that try needs: the caches, the
//! states that the commands before it in a shared append left, or the log's
//! head to confirm a refusal.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::aggregate::Aggregate;
use crate::event::CodecError;
use crate::ids::AggregateId;
use crate::repository::{CommandContext, Loaded, Repository, RepositoryError, Transaction};

/// One attempt of a command, boxed so that every caller's future is `Send`
/// (an `AsyncFn` bound loses that under higher-ranked lifetimes).
pub type AttemptFuture<'a, T, E> = Pin<Box<dyn Future<Output = Result<Decision<T>, RepositoryError<E>>> + Send + 'a>>;

/// What one attempt decided: its result, and what to append for it.
pub struct Decision<T> {
    /// The command's result.
    pub value: T,
    /// `None` when the command changes nothing.
    pub changes: Option<Changes>,
}

impl<T> Decision<T> {
    /// A decision that appends nothing.
    pub fn unchanged(value: T) -> Self {
        Self { value, changes: None }
    }
}

/// The appends of one decision, and the states they lead to (which the
/// next command of a shared append decides on).
pub struct Changes {
    pub(crate) transaction: Transaction,
    pub(crate) states: States,
}

/// States of aggregates after uncommitted events, by id: what a command
/// sharing an append sees in place of the caches. Each value is a
/// `Loaded<A>` of the aggregate's own type.
#[derive(Default)]
pub struct States {
    states: HashMap<AggregateId, Box<dyn Any + Send + Sync>>,
}

impl States {
    fn get<A: Aggregate>(&self, aggregate_id: AggregateId) -> Option<Loaded<A>> {
        self.states.get(&aggregate_id)?.downcast_ref::<Loaded<A>>().cloned()
    }

    fn insert<A: Aggregate>(&mut self, loaded: Loaded<A>) {
        self.states.insert(loaded.aggregate_id, Box::new(loaded));
    }

    /// Takes `other`'s states over, replacing older ones.
    pub(crate) fn extend(&mut self, other: States) {
        self.states.extend(other.states);
    }
}

/// Where an attempt reads its aggregates from.
#[derive(Clone, Copy)]
pub enum Reads<'s> {
    /// The repositories' caches (no I/O on a hit).
    Cached,
    /// The log's head.
    Fresh,
    /// The states the append being filled has reached so far, else the caches.
    Shared(&'s States),
    /// The log's head, each aggregate read at most once per set: confirming
    /// the refusals of a round after it committed.
    Confirming(&'s Refreshed),
}

/// Aggregates already brought up to the log's head in one round.
#[derive(Default)]
pub struct Refreshed {
    ids: Mutex<HashSet<AggregateId>>,
}

impl Refreshed {
    /// Whether `aggregate_id` still needs reading; marks it read.
    fn first_time(&self, aggregate_id: AggregateId) -> bool {
        self.ids.lock().map_or(true, |mut ids| ids.insert(aggregate_id))
    }
}

/// Loads an aggregate as `reads` says.
pub async fn load<A: Aggregate>(
    repository: &Repository<A>,
    aggregate_id: AggregateId,
    reads: Reads<'_>,
) -> Result<Loaded<A>, RepositoryError<A::Error>> {
    match reads {
        Reads::Cached => repository.load(aggregate_id).await,
        Reads::Fresh => repository.refresh(aggregate_id).await,
        Reads::Shared(states) => match states.get::<A>(aggregate_id) {
            Some(loaded) => Ok(loaded),
            None => repository.load(aggregate_id).await,
        },
        Reads::Confirming(refreshed) if refreshed.first_time(aggregate_id) => repository.refresh(aggregate_id).await,
        Reads::Confirming(_) => repository.load(aggregate_id).await,
    }
}

/// A transaction being filled by one attempt, counting events so that a
/// command that changes nothing appends nothing.
pub struct Batch {
    transaction: Transaction,
    events: usize,
    states: States,
}

impl Batch {
    /// An empty batch; its events carry `context`'s metadata.
    pub fn new(context: &CommandContext) -> Self {
        Self { transaction: Transaction::new(context), events: 0, states: States::default() }
    }

    /// Records `events` against `loaded` (none: only asserts its version);
    /// the state after them.
    pub fn add<A: Aggregate>(
        &mut self,
        repository: &Repository<A>,
        loaded: &Loaded<A>,
        events: &[A::Event],
    ) -> Result<Loaded<A>, CodecError> {
        self.events += events.len();
        let after = self.transaction.record(repository, loaded, events)?;
        self.states.insert(after.clone());
        Ok(after)
    }

    /// The decision: append, unless no member has events.
    pub fn finish<T>(self, value: T) -> Decision<T> {
        let changes = (self.events > 0).then_some(Changes { transaction: self.transaction, states: self.states });
        Decision { value, changes }
    }
}
