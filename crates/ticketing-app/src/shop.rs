//! The [`Shop`]: the ports the command handlers need (the log, one
//! repository per aggregate, a clock, a source of ticket codes) and the one
//! loop every handler runs in: answer a repeated command id from the log,
//! take the turns of the aggregates involved, decide on cached states,
//! confirm a refusal on fresh ones, commit atomically, and decide again after
//! a version conflict.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use es_core::{
    Aggregate, AggregateId, Appended, Clock, CodecError, CommandContext, CommandRecord, EventLog, Loaded, Repository,
    RepositoryError, SnapshotStore, Transaction, Turns, retry_on_conflict,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ticketing::{Cart, Concert, Order, Venue};

use crate::codes::TicketCodes;
use crate::error::{AppError, AttemptError, Refusal, Refused, refused};

/// The application's command side: every handler is a method. Cheap to
/// share behind an `Arc`; the repositories' caches live inside.
pub struct Shop {
    log: EventLog,
    venues: Repository<Venue>,
    concerts: Repository<Concert>,
    carts: Repository<Cart>,
    orders: Repository<Order>,
    clock: Arc<dyn Clock>,
    codes: Arc<dyn TicketCodes>,
    turns: Arc<Turns>,
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
            carts: repository(&log, &snapshots, &turns),
            orders: repository(&log, &snapshots, &turns),
            log,
            clock,
            codes,
            turns,
        }
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

    /// Runs one command. `attempt(fresh)` loads what it needs (from the
    /// caches, or from the log's head when `fresh`), decides, and records
    /// the events in a [`Batch`]. A refusal on cached states is confirmed
    /// once on fresh states; a version conflict starts over. `T` is the
    /// command's result, stored with its id so that a retry returns it.
    pub(crate) async fn run<'f, T>(
        &self,
        context: &CommandContext,
        aggregates: &[AggregateId],
        attempt: impl Fn(bool) -> AttemptFuture<'f, T>,
    ) -> Result<T, AppError>
    where
        T: Serialize + DeserializeOwned + Send,
    {
        if let Some(command_id) = context.command_id
            && let Some(record) =
                self.log.store().stored_command(command_id).await.map_err(|error| AppError::Store(error.to_string()))?
        {
            return decode_result(&record).map_err(AppError::from);
        }
        let _turns = self.turns.take(aggregates).await;
        let attempt = &attempt;
        let log = &self.log;
        let outcome = retry_on_conflict(|| async move {
            let decision = match attempt(false).await {
                Err(RepositoryError::Rejected(_)) => attempt(true).await?,
                other => other?,
            };
            match decision {
                Decision::Nothing(value) => Ok(value),
                Decision::Append(transaction, value) => match transaction.commit(log, &value).await? {
                    Appended::Committed(_) => Ok(value),
                    Appended::AlreadyApplied(record) => decode_result(&record),
                },
            }
        })
        .await;
        outcome.map_err(AppError::from)
    }
}

/// One attempt of a handler, boxed so that the handler's future is `Send`
/// for every caller (an `AsyncFn` bound loses that under higher-ranked
/// lifetimes).
pub(crate) type AttemptFuture<'f, T> = Pin<Box<dyn Future<Output = Result<Decision<T>, AttemptError>> + Send + 'f>>;

/// What one attempt decided.
pub(crate) enum Decision<T> {
    /// Append the transaction; `T` is the result.
    Append(Transaction, T),
    /// Nothing to append (the command changes nothing); `T` is the result.
    Nothing(T),
}

/// A transaction being filled, counting events so that a command that
/// changes nothing appends nothing.
pub(crate) struct Batch {
    transaction: Transaction,
    events: usize,
}

impl Batch {
    pub(crate) fn new(context: &CommandContext) -> Self {
        Self { transaction: Transaction::new(context), events: 0 }
    }

    /// Records `events` against `loaded` (none: only asserts its version).
    pub(crate) fn add<A: Aggregate>(
        &mut self,
        repository: &Repository<A>,
        loaded: &Loaded<A>,
        events: &[A::Event],
    ) -> Result<Loaded<A>, AttemptError> {
        self.events += events.len();
        Ok(self.transaction.record(repository, loaded, events)?)
    }

    /// The decision: append, unless no member has events.
    pub(crate) fn finish<T>(self, value: T) -> Decision<T> {
        if self.events == 0 { Decision::Nothing(value) } else { Decision::Append(self.transaction, value) }
    }
}

/// Loads an aggregate from the cache, or from the log's head when `fresh`.
pub(crate) async fn load<A>(
    repository: &Repository<A>,
    aggregate_id: impl Into<AggregateId>,
    fresh: bool,
) -> Result<Loaded<A>, AttemptError>
where
    A: Aggregate,
    A::Error: Refusal,
{
    let aggregate_id = aggregate_id.into();
    let loaded = if fresh { repository.refresh(aggregate_id).await } else { repository.load(aggregate_id).await };
    loaded.map_err(|error| error.map_rejected(refused))
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

fn decode_result<T: DeserializeOwned>(record: &CommandRecord) -> Result<T, AttemptError> {
    serde_json::from_str(&record.result)
        .map_err(|source| RepositoryError::Codec(CodecError::Json { event_type: "command result".to_owned(), source }))
}
