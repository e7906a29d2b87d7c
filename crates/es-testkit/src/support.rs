//! Small helpers the cases share: building events, reading a whole log or
//! stream, and turning the outcome of an append into the one a case expects
//! (with a message that says what the backend did instead).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use es_core::limits::READ_PAGE_MAX;
use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, Commit, EventId, EventStore, LogOrder, Metadata, NewEvent,
    Position, RecordedEvent, StreamAppend, Version, VersionConflict, truncate_to_millis,
};

use crate::Backend;

/// The event type of the generic events most cases append.
pub(crate) const NUMBERED: &str = "Numbered";

/// A fixed instant with a non-zero millisecond part, so that a backend that
/// drops milliseconds is caught.
pub(crate) fn base_time() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_773_500_966_535).single().expect("a valid millisecond timestamp")
}

/// A generic event carrying `{"n": n}`, created now.
pub(crate) fn numbered(n: u64) -> NewEvent {
    numbered_at(n, truncate_to_millis(Utc::now()))
}

/// A generic event carrying `{"n": n}`, created at `created`.
pub(crate) fn numbered_at(n: u64, created: DateTime<Utc>) -> NewEvent {
    NewEvent {
        event_id: EventId::random(),
        event_type: NUMBERED.to_owned(),
        schema_version: 1,
        data: format!(r#"{{"n":{n}}}"#),
        created,
        metadata: Metadata::default(),
    }
}

/// The `n` of a [`numbered`] event.
pub(crate) fn number_of(event: &RecordedEvent) -> Result<u64, String> {
    let data: serde_json::Value = serde_json::from_str(&event.data).map_err(|error| error.to_string())?;
    data.get("n").and_then(serde_json::Value::as_u64).ok_or_else(|| format!("event {} has no n", event.event_id))
}

/// One member of an append.
pub(crate) fn member(
    aggregate_id: AggregateId,
    expected: es_core::ExpectedVersion,
    events: Vec<NewEvent>,
) -> StreamAppend {
    StreamAppend { aggregate_id, expected, events }
}

/// Appends and insists that it committed.
pub(crate) async fn commit(store: &dyn EventStore, request: AppendRequest) -> Commit {
    match store.append(request).await {
        Ok(Appended::Committed(commit)) => commit,
        other => panic!("expected the append to commit, got {other:?}"),
    }
}

/// Whether the backend positions events in the commit itself.
pub(crate) fn positions_at_commit(store: &dyn EventStore) -> bool {
    store.log_order() == LogOrder::AtCommit
}

/// `events` as `load` returns them: a backend that positions after the
/// commit has no position on events read per aggregate.
pub(crate) fn as_loaded(store: &dyn EventStore, events: &[RecordedEvent]) -> Vec<RecordedEvent> {
    let mut events = events.to_vec();
    if !positions_at_commit(store) {
        for event in &mut events {
            event.position = Position::START;
        }
    }
    events
}

/// Where a commit's last event sits in the whole log: from the commit, or
/// from the index once the indexer has passed it.
pub(crate) async fn position_of(backend: &Backend, commit: &Commit) -> Position {
    if let Some(position) = commit.position {
        return position;
    }
    backend.settle().await;
    let log = read_everything(&*backend.store).await;
    let positions = commit.versions.iter().map(|(aggregate_id, version)| {
        log.iter()
            .find(|event| event.aggregate_id == *aggregate_id && event.aggregate_version == *version)
            .map(|event| event.position)
            .unwrap_or_else(|| panic!("{aggregate_id} version {version} of a commit is not in the log"))
    });
    positions.max().unwrap_or_default()
}

/// Asserts that `log` holds the events of `expected` (in commit order) each
/// once: in exactly that order on a backend that positions at commit, and
/// in each aggregate's order on one that positions after it.
pub(crate) fn assert_commit_order(
    store: &dyn EventStore,
    log: &[RecordedEvent],
    expected: &[RecordedEvent],
    what: &str,
) {
    if positions_at_commit(store) {
        assert_eq!(ids(log), ids(expected), "{what}: in commit order");
        return;
    }
    let per_aggregate = |events: &[RecordedEvent]| {
        let mut streams: std::collections::HashMap<AggregateId, Vec<EventId>> = std::collections::HashMap::new();
        for event in events {
            streams.entry(event.aggregate_id).or_default().push(event.event_id);
        }
        streams
    };
    assert_eq!(log.len(), expected.len(), "{what}: every event once");
    assert_eq!(per_aggregate(log), per_aggregate(expected), "{what}: each aggregate in commit order");
}

/// Where a commit landed, on a backend that positions at commit
/// ([`es_core::LogOrder::AtCommit`]): the cases that read it need one.
pub(crate) fn at(commit: &Commit) -> Position {
    commit.position.unwrap_or_else(|| panic!("the backend says it positions at commit, yet {commit:?} has no position"))
}

/// Appends events to one aggregate at an exact version and insists that it
/// committed.
pub(crate) async fn commit_at(
    store: &dyn EventStore,
    aggregate_id: AggregateId,
    version: u64,
    events: Vec<NewEvent>,
) -> Commit {
    commit(store, AppendRequest::single(aggregate_id, es_core::ExpectedVersion::Exact(Version(version)), events)).await
}

/// Insists that an append failed with a version conflict, and returns it.
pub(crate) fn expect_conflict(outcome: Result<Appended, AppendError>) -> VersionConflict {
    match outcome {
        Err(AppendError::Conflict(conflict)) => conflict,
        other => panic!("expected a version conflict, got {other:?}"),
    }
}

/// One page of `read_all`, checked to hold at most `limit` events, all after
/// `after` (so that a loop over pages always ends).
pub(crate) async fn read_page(store: &dyn EventStore, after: Position, limit: u32) -> Vec<RecordedEvent> {
    let page = store.read_all(after, limit).await.expect("read_all succeeds");
    assert!(
        page.len() <= limit as usize,
        "read_all after {after} returned {} events, over the limit {limit}",
        page.len()
    );
    if let Some(event) = page.iter().find(|event| event.position <= after) {
        panic!("read_all after {after} returned event {} at position {}", event.event_id, event.position);
    }
    page
}

/// The whole log, following pages.
pub(crate) async fn read_everything(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let after = events.last().map_or(Position::START, |last| last.position);
        let page = read_page(store, after, READ_PAGE_MAX).await;
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

/// The whole stream of one aggregate.
pub(crate) async fn load_everything(store: &dyn EventStore, aggregate_id: AggregateId) -> Vec<RecordedEvent> {
    store.load(aggregate_id, Version::INITIAL, READ_PAGE_MAX).await.expect("load succeeds")
}

/// The event ids of some records, in order.
pub(crate) fn ids(events: &[RecordedEvent]) -> Vec<EventId> {
    events.iter().map(|event| event.event_id).collect()
}

/// The event ids of some new events, in order.
pub(crate) fn new_ids(events: &[NewEvent]) -> Vec<EventId> {
    events.iter().map(|event| event.event_id).collect()
}

/// The versions of some records, in order.
pub(crate) fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|event| event.aggregate_version.0).collect()
}

/// Asserts that positions strictly increase and start above zero.
pub(crate) fn assert_increasing_positions(events: &[RecordedEvent]) {
    let mut previous = Position::START;
    for event in events {
        assert!(
            event.position > previous,
            "position {} of event {} does not follow {previous}: positions must strictly increase and start above 0",
            event.position,
            event.event_id
        );
        previous = event.position;
    }
}

/// What a case captures before an append that must write nothing, to compare
/// after it.
pub(crate) struct Untouched {
    head: Position,
    log: Vec<RecordedEvent>,
    streams: Vec<(AggregateId, Vec<RecordedEvent>)>,
}

impl Untouched {
    /// Captures the head, the whole log (once the indexer, if any, has run)
    /// and the streams of `aggregates`.
    pub(crate) async fn capture(backend: &Backend, aggregates: &[AggregateId]) -> Self {
        backend.settle().await;
        let store = &*backend.store;
        let mut streams = Vec::new();
        for &aggregate_id in aggregates {
            streams.push((aggregate_id, load_everything(store, aggregate_id).await));
        }
        Self { head: store.head().await.expect("head succeeds"), log: read_everything(store).await, streams }
    }

    /// Asserts that nothing changed since the capture, also once the
    /// indexer (if any) has run.
    pub(crate) async fn assert_unchanged(&self, backend: &Backend, what: &str) {
        backend.settle().await;
        let store = &*backend.store;
        assert_eq!(store.head().await.expect("head succeeds"), self.head, "{what}: the head moved");
        assert_eq!(read_everything(store).await, self.log, "{what}: read_all changed");
        for (aggregate_id, stream) in &self.streams {
            assert_eq!(
                &load_everything(store, *aggregate_id).await,
                stream,
                "{what}: aggregate {aggregate_id} changed"
            );
        }
    }
}

/// Polls `check` every few milliseconds until it returns `Some`, or fails
/// after `within`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: still not true after {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
