//! Commands that touch the same aggregate take turns inside one process, so
//! that a hot aggregate costs one commit per command instead of a storm of
//! version conflicts. The expected versions still guard against every other
//! process: the turns are only an optimisation, never the correctness.
//!
//! One [`Turns`] is shared by every repository of a process (and by
//! application handlers that span several aggregates), so that a
//! single-aggregate command and a multi-aggregate one on the same aggregate
//! wait for each other too.

use tokio::sync::{Mutex, MutexGuard};

use crate::ids::AggregateId;
use crate::limits;

/// Striped locks keyed by aggregate id. Distinct aggregates rarely share a
/// stripe ([`limits::COMMAND_LOCK_STRIPES`]).
pub struct Turns {
    stripes: Box<[Mutex<()>]>,
}

impl std::fmt::Debug for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turns").field("stripes", &self.stripes.len()).finish()
    }
}

impl Default for Turns {
    fn default() -> Self {
        Self::new()
    }
}

impl Turns {
    /// A fresh set of stripes.
    pub fn new() -> Self {
        Self { stripes: (0..limits::COMMAND_LOCK_STRIPES).map(|_| Mutex::new(())).collect() }
    }

    /// Waits for the turn of every aggregate in `ids`. Stripes are taken in
    /// ascending order, each once, so two callers never wait on each other
    /// in a cycle. The turn lasts as long as the returned guards.
    pub async fn take(&self, ids: &[AggregateId]) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = ids.iter().map(|id| self.stripe(*id)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            guards.push(self.stripes[stripe].lock().await);
        }
        guards
    }

    fn stripe(&self, id: AggregateId) -> usize {
        // The low half of a UUID v4 or v7 is random.
        (id.as_uuid().as_u64_pair().1 % self.stripes.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_caller_waits_until_the_first_turn_ends() {
        let turns = Turns::new();
        let id = AggregateId::random();
        let first = turns.take(&[id]).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), turns.take(&[id])).await;
        assert!(waiting.is_err(), "the second caller got the turn while the first held it");
        drop(first);
        let second = tokio::time::timeout(std::time::Duration::from_millis(200), turns.take(&[id, id])).await;
        assert!(second.is_ok(), "the turn was not handed over, or a repeated id deadlocked");
    }
}
