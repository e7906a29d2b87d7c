//! Cases for the optimistic-concurrency check of a single aggregate's
//! append (`Exact`, `NoStream`, `Any`), and for appends of two processes to
//! different aggregates, which must never conflict.

use std::sync::Arc;

use es_core::{AggregateId, AppendRequest, Appended, ExpectedVersion, Version, VersionConflict};

use crate::BackendFactory;
use crate::support::{
    Untouched, assert_increasing_positions, commit, commit_at, expect_conflict, ids, load_everything, new_ids,
    numbered, read_everything, versions,
};

/// An append whose expected version is behind (or ahead of) the aggregate's
/// fails with a conflict naming the aggregate, the expectation and the actual
/// version, and writes nothing; the stream stays appendable at its real
/// version.
pub async fn appending_at_a_stale_version_is_a_conflict_and_writes_nothing(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let aggregate = AggregateId::random();
    let other = AggregateId::random();
    commit_at(store, aggregate, 0, vec![numbered(1), numbered(2)]).await;
    commit_at(store, other, 0, vec![numbered(1)]).await;
    let before = Untouched::capture(&backend, &[aggregate, other]).await;

    for expected in [Version(0), Version(1), Version(3), Version(50)] {
        let outcome = store
            .append(AppendRequest::single(aggregate, ExpectedVersion::Exact(expected), vec![numbered(9), numbered(10)]))
            .await;
        assert_eq!(
            expect_conflict(outcome),
            VersionConflict { aggregate_id: aggregate, expected: ExpectedVersion::Exact(expected), actual: Version(2) },
            "a conflict reports the aggregate, what was expected and what is there"
        );
        before.assert_unchanged(&backend, &format!("a conflicting append at version {expected}")).await;
    }

    let last = numbered(3);
    let commit = commit_at(store, aggregate, 2, vec![last.clone()]).await;
    assert_eq!(commit.versions, vec![(aggregate, Version(3))]);
    let stream = load_everything(store, aggregate).await;
    assert_eq!(versions(&stream), vec![1, 2, 3]);
    assert_eq!(stream[2].event_id, last.event_id, "the append at the right version went through");
}

/// `ExpectedVersion::NoStream` admits only an aggregate without events: the
/// first append goes through, the second is a conflict that writes nothing.
pub async fn expecting_no_stream_on_an_existing_stream_is_a_conflict(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let aggregate = AggregateId::random();
    let first = numbered(1);
    let commit = commit(store, AppendRequest::single(aggregate, ExpectedVersion::NoStream, vec![first.clone()])).await;
    assert_eq!(commit.versions, vec![(aggregate, Version(1))]);
    let before = Untouched::capture(&backend, &[aggregate]).await;

    let outcome = store.append(AppendRequest::single(aggregate, ExpectedVersion::NoStream, vec![numbered(2)])).await;
    assert_eq!(
        expect_conflict(outcome),
        VersionConflict { aggregate_id: aggregate, expected: ExpectedVersion::NoStream, actual: Version(1) }
    );
    before.assert_unchanged(&backend, "a second NoStream append").await;
    assert_eq!(ids(&load_everything(store, aggregate).await), vec![first.event_id]);
}

/// `ExpectedVersion::Any` appends after whatever the stream holds, new or
/// not, keeping versions contiguous.
pub async fn expecting_any_version_appends_after_the_current_one(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let aggregate = AggregateId::random();
    let first = vec![numbered(1)];
    let commit_1 = commit(store, AppendRequest::single(aggregate, ExpectedVersion::Any, first.clone())).await;
    assert_eq!(commit_1.versions, vec![(aggregate, Version(1))]);
    let second = vec![numbered(2), numbered(3)];
    let commit_2 = commit(store, AppendRequest::single(aggregate, ExpectedVersion::Any, second.clone())).await;
    assert_eq!(commit_2.versions, vec![(aggregate, Version(3))]);
    let stream = load_everything(store, aggregate).await;
    assert_eq!(versions(&stream), vec![1, 2, 3]);
    assert_eq!(ids(&stream), new_ids(&[first, second].concat()));
}

/// Two processes (two stores on one storage) appending at once, each to its
/// own aggregates, never conflict: every append commits, each aggregate holds
/// exactly its versions, and the log (once positioned) holds every event
/// once. Runs for backends that make this promise
/// ([`BackendFactory::fresh_with_second_process`]); that they also never wait
/// on each other shows in the calls in flight at once, measured end to end.
pub async fn two_processes_appending_to_different_aggregates_never_conflict(factory: &dyn BackendFactory) {
    const WRITERS_EACH: usize = 8;
    const APPENDS: u64 = 4;
    let Some((backend, second)) = factory.fresh_with_second_process().await else { return };
    let mut writers = Vec::new();
    for (process, store) in [Arc::clone(&backend.store), second].into_iter().enumerate() {
        for writer in 0..WRITERS_EACH {
            let store = Arc::clone(&store);
            writers.push(tokio::spawn(async move {
                let aggregate = AggregateId::random();
                for version in 0..APPENDS {
                    let request = AppendRequest::single(
                        aggregate,
                        ExpectedVersion::Exact(Version(version)),
                        vec![numbered(version)],
                    );
                    match store.append(request).await {
                        Ok(Appended::Committed(_)) => {}
                        other => return Err(format!("process {process}, writer {writer}: {other:?}")),
                    }
                }
                Ok(aggregate)
            }));
        }
    }
    let mut aggregates = Vec::new();
    for writer in writers {
        aggregates.push(writer.await.expect("a writer does not panic").expect("every append commits at once"));
    }
    for aggregate in &aggregates {
        let stream = load_everything(&*backend.store, *aggregate).await;
        assert_eq!(versions(&stream), (1..=APPENDS).collect::<Vec<_>>(), "{aggregate} holds exactly its appends");
    }
    backend.settle().await;
    let log = read_everything(&*backend.store).await;
    assert_eq!(log.len(), aggregates.len() * APPENDS as usize, "the log holds every event once");
    assert_increasing_positions(&log);
}
