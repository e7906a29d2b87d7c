//! The [`Shop`]: the ports the command handlers need (the log, one
//! repository per aggregate, a clock, a source of ticket codes) and the one
//! loop every handler runs in: answer a repeated command id from the log,
//! take the turns of the aggregates involved, decide on cached states,
//! confirm a refusal on fresh ones, commit atomically, and decide again after
//! a version conflict.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use es_core::{
    Aggregate, AggregateId, Appended, Clock, CommandContext, EventLog, Loaded, Repository, RepositoryError,
    SnapshotStore, Transaction, Turns, retry_on_conflict,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ticketing::{Bucket, Cart, Concert, Order, RefusalKind, Venue};

use crate::codes::TicketCodes;
use crate::error::{AppError, AttemptError, Refusal, Refused, refused};
use crate::idempotency::{first_result, stored};
use crate::lanes::Lanes;

/// The application's command side: every handler is a method. Cheap to
/// share behind an `Arc`; the repositories' caches live inside.
pub struct Shop {
    log: EventLog,
    venues: Repository<Venue>,
    concerts: Repository<Concert>,
    buckets: Repository<Bucket>,
    carts: Repository<Cart>,
    orders: Repository<Order>,
    /// How many buckets a concert is published with (0: none).
    buckets_per_concert: u16,
    clock: Arc<dyn Clock>,
    codes: Arc<dyn TicketCodes>,
    turns: Arc<Turns>,
    /// Commands waiting to share an append, by lead aggregate.
    lanes: Arc<Lanes>,
}

impl Clone for Shop {
    /// Another handle on the same shop: the repositories, caches, turns and
    /// lanes are shared.
    fn clone(&self) -> Self {
        Self {
            log: self.log.clone(),
            venues: self.venues.clone(),
            concerts: self.concerts.clone(),
            buckets: self.buckets.clone(),
            carts: self.carts.clone(),
            orders: self.orders.clone(),
            buckets_per_concert: self.buckets_per_concert,
            clock: Arc::clone(&self.clock),
            codes: Arc::clone(&self.codes),
            turns: Arc::clone(&self.turns),
            lanes: Arc::clone(&self.lanes),
        }
    }
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop").field("log", &self.log).finish_non_exhaustive()
    }
}

impl Shop {
    /// A shop over `log`, keeping snapshots in `snapshots` if given, reading
    /// `now` from `clock` and drawing ticket codes from `codes`.
    pub fn new(
        log: EventLog,
        snapshots: Option<Arc<dyn SnapshotStore>>,
        clock: Arc<dyn Clock>,
        codes: Arc<dyn TicketCodes>,
    ) -> Self {
        // One set of turns for the whole shop: handlers and repositories wait
        // for each other on the same aggregate.
        let turns = Arc::new(Turns::new());
        fn repository<A: Aggregate>(
            log: &EventLog,
            snapshots: &Option<Arc<dyn SnapshotStore>>,
            turns: &Arc<Turns>,
        ) -> Repository<A> {
            Repository::with_options(log.clone(), snapshots.clone(), Arc::clone(turns))
        }
        Self {
            venues: repository(&log, &snapshots, &turns),
            concerts: repository(&log, &snapshots, &turns),
            buckets: repository(&log, &snapshots, &turns),
            carts: repository(&log, &snapshots, &turns),
            orders: repository(&log, &snapshots, &turns),
            buckets_per_concert: 0,
            log,
            clock,
            codes,
            turns,
            lanes: Arc::new(Lanes::default()),
        }
    }

    /// The same shop, publishing each concert with `buckets` buckets
    /// (at most [`ticketing::limits::BUCKETS_PER_CONCERT_MAX`]): buyers in
    /// different processes then hold its tickets side by side instead of
    /// taking turns at the concert's stream (see `ticketing::bucket`). A
    /// single process gains nothing from buckets (its lanes share appends
    /// already), so the default is none.
    pub fn with_buckets_per_concert(mut self, buckets: u16) -> Self {
        self.buckets_per_concert = buckets.min(ticketing::limits::BUCKETS_PER_CONCERT_MAX);
        self
    }

    /// How many buckets a concert is published with.
    pub fn buckets_per_concert(&self) -> u16 {
        self.buckets_per_concert
    }

    /// The log every handler appends to.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The venues.
    pub fn venues(&self) -> &Repository<Venue> {
        &self.venues
    }

    /// The concerts.
    pub fn concerts(&self) -> &Repository<Concert> {
        &self.concerts
    }

    /// The buckets of concerts published with buckets.
    pub fn buckets(&self) -> &Repository<Bucket> {
        &self.buckets
    }

    /// The carts (a cart's id is its customer's id).
    pub fn carts(&self) -> &Repository<Cart> {
        &self.carts
    }

    /// The orders.
    pub fn orders(&self) -> &Repository<Order> {
        &self.orders
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn codes(&self) -> &dyn TicketCodes {
        self.codes.as_ref()
    }

    pub(crate) fn turns(&self) -> &Turns {
        &self.turns
    }

    pub(crate) fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    /// Runs one command. `attempt(reads)` loads what it needs (from the
    /// caches, or from the log's head with [`Reads::Fresh`]), decides, and
    /// records the events in a [`Batch`]. A refusal on cached states is
    /// confirmed once on fresh states; a version conflict starts over. `T`
    /// is the command's result, stored with its id and the request's
    /// fingerprint so that a retry of the same request returns it
    /// (`idempotency.rs`).
    pub(crate) async fn run<'f, T>(
        &self,
        context: &CommandContext,
        aggregates: &[AggregateId],
        attempt: impl Fn(Reads<'static>) -> AttemptFuture<'f, T>,
    ) -> Result<T, AppError>
    where
        T: Serialize + DeserializeOwned + Send,
    {
        if let Some(command_id) = context.command_id
            && let Some(record) =
                self.log.store().stored_command(command_id).await.map_err(|error| AppError::Store(error.to_string()))?
        {
            return first_result(&record).map_err(AppError::from);
        }
        let _turns = self.turns.take(aggregates).await;
        let attempt = &attempt;
        let log = &self.log;
        let outcome = retry_on_conflict(|| async move {
            let decision = match attempt(Reads::Cached).await {
                Err(RepositoryError::Rejected(_)) => attempt(Reads::Fresh).await?,
                other => other?,
            };
            match decision.changes {
                None => Ok(decision.value),
                Some(changes) => match changes.transaction.commit(log, &stored(&decision.value)).await? {
                    Appended::Committed(commit) => {
                        crate::written::note(&commit);
                        Ok(decision.value)
                    }
                    Appended::AlreadyApplied(record) => first_result(&record),
                },
            }
        })
        .await;
        outcome.map_err(AppError::from)
    }

    /// Runs one command that may share its append with other commands on
    /// the same `lead` aggregate (a concert in a flash sale): see `lanes.rs`.
    /// `aggregates` are every aggregate it touches, `lead` first. A command
    /// with an id (an `Idempotency-Key`) runs alone through [`Shop::run`]: an
    /// append stores at most one command's result.
    pub(crate) async fn run_shared<T, F>(
        &self,
        context: &CommandContext,
        aggregates: &[AggregateId],
        attempt: F,
    ) -> Result<T, AppError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'a> Fn(&'a Shop, Reads<'a>) -> AttemptFuture<'a, T> + Send + Sync + 'static,
    {
        match aggregates.first() {
            Some(&lead) if context.command_id.is_none() => self.lanes.submit(self, lead, attempt).await,
            _ => self.run(context, aggregates, |reads| attempt(self, reads)).await,
        }
    }
}

/// One attempt of a handler, boxed so that the handler's future is `Send`
/// for every caller (an `AsyncFn` bound loses that under higher-ranked
/// lifetimes).
pub(crate) type AttemptFuture<'f, T> = Pin<Box<dyn Future<Output = Result<Decision<T>, AttemptError>> + Send + 'f>>;

/// What one attempt decided: its result, and what to append for it.
pub(crate) struct Decision<T> {
    pub(crate) value: T,
    /// `None` when the command changes nothing.
    pub(crate) changes: Option<Changes>,
}

/// The appends of one decision, and the states they lead to (which the
/// next command of a shared append decides on).
pub(crate) struct Changes {
    pub(crate) transaction: Transaction,
    pub(crate) states: States,
}

/// States of aggregates after uncommitted events, by id: what a command
/// sharing an append sees in place of the caches. Each value is a
/// `Loaded<A>` of the aggregate's own type.
#[derive(Default)]
pub(crate) struct States {
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
pub(crate) enum Reads<'s> {
    /// The repositories' caches (no I/O on a hit).
    Cached,
    /// The log's head.
    Fresh,
    /// The states a shared append has reached so far, else the caches.
    Shared(&'s States),
    /// The log's head, each aggregate read at most once per set: confirming
    /// the refusals of a shared append after it committed.
    Confirming(&'s Refreshed),
}

/// Aggregates already brought up to the log's head in one round.
#[derive(Default)]
pub(crate) struct Refreshed {
    ids: std::sync::Mutex<std::collections::HashSet<AggregateId>>,
}

impl Refreshed {
    /// Whether `aggregate_id` still needs reading; marks it read.
    fn first_time(&self, aggregate_id: AggregateId) -> bool {
        self.ids.lock().map_or(true, |mut ids| ids.insert(aggregate_id))
    }
}

/// A transaction being filled, counting events so that a command that
/// changes nothing appends nothing.
pub(crate) struct Batch {
    transaction: Transaction,
    events: usize,
    states: States,
}

impl Batch {
    pub(crate) fn new(context: &CommandContext) -> Self {
        Self { transaction: Transaction::new(context), events: 0, states: States::default() }
    }

    /// Records `events` against `loaded` (none: only asserts its version).
    pub(crate) fn add<A: Aggregate>(
        &mut self,
        repository: &Repository<A>,
        loaded: &Loaded<A>,
        events: &[A::Event],
    ) -> Result<Loaded<A>, AttemptError> {
        self.events += events.len();
        let after = self.transaction.record(repository, loaded, events)?;
        self.states.insert(after.clone());
        Ok(after)
    }

    /// The decision: append, unless no member has events.
    pub(crate) fn finish<T>(self, value: T) -> Decision<T> {
        let changes = (self.events > 0).then_some(Changes { transaction: self.transaction, states: self.states });
        Decision { value, changes }
    }
}

/// Loads an aggregate as `reads` says.
pub(crate) async fn load<A>(
    repository: &Repository<A>,
    aggregate_id: impl Into<AggregateId>,
    reads: Reads<'_>,
) -> Result<Loaded<A>, AttemptError>
where
    A: Aggregate,
    A::Error: Refusal,
{
    let aggregate_id = aggregate_id.into();
    let loaded = match reads {
        Reads::Cached => repository.load(aggregate_id).await,
        Reads::Fresh => repository.refresh(aggregate_id).await,
        Reads::Shared(states) => match states.get::<A>(aggregate_id) {
            Some(loaded) => Ok(loaded),
            None => repository.load(aggregate_id).await,
        },
        Reads::Confirming(refreshed) if refreshed.first_time(aggregate_id) => repository.refresh(aggregate_id).await,
        Reads::Confirming(_) => repository.load(aggregate_id).await,
    };
    loaded.map_err(|error| error.map_rejected(refused))
}

/// Decides each of `commands` in turn on the state the previous ones left,
/// passing over those refused as not found (settled meanwhile): the events of
/// all, and the keys of those decided.
pub(crate) fn decide_each<A, K>(
    loaded: &Loaded<A>,
    commands: impl IntoIterator<Item = (K, A::Command)>,
) -> Result<(Vec<A::Event>, Vec<K>), AttemptError>
where
    A: Aggregate,
    A::Error: Refusal,
{
    let mut state = loaded.clone();
    let (mut events, mut decided) = (Vec::new(), Vec::new());
    for (key, command) in commands {
        match decide(&state, &command) {
            Ok(new) => {
                for event in &new {
                    state.state.evolve(event);
                }
                events.extend(new);
                decided.push(key);
            }
            Err(RepositoryError::Rejected(Refused::Domain { kind: RefusalKind::NotFound, .. })) => {}
            Err(error) => return Err(error),
        }
    }
    Ok((events, decided))
}

/// A decision refused by the domain.
pub(crate) fn decide<A>(loaded: &Loaded<A>, command: &A::Command) -> Result<Vec<A::Event>, AttemptError>
where
    A: Aggregate,
    A::Error: Refusal,
{
    loaded.state.decide(command).map_err(|error| RepositoryError::Rejected(refused(error)))
}

/// Something the handler needed to read does not exist.
pub(crate) fn missing(what: &str) -> AttemptError {
    RepositoryError::Rejected(Refused::Missing(what.to_owned()))
}
