//! The lanes of shared commands: commands waiting to share an append on
//! their lead aggregate, and the one task at a time that serves each lane in
//! rounds (see the runner's module documentation).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::Runner;
use super::member::Queued;
use super::round::run_round;
use crate::ids::AggregateId;
use crate::repository::{RepositoryError, conflict_backoff};

/// Most commands taken from a lane for one round; the kernel's limits on
/// one append (aggregates, events, records, bytes) usually end a round sooner.
const ROUND_COMMANDS_MAX: usize = 64;

/// Commands waiting to share an append, by lead aggregate. A lane exists
/// while commands wait in it or a round is being served.
pub(super) struct Lanes<C, X> {
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
    pub(super) fn submit<E>(&self, runner: &Runner<C, E, X>, context: &C, lead: AggregateId, member: Queued<C, X>)
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
