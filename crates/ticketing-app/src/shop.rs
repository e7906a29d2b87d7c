//! The [`Shop`]: the ports the command handlers need (the log, one
//! repository per aggregate, a clock, a source of ticket codes) and the way
//! every handler runs its command: through the kernel's one runner
//! ([`es_core::Runner`]), alone or sharing appends with the other commands on
//! a busy concert, with the request's `Idempotency-Key` as its command id.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use es_core::{
    Aggregate, AggregateId, Clock, Command, CommandContext, EventLog, Loaded, Repository, RepositoryError, Runner,
    SnapshotStore, Turns,
};
pub(crate) use es_core::{Batch, Reads};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ticketing::{Bucket, Cart, Concert, Order, RefusalKind, Venue};
use tracing::Instrument;
use tracing::field::Empty;

use crate::codes::TicketCodes;
use crate::error::{AppError, AttemptError, Refusal, Refused, refused};
use crate::idempotency::receipt;
use crate::payments::PaymentProvider;

/// Every command run, by `command` (its name) and `outcome` ([`crate::error::outcome`]).
pub const COMMANDS: &str = "cloudbash_commands_total";

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
    /// Collects payments; `None`: the built-in test provider pays every
    /// order at checkout.
    payments: Option<Arc<dyn PaymentProvider>>,
    /// The identity provider's accounts, where the shop acts on them.
    directory: Option<Arc<dyn crate::directory::Directory>>,
    /// Runs every command; its lanes hold the commands waiting to share an
    /// append, by lead aggregate.
    runner: Runner<Shop, Refused, AppError>,
}

impl Clone for Shop {
    /// Another handle on the same shop: the repositories, caches, turns and
    /// runner's lanes are shared.
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
            payments: self.payments.clone(),
            directory: self.directory.clone(),
            runner: self.runner.clone(),
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
            runner: Runner::new(log.clone(), turns),
            log,
            clock,
            codes,
            payments: None,
            directory: None,
        }
    }

    /// The same shop, collecting payments through `provider`: orders with
    /// something to pay are placed awaiting payment.
    pub fn with_payments(mut self, provider: Arc<dyn PaymentProvider>) -> Self {
        self.payments = Some(provider);
        self
    }

    /// The payment provider, if there is one.
    pub fn payments(&self) -> Option<&dyn PaymentProvider> {
        self.payments.as_deref()
    }

    /// The same shop, disabling and enabling customers' accounts in
    /// `directory` as well as in the shop.
    pub fn with_directory(mut self, directory: Arc<dyn crate::directory::Directory>) -> Self {
        self.directory = Some(directory);
        self
    }

    pub(crate) fn directory(&self) -> Option<&dyn crate::directory::Directory> {
        self.directory.as_deref()
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

    /// Runs one command alone, under the turns of every aggregate it names,
    /// through the kernel's runner: `attempt(shop, reads)` loads what it
    /// needs as `reads` says, decides, and records the events in a
    /// [`Batch`]. A refusal on cached states is confirmed on fresh ones; a
    /// version conflict starts over. `T` is the command's result, stored
    /// with its id and the request's fingerprint so that a retry of the same
    /// request returns it (`idempotency.rs`).
    pub(crate) async fn run<T, F>(
        &self,
        context: &CommandContext,
        name: &'static str,
        aggregates: &[AggregateId],
        attempt: F,
    ) -> Result<T, AppError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'a> Fn(&'a Shop, Reads<'a>) -> AttemptFuture<'a, T> + Send + Sync + 'static,
    {
        self.execute(context, name, Command::new(aggregates.to_vec()), attempt).await
    }

    /// Runs one command that may share its append with other commands on
    /// the same lead aggregate (a concert in a flash sale), with or without
    /// an id: see [`es_core::Runner`]. `aggregates` are every aggregate it
    /// touches, the lead first.
    pub(crate) async fn run_shared<T, F>(
        &self,
        context: &CommandContext,
        name: &'static str,
        aggregates: &[AggregateId],
        attempt: F,
    ) -> Result<T, AppError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'a> Fn(&'a Shop, Reads<'a>) -> AttemptFuture<'a, T> + Send + Sync + 'static,
    {
        self.execute(context, name, Command::new(aggregates.to_vec()).shared(), attempt).await
    }

    /// Runs `command` inside a span named `command` (its `name` as `command`, how many
    /// aggregates it touches; the runner adds the conflicts it met, the size
    /// of the round it committed in and the append's time), and counts it in
    /// `cloudbash_commands_total` by name and outcome.
    async fn execute<T, F>(
        &self,
        context: &CommandContext,
        name: &'static str,
        command: Command<T, AppError>,
        attempt: F,
    ) -> Result<T, AppError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'a> Fn(&'a Shop, Reads<'a>) -> AttemptFuture<'a, T> + Send + Sync + 'static,
    {
        let span = tracing::info_span!(
            "command",
            command = name,
            aggregates = command.aggregates().len(),
            conflicts = Empty,
            round = Empty,
            append_ms = Empty
        );
        let command = match context.command_id {
            Some(command_id) => command.with_receipt(receipt(command_id)),
            None => command,
        };
        let answer = self.runner.run(self, command, attempt).instrument(span.clone()).await;
        let outcome = crate::error::outcome(answer.as_ref().map(|_| ()));
        span.in_scope(|| tracing::info!(outcome, "command answered"));
        metrics::counter!(COMMANDS, "command" => name, "outcome" => outcome).increment(1);
        let (value, commit) = answer?;
        // Its part of the append is this command's write.
        if let Some(commit) = commit {
            crate::written::note(&commit);
        }
        Ok(value)
    }
}

/// One attempt of a handler.
pub(crate) type AttemptFuture<'a, T> = es_core::AttemptFuture<'a, T, Refused>;

impl Shop {
    /// Decides `command` on one order and appends what it decides, alone,
    /// with no request behind it: the steps the processes that follow the
    /// log (payments, mail, refunds) record. Whether anything was appended.
    pub(crate) async fn order_step(
        &self,
        name: &'static str,
        order_id: ticketing::OrderId,
        command: ticketing::OrderCommand,
    ) -> Result<bool, AppError> {
        let command = Arc::new(command);
        self.run(&CommandContext::default(), name, &[order_id.into()], move |shop, reads| {
            let command = Arc::clone(&command);
            Box::pin(async move {
                let order = load(shop.orders(), order_id, reads).await?;
                let events = decide(&order, &command)?;
                let appended = !events.is_empty();
                let mut batch = Batch::new(&CommandContext::default());
                batch.add(shop.orders(), &order, &events)?;
                Ok(batch.finish(appended))
            })
        })
        .await
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
    es_core::load(repository, aggregate_id.into(), reads).await.map_err(|error| error.map_rejected(refused))
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
