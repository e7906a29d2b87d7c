//! What a request wrote, for read-your-writes.
//!
//! A client that reserves tickets and then reads its cart must see the
//! reservation. The edge therefore waits, after a command, until the read
//! models show what the command wrote. Waiting for the log's head would also
//! wait for everybody else's commits, and on a bus that keeps order per
//! aggregate only (the AWS configuration) no log position is ever known to
//! be applied everywhere. So the shop notes every append it commits on
//! behalf of the current request — the position and each aggregate's new
//! version — and the edge waits for exactly that ([`ReadSide::shows`]).
//!
//! The note is kept in a task-local scope that the edge opens around the
//! request ([`recording`]); appends made outside any scope (a background
//! process such as the expiry sweep) are not noted anywhere.
//!
//! [`ReadSide::shows`]: crate::queries::ReadSide::shows

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use es_core::{AggregateId, Commit, Position, Version};

tokio::task_local! {
    static WRITTEN: RefCell<Option<Written>>;
}

/// Everything the appends of one request wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Position of the last event written, where the log assigns positions
    /// at commit ([`Position::START`] where it does not).
    pub position: Position,
    /// The newest version of each aggregate written or checked, in the order
    /// first written.
    pub versions: Vec<(AggregateId, Version)>,
}

impl Written {
    /// Adds a commit: the later position (where the backend assigns one at
    /// commit), and per aggregate the higher version.
    fn add(&mut self, commit: &Commit) {
        if let Some(position) = commit.position {
            self.position = self.position.max(position);
        }
        let known: HashMap<AggregateId, usize> =
            self.versions.iter().enumerate().map(|(index, (aggregate_id, _))| (*aggregate_id, index)).collect();
        for &(aggregate_id, version) in &commit.versions {
            match known.get(&aggregate_id) {
                Some(&index) => self.versions[index].1 = self.versions[index].1.max(version),
                None => self.versions.push((aggregate_id, version)),
            }
        }
    }
}

/// Runs `work` and returns its output with what the shop committed for it
/// (`None`: nothing was committed, e.g. a refusal or a repeated command).
pub async fn recording<F: Future>(work: F) -> (F::Output, Option<Written>) {
    WRITTEN
        .scope(RefCell::new(None), async move {
            let output = work.await;
            let written = WRITTEN.with(|written| written.borrow_mut().take());
            (output, written)
        })
        .await
}

/// Notes `commit` in the current request's scope, if there is one.
pub(crate) fn note(commit: &Commit) {
    let _outside_any_scope = WRITTEN.try_with(|written| {
        written.borrow_mut().get_or_insert_with(Written::default).add(commit);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> AggregateId {
        AggregateId::from(uuid::Uuid::new_v4())
    }

    fn commit(position: u64, versions: &[(AggregateId, u64)]) -> Commit {
        Commit {
            position: Some(Position(position)),
            versions: versions.iter().map(|&(aggregate_id, version)| (aggregate_id, Version(version))).collect(),
        }
    }

    #[tokio::test]
    async fn commits_in_one_scope_add_up_to_the_last_position_and_the_newest_versions() {
        let (a, b) = (id(), id());
        let ((), written) = recording(async {
            note(&commit(4, &[(a, 1), (b, 3)]));
            note(&commit(9, &[(b, 5)]));
        })
        .await;
        assert_eq!(written, Some(Written { position: Position(9), versions: vec![(a, Version(1)), (b, Version(5))] }));
    }

    #[tokio::test]
    async fn a_scope_without_commits_notes_nothing_and_commits_outside_scopes_go_nowhere() {
        note(&commit(1, &[(id(), 1)]));
        let ((), written) = recording(async {}).await;
        assert_eq!(written, None);
    }

    #[tokio::test]
    async fn scopes_do_not_see_each_others_commits() {
        let a = id();
        let first = recording(async { note(&commit(2, &[(a, 2)])) });
        let second = recording(async {});
        let (((), first), ((), second)) = tokio::join!(first, second);
        assert_eq!(first.map(|written| written.position), Some(Position(2)));
        assert_eq!(second, None);
    }
}
