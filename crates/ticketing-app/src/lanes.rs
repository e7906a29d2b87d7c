//! Commands that share an append: group commit at the level of the domain.
//!
//! In a flash sale every reservation and every checkout appends to the same
//! concert. Taking turns on it, each command would hold the concert for a
//! whole durable append, and the sale would go no faster than one append
//! per command. Instead, commands on a busy *lead* aggregate queue in its
//! lane, and one task at a time serves the lane: it takes the lead's turn,
//! decides the waiting commands one after the other — each on the states
//! the ones before it left, as if they had run alone in that order — and
//! appends all of them as one atomic append. While that append is being
//! synced, the next commands queue up for the next round.
//!
//! Nothing about correctness changes. The append carries the expected
//! version the round started from, so it goes in entirely or not at all:
//! `held + sold <= quantity` holds after every command because each was
//! decided on the state including its predecessors, and a conflict (another
//! process wrote) sends the whole round back to decide again. A command
//! refused on the round's states is confirmed on the log's head after the
//! round committed, as every refusal is; if the head accepts it, it runs in
//! the next round. Commands are answered only after the round's append is
//! durable, and each with its own result.
//!
//! Rounds run in a task of their own, so that a caller who stops waiting
//! (a closed HTTP connection) never abandons the other commands of its
//! round halfway through their append.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use es_core::{AggregateId, Appended, CommandContext, Commit, RepositoryError, Transaction, limits};
use tokio::sync::oneshot;

use crate::error::{AppError, AttemptError, Refused};
use crate::shop::{AttemptFuture, Changes, Reads, Refreshed, Shop, States};

/// Most commands taken from a lane for one round; the kernel's limits on
/// one append (aggregates, events, bytes) usually end a round sooner.
const ROUND_COMMANDS_MAX: usize = 64;

/// The lanes of one shop, by lead aggregate. A lane exists while commands
/// wait in it or a round is being served.
#[derive(Default)]
pub(crate) struct Lanes {
    lanes: Mutex<HashMap<AggregateId, Lane>>,
}

#[derive(Default)]
struct Lane {
    waiting: VecDeque<Box<dyn Member>>,
}

impl Lanes {
    /// Queues a command in `lead`'s lane and waits for its result, starting
    /// the lane's server if none is running.
    pub(crate) async fn submit<T, F>(&self, shop: &Shop, lead: AggregateId, attempt: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: for<'a> Fn(&'a Shop, Reads<'a>) -> AttemptFuture<'a, T> + Send + Sync + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let member = Box::new(Typed { attempt, value: None, reply, conflicts: 0 });
        let start = {
            let mut lanes = self.lock();
            let started = lanes.contains_key(&lead);
            lanes.entry(lead).or_default().waiting.push_back(member);
            !started
        };
        if start {
            let shop = shop.clone();
            tokio::spawn(async move {
                let serving = Serving { shop, lead };
                serving.serve().await;
            });
        }
        let (value, commit) =
            answer.await.unwrap_or_else(|_| Err(AppError::Store("the shared append was abandoned".to_owned())))?;
        // Its part of the round's append is this command's write.
        if let Some(commit) = commit {
            crate::written::note(&commit);
        }
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AggregateId, Lane>> {
        // A panic while holding this lock (only queue operations run under
        // it) leaves the map consistent, so the poison is ignored.
        self.lanes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The commands of the next round, or `None` (and the lane closed) when
    /// nothing waits.
    fn next_round(&self, lead: AggregateId) -> Option<Vec<Box<dyn Member>>> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(&lead)?;
        if lane.waiting.is_empty() {
            lanes.remove(&lead);
            return None;
        }
        let count = lane.waiting.len().min(ROUND_COMMANDS_MAX);
        Some(lane.waiting.drain(..count).collect())
    }

    /// Puts commands back at the front of the lane, in their order.
    fn put_back(&self, lead: AggregateId, members: Vec<Box<dyn Member>>) {
        if members.is_empty() {
            return;
        }
        let mut lanes = self.lock();
        let lane = lanes.entry(lead).or_default();
        for member in members.into_iter().rev() {
            lane.waiting.push_front(member);
        }
    }
}

/// The server of one lane.
struct Serving {
    shop: Shop,
    lead: AggregateId,
}

impl Serving {
    /// Serves rounds until the lane is empty. The lead's turn is taken for
    /// each round and given up between rounds, so that other commands on
    /// the lead (an expiry sweep, a cancellation) get their turn too.
    ///
    /// After a round that conflicted (a writer in another process moved an
    /// aggregate on), the lane pauses as a single command would
    /// ([`es_core::conflict_backoff`]), so that lanes of several processes
    /// on one aggregate do not collide again in lock step.
    async fn serve(&self) {
        let mut conflicts_in_a_row = 0;
        loop {
            let turn = self.shop.turns().take(&[self.lead]).await;
            let Some(round) = self.shop.lanes().next_round(self.lead) else { return };
            let (again, conflicted) = run_round(&self.shop, round).await;
            self.shop.lanes().put_back(self.lead, again);
            drop(turn);
            if conflicted {
                conflicts_in_a_row += 1;
                tokio::time::sleep(es_core::conflict_backoff(conflicts_in_a_row)).await;
            } else {
                conflicts_in_a_row = 0;
            }
        }
    }
}

impl Drop for Serving {
    /// After a panic in a round, whoever still waits gets a new server (the
    /// round's own commands are answered as abandoned).
    fn drop(&mut self) {
        if std::thread::panicking() && self.shop.lanes().lock().contains_key(&self.lead) {
            let (shop, lead) = (self.shop.clone(), self.lead);
            tokio::spawn(async move { Serving { shop, lead }.serve().await });
        }
    }
}

/// Decides `members` in order on shared states, appends them as one, and
/// answers them; returns those that must run again, in order, and whether
/// the append met a conflict.
async fn run_round(shop: &Shop, members: Vec<Box<dyn Member>>) -> (Vec<Box<dyn Member>>, bool) {
    let mut states = States::default();
    let mut batch = Transaction::new(&CommandContext::default());
    // With the aggregates each one wrote or checked: what its caller waits to see.
    let mut decided: Vec<(Box<dyn Member>, Vec<AggregateId>)> = Vec::new();
    let mut refused: Vec<Box<dyn Member>> = Vec::new();
    let mut again: Vec<Box<dyn Member>> = Vec::new();
    let mut members = members.into_iter();
    while let Some(mut member) = members.next() {
        match member.attempt(shop, Reads::Shared(&states)).await {
            Ok(Some(changes)) if batch.aggregates() > 0 && !batch.fits_with(&changes.transaction) => {
                // Full: this one and the rest wait for the next round.
                again.push(member);
                again.extend(members.by_ref());
            }
            Ok(Some(Changes { transaction, states: after })) => {
                let own = transaction.aggregate_ids();
                match batch.absorb(transaction) {
                    Ok(()) => {
                        states.extend(after);
                        decided.push((member, own));
                    }
                    Err(_) => retry_or_give_up(member, &mut again),
                }
            }
            // Changes nothing, but was decided on uncommitted states.
            Ok(None) => decided.push((member, Vec::new())),
            Err(RepositoryError::Rejected(_)) => refused.push(member),
            Err(error) => member.answer(Err(error.into())),
        }
    }
    let (commands, events) = (decided.len(), batch.events());
    let committing = std::time::Instant::now();
    let committed = commit(shop, batch).await;
    tracing::trace!(commands, events, refused = refused.len(), micros = committing.elapsed().as_micros(), "round");
    match committed {
        Ok(commit) => {
            for (member, own) in decided {
                member.answer(Ok(commit.as_ref().and_then(|commit| own_part(commit, &own))));
            }
        }
        Err(Failure::Conflict) => {
            // Nothing was written; the conflicting states are marked stale.
            for member in decided.into_iter().map(|(member, _)| member).chain(refused) {
                retry_or_give_up(member, &mut again);
            }
            return (again, true);
        }
        Err(Failure::Failed(error)) => {
            for (member, _) in decided {
                member.answer(Err(error.clone()));
            }
        }
    }
    confirm_refusals(shop, refused, &mut again).await;
    (again, false)
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

/// Why a round's append did not go through.
enum Failure {
    /// Another writer moved an aggregate on: decide the round again.
    Conflict,
    /// Anything else; its commands learn the error.
    Failed(AppError),
}

/// Appends the round; the commit, or `None` when the round wrote nothing.
async fn commit(shop: &Shop, batch: Transaction) -> Result<Option<Commit>, Failure> {
    if batch.events() == 0 {
        return Ok(None);
    }
    match batch.commit::<Refused>(shop.log(), &()).await {
        Ok(Appended::Committed(commit)) => Ok(Some(commit)),
        // A round stores no command id, so the log never finds it applied.
        Ok(Appended::AlreadyApplied(_)) => {
            Err(Failure::Failed(AppError::Store("a shared append was taken for a repeated command".to_owned())))
        }
        Err(RepositoryError::Conflict(_)) => Err(Failure::Conflict),
        Err(error) => Err(Failure::Failed(error.into())),
    }
}

/// Confirms each refusal on the log's head (each aggregate read once for
/// all of them); a command the head accepts runs again in the next round.
async fn confirm_refusals(shop: &Shop, refused: Vec<Box<dyn Member>>, again: &mut Vec<Box<dyn Member>>) {
    let refreshed = Refreshed::default();
    for mut member in refused {
        match member.attempt(shop, Reads::Confirming(&refreshed)).await {
            Err(error) => member.answer(Err(error.into())),
            Ok(_) => retry_or_give_up(member, again),
        }
    }
}

fn retry_or_give_up(mut member: Box<dyn Member>, again: &mut Vec<Box<dyn Member>>) {
    if member.conflicted() {
        again.push(member);
    } else {
        member.answer(Err(AppError::Busy));
    }
}

/// A queued command with its type erased.
trait Member: Send {
    /// Decides, reading as `reads` says; what to append (`None`: nothing).
    fn attempt<'a>(
        &'a mut self,
        shop: &'a Shop,
        reads: Reads<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Changes>, AttemptError>> + Send + 'a>>;

    /// Answers the caller: the last decision's result with its part of the
    /// round's commit (`None`: it appended nothing), or the error.
    fn answer(self: Box<Self>, outcome: Result<Option<Commit>, AppError>);

    /// Counts one more decision that could not be appended; whether the
    /// command may still try again.
    fn conflicted(&mut self) -> bool;
}

/// What a queued command gets back: its result with the append that
/// committed it (`None`: nothing was appended), or why it failed.
type Answer<T> = Result<(T, Option<Commit>), AppError>;

struct Typed<T, F> {
    attempt: F,
    value: Option<T>,
    reply: oneshot::Sender<Answer<T>>,
    conflicts: u32,
}

impl<T, F> Member for Typed<T, F>
where
    T: Send + 'static,
    F: for<'a> Fn(&'a Shop, Reads<'a>) -> AttemptFuture<'a, T> + Send + Sync + 'static,
{
    fn attempt<'a>(
        &'a mut self,
        shop: &'a Shop,
        reads: Reads<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Changes>, AttemptError>> + Send + 'a>> {
        Box::pin(async move {
            let decision = (self.attempt)(shop, reads).await?;
            self.value = Some(decision.value);
            Ok(decision.changes)
        })
    }

    fn answer(self: Box<Self>, outcome: Result<Option<Commit>, AppError>) {
        let Typed { value, reply, .. } = *self;
        let result = outcome.and_then(|commit| {
            let value = value
                .ok_or_else(|| AppError::Store("a shared command was answered before it was decided".to_owned()))?;
            Ok((value, commit))
        });
        // A caller that stopped waiting still had its command decided; it
        // finds the outcome in the log.
        let _ = reply.send(result);
    }

    fn conflicted(&mut self) -> bool {
        self.conflicts += 1;
        self.conflicts < limits::COMMAND_ATTEMPTS_MAX
    }
}

#[cfg(test)]
mod tests {
    use es_core::{Position, Version};

    use super::*;

    fn id() -> AggregateId {
        AggregateId::from(uuid::Uuid::new_v4())
    }

    #[test]
    fn a_member_sees_only_its_own_aggregates_of_the_round_at_the_rounds_position() {
        let (concert, mine, theirs) = (id(), id(), id());
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
