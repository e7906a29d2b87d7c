//! Cases for the read path of [`es_core::EventStore`]: the whole log in
//! commit order with position paging, one aggregate with version paging, and
//! the places a consumer may start from (a position, a time, the end).

use chrono::Duration;
use es_core::limits::READ_PAGE_MAX;
use es_core::{AggregateId, EventId, Position, RecordedEvent, StartFrom, Subscription, Version};

use crate::BackendFactory;
use crate::support::{
    assert_commit_order, assert_increasing_positions, commit_at, ids, load_everything, numbered, numbered_at,
    position_of, positions_at_commit, read_everything, read_page, versions,
};

/// `read_all` returns the events of every aggregate in the order their
/// appends committed; pages of a limit hold exactly that many events while
/// more remain, and reading after a page's last position continues without
/// a gap or a repeat.
pub async fn read_all_returns_every_aggregate_in_commit_order_and_pages_by_position(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (a, b, c) = (AggregateId::random(), AggregateId::random(), AggregateId::random());
    let mut expected: Vec<EventId> = Vec::new();
    let mut version = std::collections::HashMap::new();
    for (aggregate, count) in [(a, 2), (b, 1), (a, 1), (c, 3), (b, 2)] {
        let events: Vec<_> = (0..count).map(numbered).collect();
        expected.extend(events.iter().map(|event| event.event_id));
        let at: &mut u64 = version.entry(aggregate).or_default();
        commit_at(store, aggregate, *at, events).await;
        *at += count;
    }

    backend.settle().await;
    let all = read_page(store, Position::START, READ_PAGE_MAX).await;
    let committed: Vec<RecordedEvent> = {
        let mut streams = Vec::new();
        for aggregate in [a, b, c] {
            streams.extend(load_everything(store, aggregate).await);
        }
        expected
            .iter()
            .map(|id| streams.iter().find(|event| event.event_id == *id).cloned().expect("every event loads"))
            .collect()
    };
    assert_commit_order(store, &all, &committed, "read_all across aggregates");
    assert_increasing_positions(&all);
    if positions_at_commit(store) {
        let aggregates: Vec<AggregateId> = all.iter().map(|event| event.aggregate_id).collect();
        assert_eq!(aggregates, vec![a, a, b, a, c, c, c, b, b]);
        assert_eq!(versions(&all), vec![1, 2, 1, 3, 1, 2, 3, 2, 3], "each event keeps its version");
    }
    assert_eq!(
        all.last().map(|event| event.position),
        Some(store.head().await.expect("head")),
        "the head is the last position"
    );

    let mut paged: Vec<RecordedEvent> = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let after = paged.last().map_or(Position::START, |event| event.position);
        let page = read_page(store, after, 2).await;
        if page.is_empty() {
            break;
        }
        sizes.push(page.len());
        paged.extend(page);
    }
    assert_eq!(sizes, vec![2, 2, 2, 2, 1], "a page holds exactly `limit` events while more remain");
    assert_eq!(paged, all, "pages put together are the whole log");

    let fourth = all[3].position;
    assert_eq!(ids(&read_page(store, fourth, 1).await), vec![all[4].event_id]);
    assert_eq!(ids(&read_page(store, fourth, READ_PAGE_MAX).await), ids(&all[4..]));
    let last = all[8].position;
    assert!(read_page(store, last, READ_PAGE_MAX).await.is_empty(), "nothing after the head");
}

/// `load` returns only the aggregate's events, in version order; `after` and
/// `limit` page by version exactly, and an unknown aggregate has none.
pub async fn load_returns_one_aggregate_in_version_order_and_pages_by_version(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (a, b) = (AggregateId::random(), AggregateId::random());
    let mut a_events = Vec::new();
    for round in 0..5 {
        let event = numbered(round);
        a_events.push(event.event_id);
        commit_at(store, a, round, vec![event]).await;
        commit_at(store, b, round, vec![numbered(round)]).await;
    }

    let stream = load_everything(store, a).await;
    assert_eq!(ids(&stream), a_events, "load returns the aggregate's events in version order");
    assert!(stream.iter().all(|event| event.aggregate_id == a), "and only that aggregate's");
    assert_eq!(versions(&stream), vec![1, 2, 3, 4, 5]);
    if positions_at_commit(store) {
        assert_increasing_positions(&stream);
    }

    let page = |after: u64, limit: u32| async move {
        ids(&store.load(a, Version(after), limit).await.expect("load succeeds"))
    };
    assert_eq!(page(0, 1).await, a_events[..1].to_vec());
    assert_eq!(page(2, 2).await, a_events[2..4].to_vec(), "after version 2, two events: versions 3 and 4");
    assert_eq!(page(4, 10).await, a_events[4..].to_vec());
    assert_eq!(page(5, 10).await, Vec::<EventId>::new(), "nothing after the last version");
    assert_eq!(page(9, 10).await, Vec::<EventId>::new(), "nothing after a version beyond the stream");
    assert!(load_everything(store, AggregateId::random()).await.is_empty(), "an unknown aggregate has no events");

    let log = backend.log();
    let tail = log.load(a, Version(3)).await.expect("EventLog::load");
    assert_eq!(ids(&tail), a_events[3..].to_vec(), "EventLog::load reads after a version too");
}

/// Events at three instants, the middle one twice; returns their ids in
/// commit order and the instants.
async fn three_instants(store: &dyn es_core::EventStore) -> (Vec<EventId>, [chrono::DateTime<chrono::Utc>; 3]) {
    let t0 = crate::support::base_time();
    let times = [t0, t0 + Duration::seconds(10), t0 + Duration::seconds(20)];
    let (a, b) = (AggregateId::random(), AggregateId::random());
    let e0 = numbered_at(0, times[0]);
    let e1 = numbered_at(1, times[1]);
    let e2 = numbered_at(2, times[1]);
    let e3 = numbered_at(3, times[2]);
    let ids = vec![e0.event_id, e1.event_id, e2.event_id, e3.event_id];
    commit_at(store, a, 0, vec![e0]).await;
    commit_at(store, b, 0, vec![e1, e2]).await;
    commit_at(store, a, 1, vec![e3]).await;
    (ids, times)
}

/// Reading after `position_before(t)` starts at the first event created at
/// or after `t` (an event created exactly at `t` included), for times before,
/// at, between and after the events.
pub async fn position_before_a_time_points_just_before_the_first_event_created_at_or_after_it(
    factory: &dyn BackendFactory,
) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (all, [t0, t1, t2]) = three_instants(store).await;
    backend.settle().await;
    let ms = Duration::milliseconds(1);
    let cases = [
        ("a day before the first event", t0 - Duration::days(1), &all[..]),
        ("a millisecond before the first event", t0 - ms, &all[..]),
        ("the first event's time", t0, &all[..]),
        ("a millisecond after the first event", t0 + ms, &all[1..]),
        ("a millisecond before the second instant", t1 - ms, &all[1..]),
        ("the second instant, shared by two events", t1, &all[1..]),
        ("a millisecond after the second instant", t1 + ms, &all[3..]),
        ("the last event's time", t2, &all[3..]),
        ("a millisecond after the last event", t2 + ms, &[]),
    ];
    for (what, time, expected) in cases {
        let position = store.position_before(time).await.expect("position_before");
        let read = read_page(store, position, READ_PAGE_MAX).await;
        assert_eq!(ids(&read), expected.to_vec(), "reading after position_before({what})");
    }
}

/// A subscription started from the beginning sees everything, from a
/// position sees what follows it, from a time sees what was created from
/// then on, and from the end sees only what commits later.
pub async fn subscriptions_start_from_the_beginning_a_position_a_time_or_the_end(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let log = backend.log();
    let (all, [_, t1, _]) = three_instants(store).await;
    backend.settle().await;
    let everything = read_everything(store).await;

    let mut beginning = Subscription::start(&log, StartFrom::Beginning).await.expect("start");
    assert_eq!(beginning.position(), Position::START);
    assert_eq!(ids(&beginning.poll().await.expect("poll")), all, "from the beginning: everything");

    let second = everything[1].position;
    let mut after = Subscription::start(&log, StartFrom::After(second)).await.expect("start");
    assert_eq!(after.position(), second);
    assert_eq!(ids(&after.poll().await.expect("poll")), all[2..].to_vec(), "after a position: what follows it");

    let mut from_time = Subscription::start(&log, StartFrom::Time(t1)).await.expect("start");
    assert_eq!(ids(&from_time.poll().await.expect("poll")), all[1..].to_vec(), "from a time: created at or after it");

    let head = store.head().await.expect("head");
    let mut end = Subscription::start(&log, StartFrom::End).await.expect("start");
    assert_eq!(end.position(), head, "the end is the head");
    assert!(end.poll().await.expect("poll").is_empty(), "nothing committed yet after the end");
    let later = numbered(4);
    let commit = commit_at(store, AggregateId::random(), 0, vec![later.clone()]).await;
    backend.settle().await;
    let polled = end.poll().await.expect("poll");
    assert_eq!(ids(&polled), vec![later.event_id], "a commit after the start is seen");
    assert_eq!(end.position(), position_of(&backend, &commit).await);

    for subscription in [&mut beginning, &mut after, &mut from_time] {
        assert_eq!(
            ids(&subscription.poll().await.expect("poll")),
            vec![later.event_id],
            "every subscription follows on"
        );
    }
}
