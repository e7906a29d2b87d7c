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

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::decide::{AttemptFuture, Changes, Reads, Refreshed, States};
use crate::event::CodecError;
use crate::ids::{AggregateId, CommandId};
use crate::limits;
use crate::log::EventLog;
use crate::repository::{CommandContext, RepositoryError, Transaction, conflict_backoff};
use crate::store::{Appended, CommandRecord, Commit, StoreError};
use crate::turns::Turns;

/// Most commands taken from a lane for one round; the kernel's limits on
/// one append (aggregates, events, records, bytes) usually end a round sooner.
const ROUND_COMMANDS_MAX: usize = 64;

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

/// A command waiting for, or taking part in, a round.
type Queued<C, X> = Box<dyn Member<C, X>>;

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
        let member: Queued<C, X> =
            Box::new(Typed { attempt, receipt, value: None, error: None, reply, conflicts: 0, refusal: PhantomData });
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

/// Commands waiting to share an append, by lead aggregate. A lane exists
/// while commands wait in it or a round is being served.
struct Lanes<C, X> {
    lanes: Mutex<HashMap<AggregateId, VecDeque<Queued<C, X>>>>,
}

impl<C, X> Default for Lanes<C, X> {
    fn default() -> Self {
        Self { lanes: Mutex::new(HashMap::new()) }
    }
}

impl<C, X> Lanes<C, X> {
    fn lock(&self) -> MutexGuard<'_, HashMap<AggregateId, VecDeque<Queued<C, X>>>> {
        // Only queue operations run under this lock, so a panic cannot leave
        // the map inconsistent: the poison is ignored.
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `member` in `lead`'s lane, starting the lane's server if none
    /// is running.
    fn submit<E>(&self, runner: &Runner<C, E, X>, context: &C, lead: AggregateId, member: Queued<C, X>)
    where
        C: Clone + Send + Sync + 'static,
        E: std::error::Error + Send + 'static,
        X: Clone + From<RepositoryError<E>> + Send + 'static,
    {
        let start = {
            let mut lanes = self.lock();
            let started = lanes.contains_key(&lead);
            lanes.entry(lead).or_default().push_back(member);
            !started
        };
        if start {
            let serving = Serving { runner: runner.clone(), context: context.clone(), lead };
            tokio::spawn(async move { serving.serve().await });
        }
    }

    /// The commands of the next round, or `None` (and the lane closed) when
    /// nothing waits.
    fn next_round(&self, lead: AggregateId) -> Option<Vec<Queued<C, X>>> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(&lead)?;
        if lane.is_empty() {
            lanes.remove(&lead);
            return None;
        }
        let count = lane.len().min(ROUND_COMMANDS_MAX);
        Some(lane.drain(..count).collect())
    }

    /// Puts commands back at the front of the lane, in their order.
    fn put_back(&self, lead: AggregateId, members: Vec<Queued<C, X>>) {
        if members.is_empty() {
            return;
        }
        let mut lanes = self.lock();
        let lane = lanes.entry(lead).or_default();
        for member in members.into_iter().rev() {
            lane.push_front(member);
        }
    }
}

/// The server of one lane.
struct Serving<C, E, X>
where
    C: Clone + Send + Sync + 'static,
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>> + Send + 'static,
{
    runner: Runner<C, E, X>,
    context: C,
    lead: AggregateId,
}

impl<C, E, X> Serving<C, E, X>
where
    C: Clone + Send + Sync + 'static,
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>> + Send + 'static,
{
    /// Serves rounds until the lane is empty. The lead's turn is taken for
    /// each round and given up between rounds, so that other commands on
    /// the lead (an expiry sweep, a cancellation) get their turn too.
    ///
    /// After a round that conflicted (a writer in another process moved an
    /// aggregate on), the lane pauses as a single command would
    /// ([`conflict_backoff`]), so that lanes of several processes on one
    /// aggregate do not collide again in lock step.
    async fn serve(&self) {
        let runner = &self.runner;
        let mut conflicts_in_a_row = 0;
        loop {
            let turn = runner.turns.take(&[self.lead]).await;
            let Some(round) = runner.lanes.next_round(self.lead) else { return };
            let (again, conflicted) = run_round::<C, E, X>(&self.context, &runner.log, round).await;
            runner.lanes.put_back(self.lead, again);
            drop(turn);
            conflicts_in_a_row = if conflicted { conflicts_in_a_row + 1 } else { 0 };
            if conflicted {
                tokio::time::sleep(conflict_backoff(conflicts_in_a_row)).await;
            }
        }
    }
}

impl<C, E, X> Drop for Serving<C, E, X>
where
    C: Clone + Send + Sync + 'static,
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>> + Send + 'static,
{
    /// After a panic in a round, whoever still waits gets a new server (the
    /// round's own commands are answered as abandoned).
    fn drop(&mut self) {
        if std::thread::panicking() && self.runner.lanes.lock().contains_key(&self.lead) {
            let serving = Serving { runner: self.runner.clone(), context: self.context.clone(), lead: self.lead };
            tokio::spawn(async move { serving.serve().await });
        }
    }
}

/// Decides `members` in order on shared states, appends them as one, and
/// answers them; returns those that must run again, in order, and whether
/// the append met a conflict.
async fn run_round<C, E, X>(context: &C, log: &EventLog, members: Vec<Queued<C, X>>) -> (Vec<Queued<C, X>>, bool)
where
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>>,
{
    let mut states = States::default();
    let mut batch = Transaction::new(&CommandContext::default());
    // With the aggregates each one wrote or checked: what its caller waits to see.
    let mut decided: Vec<(Queued<C, X>, Vec<AggregateId>)> = Vec::new();
    let mut refused: Vec<Queued<C, X>> = Vec::new();
    let mut again: Vec<Queued<C, X>> = Vec::new();
    // The ids the round carries: a second try of one of them (sent again
    // while the first waits) runs in the next round, where the log answers it.
    let mut ids = HashSet::new();
    let mut members = members.into_iter();
    while let Some(mut member) = members.next() {
        if let Some(id) = member.command_id()
            && ids.contains(&id)
        {
            again.push(member);
            continue;
        }
        match member.attempt(context, Reads::Shared(&states)).await {
            Tried::Changes(Some(changes)) if batch.aggregates() > 0 && !batch.fits_with(&changes.transaction) => {
                // Full: this one and the rest wait for the next round.
                again.push(member);
                again.extend(members.by_ref());
            }
            Tried::Changes(Some(Changes { transaction, states: after })) => {
                let own = transaction.aggregate_ids();
                match batch.absorb(transaction) {
                    Ok(()) => {
                        ids.extend(member.command_id());
                        states.extend(after);
                        decided.push((member, own));
                    }
                    Err(_) => retry_or_give_up::<C, E, X>(member, &mut again),
                }
            }
            // Changes nothing, but was decided on uncommitted states.
            Tried::Changes(None) => decided.push((member, Vec::new())),
            Tried::Refused => refused.push(member),
            Tried::Failed => member.fail(None),
        }
    }
    let (commands, events) = (decided.len(), batch.events());
    let committing = std::time::Instant::now();
    let appended = if events == 0 { Ok(None) } else { batch.append::<E>(log).await.map(Some) };
    tracing::trace!(commands, events, refused = refused.len(), micros = committing.elapsed().as_micros(), "round");
    match appended {
        Ok(None) => answer_all(decided, None),
        Ok(Some(Appended::Committed(commit))) => answer_all(decided, Some(&commit)),
        Ok(Some(Appended::AlreadyApplied(record))) => {
            // A repeat of a command that committed before (a retry that
            // decided the same way again): it gets its first result, and
            // nothing of the round was written, so the others run again.
            let mut repeat = None;
            for (member, _) in decided {
                match member.command_id() {
                    Some(id) if id == record.command_id && repeat.is_none() => repeat = Some(member),
                    _ => again.push(member),
                }
            }
            again.extend(refused);
            match repeat {
                Some(member) => member.answer_first(&record),
                None => {
                    for member in again.drain(..) {
                        member.fail(Some(failure::<E, X>("the log answered a command id no command of the round has")));
                    }
                }
            }
            return (again, false);
        }
        Err(RepositoryError::Conflict(_)) => {
            // Nothing was written; the conflicting states are marked stale.
            for member in decided.into_iter().map(|(member, _)| member).chain(refused) {
                retry_or_give_up::<C, E, X>(member, &mut again);
            }
            return (again, true);
        }
        Err(error) => {
            let error = X::from(error);
            for (member, _) in decided {
                member.fail(Some(error.clone()));
            }
        }
    }
    confirm_refusals::<C, E, X>(context, refused, &mut again).await;
    (again, false)
}

fn answer_all<C, X>(decided: Vec<(Queued<C, X>, Vec<AggregateId>)>, commit: Option<&Commit>) {
    for (member, own) in decided {
        member.answer(commit.and_then(|commit| own_part(commit, &own)));
    }
}

/// What of the round's `commit` a member wrote or checked: the round's
/// position (its events are in the same append) and the versions of `own`;
/// `None` when it touched nothing. A caller then waits to see its own
/// writes, not those of its round mates.
fn own_part(commit: &Commit, own: &[AggregateId]) -> Option<Commit> {
    if own.is_empty() {
        return None;
    }
    let versions = commit.versions.iter().filter(|(aggregate_id, _)| own.contains(aggregate_id)).copied().collect();
    Some(Commit { position: commit.position, versions })
}

/// Confirms each refusal on the log's head (each aggregate read once for
/// all of them); a command the head accepts runs again in the next round.
async fn confirm_refusals<C, E, X>(context: &C, refused: Vec<Queued<C, X>>, again: &mut Vec<Queued<C, X>>)
where
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>>,
{
    let refreshed = Refreshed::default();
    for mut member in refused {
        match member.attempt(context, Reads::Confirming(&refreshed)).await {
            Tried::Refused | Tried::Failed => member.fail(None),
            Tried::Changes(_) => retry_or_give_up::<C, E, X>(member, again),
        }
    }
}

fn retry_or_give_up<C, E, X>(mut member: Queued<C, X>, again: &mut Vec<Queued<C, X>>)
where
    E: std::error::Error + Send + 'static,
    X: From<RepositoryError<E>>,
{
    if member.conflicted() {
        again.push(member);
    } else {
        member.fail(Some(X::from(RepositoryError::TooManyConflicts(limits::COMMAND_ATTEMPTS_MAX))));
    }
}

/// What one attempt of a queued command came to.
#[expect(clippy::large_enum_variant, reason = "short-lived, one per attempt: boxing would cost an allocation each")]
enum Tried {
    /// Decided: what to append (`None`: nothing).
    Changes(Option<Changes>),
    /// Refused by the domain; the member keeps the refusal.
    Refused,
    /// Failed otherwise; the member keeps the error.
    Failed,
}

/// A command with its result type erased.
trait Member<C, X>: Send {
    /// Decides, reading as `reads` says.
    fn attempt<'a>(&'a mut self, context: &'a C, reads: Reads<'a>) -> Pin<Box<dyn Future<Output = Tried> + Send + 'a>>;

    /// Its id, if it is idempotent.
    fn command_id(&self) -> Option<CommandId>;

    /// Answers the caller with the last decision's result and its part of
    /// the round's commit (`None`: it appended nothing).
    fn answer(self: Box<Self>, commit: Option<Commit>);

    /// Answers the caller with the first result stored under its id.
    fn answer_first(self: Box<Self>, record: &CommandRecord);

    /// Answers the caller with `error`, or with what its last attempt failed with.
    fn fail(self: Box<Self>, error: Option<X>);

    /// Counts one more decision that could not be appended; whether the
    /// command may still try again.
    fn conflicted(&mut self) -> bool;
}

struct Typed<T, F, E, X> {
    attempt: F,
    receipt: Option<Receipt<T, X>>,
    value: Option<T>,
    error: Option<X>,
    reply: oneshot::Sender<Result<(T, Option<Commit>), X>>,
    conflicts: u32,
    refusal: PhantomData<fn() -> E>,
}

impl<C, T, F, E, X> Member<C, X> for Typed<T, F, E, X>
where
    C: Sync,
    T: Send + 'static,
    F: for<'a> Fn(&'a C, Reads<'a>) -> AttemptFuture<'a, T, E> + Send + Sync + 'static,
    E: std::error::Error + Send + 'static,
    X: From<RepositoryError<E>> + Send + 'static,
{
    fn attempt<'a>(&'a mut self, context: &'a C, reads: Reads<'a>) -> Pin<Box<dyn Future<Output = Tried> + Send + 'a>> {
        Box::pin(async move {
            let decision = match (self.attempt)(context, reads).await {
                Ok(decision) => decision,
                Err(error) => {
                    let refused = matches!(error, RepositoryError::Rejected(_));
                    self.error = Some(X::from(error));
                    return if refused { Tried::Refused } else { Tried::Failed };
                }
            };
            let mut changes = decision.changes;
            if let (Some(receipt), Some(changes)) = (&self.receipt, &mut changes) {
                match (receipt.encode)(&decision.value) {
                    Ok(result) => changes.transaction.carry(CommandRecord { command_id: receipt.command_id, result }),
                    Err(error) => {
                        self.error = Some(X::from(RepositoryError::Codec(error)));
                        return Tried::Failed;
                    }
                }
            }
            self.value = Some(decision.value);
            self.error = None;
            Tried::Changes(changes)
        })
    }

    fn command_id(&self) -> Option<CommandId> {
        self.receipt.as_ref().map(|receipt| receipt.command_id)
    }

    fn answer(self: Box<Self>, commit: Option<Commit>) {
        let Typed { value, reply, .. } = *self;
        let result = match value {
            Some(value) => Ok((value, commit)),
            None => Err(failure::<E, X>("a command was answered before it was decided")),
        };
        // A caller that stopped waiting still had its command decided; it
        // finds the outcome in the log.
        let _ = reply.send(result);
    }

    fn answer_first(self: Box<Self>, record: &CommandRecord) {
        let Typed { receipt, reply, .. } = *self;
        let result = match receipt {
            Some(receipt) => (receipt.decode)(record).map(|value| (value, None)),
            None => Err(failure::<E, X>("a command without an id was answered as a repeat")),
        };
        let _ = reply.send(result);
    }

    fn fail(self: Box<Self>, error: Option<X>) {
        let Typed { error: last, reply, .. } = *self;
        let error = error.or(last).unwrap_or_else(|| failure::<E, X>("a command failed without an error"));
        let _ = reply.send(Err(error));
    }

    fn conflicted(&mut self) -> bool {
        self.conflicts += 1;
        self.conflicts < limits::COMMAND_ATTEMPTS_MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Position, Version};

    #[test]
    fn a_member_sees_only_its_own_aggregates_of_the_round_at_the_rounds_position() {
        let (concert, mine, theirs) = (AggregateId::random(), AggregateId::random(), AggregateId::random());
        let round = Commit {
            position: Some(Position(42)),
            versions: vec![(concert, Version(9)), (mine, Version(2)), (theirs, Version(5))],
        };
        let part = own_part(&round, &[concert, mine]).expect("it wrote something");
        assert_eq!(part.position, Some(Position(42)));
        assert_eq!(part.versions, [(concert, Version(9)), (mine, Version(2))]);
        assert!(own_part(&round, &[]).is_none(), "a member that changed nothing waits for nothing");
    }
}
