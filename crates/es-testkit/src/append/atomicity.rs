//! Cases for appends over several aggregates: all or nothing whichever
//! member conflicts, every member written when none does, and a member
//! without events that only checks its version.

use es_core::limits::READ_PAGE_MAX;
use es_core::{AggregateId, AppendRequest, EventId, ExpectedVersion, Version, VersionConflict};

use crate::BackendFactory;
use crate::support::{
    Untouched, assert_increasing_positions, commit, commit_at, expect_conflict, ids, load_everything, member, new_ids,
    numbered, position_of, read_page, versions,
};

/// An append over several aggregates where one member's expected version is
/// wrong writes nothing for any member, wherever the bad member sits in the
/// request, and names the bad member in the conflict.
pub async fn an_atomic_append_with_one_conflicting_member_writes_nothing_for_any_member(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (a, b, fresh) = (AggregateId::random(), AggregateId::random(), AggregateId::random());
    commit_at(store, a, 0, vec![numbered(1)]).await;
    commit_at(store, b, 0, vec![numbered(1)]).await;
    let before = Untouched::capture(&backend, &[a, b, fresh]).await;

    let stale_last = AppendRequest {
        streams: vec![
            member(fresh, ExpectedVersion::NoStream, vec![numbered(1), numbered(2)]),
            member(a, ExpectedVersion::Exact(Version(1)), vec![numbered(2)]),
            member(b, ExpectedVersion::Exact(Version(0)), vec![numbered(2)]),
        ],
        commands: Vec::new(),
    };
    assert_eq!(
        expect_conflict(store.append(stale_last).await),
        VersionConflict { aggregate_id: b, expected: ExpectedVersion::Exact(Version(0)), actual: Version(1) }
    );
    before.assert_unchanged(&backend, "an atomic append whose last member conflicts").await;

    let stale_first = AppendRequest {
        streams: vec![
            member(a, ExpectedVersion::NoStream, vec![numbered(2)]),
            member(b, ExpectedVersion::Exact(Version(1)), vec![numbered(2)]),
            member(fresh, ExpectedVersion::Exact(Version(0)), vec![numbered(1)]),
        ],
        commands: Vec::new(),
    };
    assert_eq!(
        expect_conflict(store.append(stale_first).await),
        VersionConflict { aggregate_id: a, expected: ExpectedVersion::NoStream, actual: Version(1) }
    );
    before.assert_unchanged(&backend, "an atomic append whose first member conflicts").await;
}

/// A valid append over several aggregates writes every member, reports each
/// member's new version in request order, and lands after the previous head.
pub async fn an_atomic_append_over_several_aggregates_writes_every_member(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (a, b, c) = (AggregateId::random(), AggregateId::random(), AggregateId::random());
    let a_first = vec![numbered(1), numbered(2)];
    let previous = commit_at(store, a, 0, a_first.clone()).await;
    let previous = position_of(&backend, &previous).await;

    let a_more = vec![numbered(3), numbered(4)];
    let b_events = vec![numbered(1)];
    let c_events = vec![numbered(1), numbered(2), numbered(3)];
    let request = AppendRequest {
        streams: vec![
            member(a, ExpectedVersion::Exact(Version(2)), a_more.clone()),
            member(b, ExpectedVersion::NoStream, b_events.clone()),
            member(c, ExpectedVersion::Exact(Version(0)), c_events.clone()),
        ],
        commands: Vec::new(),
    };
    let commit = commit(store, request).await;
    assert_eq!(commit.versions, vec![(a, Version(4)), (b, Version(1)), (c, Version(3))], "versions in request order");
    let position = position_of(&backend, &commit).await;
    assert_eq!(store.head().await.expect("head"), position, "the head is the commit's position");

    let a_stream = load_everything(store, a).await;
    assert_eq!(ids(&a_stream), new_ids(&[a_first, a_more.clone()].concat()));
    assert_eq!(versions(&a_stream), vec![1, 2, 3, 4]);
    let b_stream = load_everything(store, b).await;
    assert_eq!((ids(&b_stream), versions(&b_stream)), (new_ids(&b_events), vec![1]));
    let c_stream = load_everything(store, c).await;
    assert_eq!((ids(&c_stream), versions(&c_stream)), (new_ids(&c_events), vec![1, 2, 3]));

    let appended = read_page(store, previous, READ_PAGE_MAX).await;
    assert_eq!(appended.len(), 6, "read_all after the previous head holds exactly the six new events");
    assert_increasing_positions(&appended);
    assert!(appended.iter().all(|event| event.position > previous && event.position <= position));
    let mut seen: Vec<EventId> = ids(&appended);
    seen.sort();
    let mut expected: Vec<EventId> = new_ids(&[a_more, b_events, c_events].concat());
    expected.sort();
    assert_eq!(seen, expected);
    for aggregate in [a, b, c] {
        let per_aggregate: Vec<u64> = appended
            .iter()
            .filter(|event| event.aggregate_id == aggregate)
            .map(|event| event.aggregate_version.0)
            .collect();
        assert!(per_aggregate.is_sorted(), "read_all keeps each aggregate in version order: {per_aggregate:?}");
    }
}

/// A member with no events writes nothing for its aggregate but its expected
/// version is checked with the rest: right, the append goes through and
/// reports the member's unchanged version; wrong, nothing is written at all.
pub async fn a_member_without_events_only_checks_its_version(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (checked, written, refused) = (AggregateId::random(), AggregateId::random(), AggregateId::random());
    commit_at(store, checked, 0, vec![numbered(1)]).await;
    backend.settle().await;
    let head = store.head().await.expect("head");

    let event = numbered(1);
    let request = AppendRequest {
        streams: vec![
            member(written, ExpectedVersion::NoStream, vec![event.clone()]),
            member(checked, ExpectedVersion::Exact(Version(1)), Vec::new()),
        ],
        commands: Vec::new(),
    };
    let commit = commit(store, request).await;
    assert_eq!(commit.versions, vec![(written, Version(1)), (checked, Version(1))]);
    assert_eq!(versions(&load_everything(store, checked).await), vec![1], "the checked aggregate got no event");
    backend.settle().await;
    let appended = read_page(store, head, READ_PAGE_MAX).await;
    assert_eq!(ids(&appended), vec![event.event_id], "only the written member's event was appended");

    let before = Untouched::capture(&backend, &[checked, written, refused]).await;
    let request = AppendRequest {
        streams: vec![
            member(refused, ExpectedVersion::NoStream, vec![numbered(1)]),
            member(checked, ExpectedVersion::Exact(Version(0)), Vec::new()),
        ],
        commands: Vec::new(),
    };
    assert_eq!(
        expect_conflict(store.append(request).await),
        VersionConflict { aggregate_id: checked, expected: ExpectedVersion::Exact(Version(0)), actual: Version(1) }
    );
    before.assert_unchanged(&backend, "an append whose version-check member conflicts").await;
}
