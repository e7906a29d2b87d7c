//! The one command runner: answer a repeated command id from the log, decide
//! on cached states, append with the expected versions, confirm a refusal on
//! the log's head, decide again after a conflict. Every command of every
//! handler runs through [`Runner::run`], alone or sharing appends.
//!
//! **Rounds.** The runner decides commands in *rounds*: each command of a
//! round is decided on the states the ones before it left, as if they had run
//! alone in that order, and the round appends all of them as one atomic
//! append, with each command's id and result (so a keyed command — an HTTP
//! `Idempotency-Key` — shares an append like any other). A command that runs
//! alone is a round of one, under the turns of every aggregate it names.
//!
//! **Lanes.** In a flash sale every reservation and every checkout appends to
//! the same concert. Taking turns on it, each command would hold the concert
//! for a whole durable append, and the sale would go no faster than one
//! append per command. A *shared* command therefore queues in the lane of its
//! lead aggregate, and one task at a time serves the lane: it takes the
//! lead's turn, takes the waiting commands as a round, and appends them.
//! While that append is being synced, the next commands queue up.
//!
//! Nothing about correctness changes. The append carries the expected
//! versions the round started from, so it goes in entirely or not at all; a
//! conflict (another process wrote) sends the whole round back to decide
//! again. A command refused on the round's states is confirmed on the log's
//! head after the round committed, as every refusal is; if the head accepts
//! it, it runs again. A command whose id the log already holds (a retry)
//! gets its first result: from the round's append, which the log refuses
//! for that id (the rest of the round then runs again), or, when the retry
//! is refused or changes nothing, from the log asked afterwards. The happy
//! path of a keyed command reads nothing before it decides. Commands are
//! answered only after the round's append is durable, each with its own
//! result and its own part of the commit.
//!
//! Lane rounds run in a task of their own, so that a caller who stops waiting
//! (a closed HTTP connection) never abandons the other commands of its round
//! halfway through their append.
//!
//! **What it tells.** Each command keeps its caller's span, and the runner
//! records there, when the span declares them, `conflicts` (decisions
//! started again), `round` (the commands of the append that committed it)
//! and `append_ms`. Across commands it counts and times through the metrics
//! facade: [`APPEND_DURATION`], [`ROUND_COMMANDS`], [`COMMAND_CONFLICTS`].

use std::marker::PhantomData;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::decide::{AttemptFuture, Reads};
use crate::event::CodecError;
use crate::ids::{AggregateId, CommandId};
use crate::log::EventLog;
use crate::repository::{RepositoryError, conflict_backoff};
use crate::store::{CommandRecord, Commit, StoreError};
use crate::turns::Turns;

mod lanes;
mod member;
mod round;

/// The time each append of a round took, in seconds (a histogram).
pub const APPEND_DURATION: &str = "cloudbash_append_duration_seconds";

/// How many commands each append of a round carried (a histogram): above
/// one only when commands share appends in a lane.
pub const ROUND_COMMANDS: &str = "cloudbash_round_commands";

/// Decisions started again because their append met a version conflict.
pub const COMMAND_CONFLICTS: &str = "cloudbash_command_conflicts_total";

use self::lanes::Lanes;
use self::member::{Queued, Typed};
use self::round::run_round;

/// Runs commands whose attempts see a `C` (the handlers' ports), refuse with
/// `E`, and fail with `X` (cloned when one append fails for several
/// commands). Cheap to clone; clones share the lanes.
pub struct Runner<C, E, X> {
    log: EventLog,
    turns: Arc<Turns>,
    lanes: Arc<Lanes<C, X>>,
    refusal: PhantomData<fn() -> E>,
}

impl<C, E, X> Clone for Runner<C, E, X> {
    fn clone(&self) -> Self {
        Self {
            log: self.log.clone(),
            turns: Arc::clone(&self.turns),
            lanes: Arc::clone(&self.lanes),
            refusal: PhantomData,
        }
    }
}

/// How the runner runs one command: the aggregates it touches (the lead
/// first), whether it may share appends, and its id.
pub struct Command<T, X> {
    aggregates: Vec<AggregateId>,
    shared: bool,
    receipt: Option<Receipt<T, X>>,
}

impl<T, X> Command<T, X> {
    /// A command touching `aggregates`, run alone under the turns of every
    /// one of them.
    pub fn new(aggregates: Vec<AggregateId>) -> Self {
        Self { aggregates, shared: false, receipt: None }
    }

    /// Lets the command share appends with others on its lead aggregate.
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// The aggregates it touches, the lead first.
    pub fn aggregates(&self) -> &[AggregateId] {
        &self.aggregates
    }

    /// Makes the command idempotent under `receipt`'s id.
    pub fn with_receipt(mut self, receipt: Receipt<T, X>) -> Self {
        self.receipt = Some(receipt);
        self
    }
}

/// How an idempotent command keeps its result: its id, the text stored with
/// it, and how a stored text answers a repeat of the command.
pub struct Receipt<T, X> {
    /// The caller's id for the command.
    pub command_id: CommandId,
    /// The result as stored with the id.
    pub encode: Encode<T>,
    /// The answer to a repeat, from what the first execution stored.
    pub decode: Decode<T, X>,
}

/// How a [`Receipt`] turns a result into the text stored with its id.
pub type Encode<T> = Box<dyn Fn(&T) -> Result<String, CodecError> + Send + Sync>;

/// How a [`Receipt`] answers a repeat from the stored text.
pub type Decode<T, X> = Arc<dyn Fn(&CommandRecord) -> Result<T, X> + Send + Sync>;

impl<C, E, X> Runner<C, E, X>
where
    C: Clone + Send + Sync + 'static,
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>> + Send + 'static,
{
    /// A runner appending to `log`, taking turns on `turns` (share one
    /// [`Turns`] among every runner and repository of a process).
    pub fn new(log: EventLog, turns: Arc<Turns>) -> Self {
        Self { log, turns, lanes: Arc::new(Lanes::default()), refusal: PhantomData }
    }

    /// Runs `command`, deciding it with `attempt`, which sees `context`: its
    /// result, with the part of the append that committed it (`None`: it
    /// appended nothing, or it is a repeat answered from the log).
    pub async fn run<T, F>(&self, context: &C, command: Command<T, X>, attempt: F) -> Result<(T, Option<Commit>), X>
    where
        T: Send + 'static,
        F: for<'a> Fn(&'a C, Reads<'a>) -> AttemptFuture<'a, T, E> + Send + Sync + 'static,
    {
        let Command { aggregates, shared, receipt } = command;
        let repeat = receipt.as_ref().map(|receipt| (receipt.command_id, Arc::clone(&receipt.decode)));
        let (reply, answer) = oneshot::channel();
        let member: Queued<C, X> = Box::new(Typed {
            attempt,
            receipt,
            value: None,
            error: None,
            reply,
            conflicts: 0,
            span: tracing::Span::current(),
            refusal: PhantomData,
        });
        match aggregates.first() {
            Some(&lead) if shared => self.lanes.submit(self, context, lead, member),
            _ => self.alone(context, &aggregates, member).await,
        }
        let answer = answer.await.unwrap_or_else(|_| Err(failure("the command's round was abandoned")));
        // A repeat of a command that committed before is caught by its
        // append when it decides the same way again (the log holds its id).
        // Decided otherwise — refused now that the first try changed the
        // state, or changing nothing — it must still get its first result:
        // the log is asked then, and only then.
        match (repeat, &answer) {
            (Some((command_id, decode)), Err(_) | Ok((_, None))) => {
                match self.log.store().stored_command(command_id).await.map_err(store_failure)? {
                    Some(record) => decode(&record).map(|value| (value, None)),
                    None => answer,
                }
            }
            _ => answer,
        }
    }

    /// Rounds of one until the command is answered, under the turns of every
    /// aggregate it touches.
    async fn alone(&self, context: &C, aggregates: &[AggregateId], member: Queued<C, X>) {
        let _turns = self.turns.take(aggregates).await;
        let mut pending = vec![member];
        let mut conflicts_in_a_row = 0;
        while !pending.is_empty() {
            let (again, conflicted) = run_round::<C, E, X>(context, &self.log, pending).await;
            pending = again;
            conflicts_in_a_row = if conflicted { conflicts_in_a_row + 1 } else { 0 };
            if conflicted && !pending.is_empty() {
                tokio::time::sleep(conflict_backoff(conflicts_in_a_row)).await;
            }
        }
    }
}

fn store_failure<E: std::error::Error + 'static, X: From<RepositoryError<E>>>(error: StoreError) -> X {
    X::from(RepositoryError::Store(error))
}

fn failure<E: std::error::Error + 'static, X: From<RepositoryError<E>>>(message: &str) -> X {
    store_failure(StoreError::Backend(message.into()))
}
