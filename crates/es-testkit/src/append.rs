//! Cases for the write path of [`es_core::EventStore`]: what an append
//! stores, the optimistic-concurrency check on every member, atomicity across
//! aggregates, and the validation a backend must do itself (a caller that
//! skips [`es_core::EventLog`] must not be able to store a malformed event).

use chrono::Duration;
use es_core::limits::{
    AGGREGATES_PER_APPEND_MAX, APPEND_DATA_BYTES_MAX, EVENT_DATA_BYTES_MAX, EVENT_TYPE_BYTES_MAX,
    EVENTS_PER_APPEND_MAX, READ_PAGE_MAX,
};
use std::sync::Arc;

use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, CommandId, CommandRecord, CorrelationId, EventId,
    ExpectedVersion, InvalidAppend, Metadata, NewEvent, Position, RecordedEvent, Version, VersionConflict,
};

use crate::BackendFactory;
use crate::support::{
    Untouched, as_loaded, assert_increasing_positions, at, base_time, commit, commit_at, expect_conflict, ids,
    load_everything, member, new_ids, numbered, position_of, positions_at_commit, read_everything, read_page, versions,
};

/// JSON text of exactly `bytes` bytes.
fn json_of_size(bytes: usize) -> String {
    let overhead = r#"{"pad":""}"#.len();
    format!(r#"{{"pad":"{}"}}"#, "x".repeat(bytes - overhead))
}

fn event(event_type: &str, schema_version: u32, data: &str, created: chrono::DateTime<chrono::Utc>) -> NewEvent {
    NewEvent {
        event_id: EventId::random(),
        event_type: event_type.to_owned(),
        schema_version,
        data: data.to_owned(),
        created,
        metadata: Metadata::default(),
    }
}

/// What the log must hold for `new` once it is stored at `version` (the
/// position is the backend's to choose, so it is taken from `stored`).
fn expected_record(aggregate_id: AggregateId, version: u64, new: &NewEvent, stored: &RecordedEvent) -> RecordedEvent {
    RecordedEvent {
        position: stored.position,
        aggregate_id,
        aggregate_version: Version(version),
        created: new.created,
        event_type: new.event_type.clone(),
        data: new.data.clone(),
        event_id: new.event_id,
        schema_version: new.schema_version,
        metadata: new.metadata.clone(),
    }
}

/// A fresh backend is empty; an appended event comes back from `load` and
/// `read_all` with every field as written (`AggregateId`, contiguous
/// `AggregateVersion` from 1, `Created` to the millisecond, `EventType`,
/// `Data` byte for byte, event id, schema version, metadata, set or not), at
/// strictly increasing positions that the commit and the head report. The
/// largest allowed event type and `Data` are stored whole.
pub async fn appended_events_round_trip_every_field_through_load_and_read_all(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    assert_eq!(store.head().await.expect("head"), Position::START, "a fresh backend must be empty");
    assert!(read_page(store, Position::START, READ_PAGE_MAX).await.is_empty());

    let aggregate = AggregateId::random();
    assert!(load_everything(store, aggregate).await.is_empty(), "an unknown aggregate has no events");
    let base = base_time();
    let mut first = event(
        "TicketReserved",
        1,
        r#"{"seat":"A-12","price":{"amount":4200,"currency":"EUR"},"note":"façade ✓ \"quoted\" \\ \n","tags":[]}"#,
        base,
    );
    first.metadata = Metadata {
        correlation_id: Some(CorrelationId::random()),
        causation_id: Some(uuid::Uuid::new_v4()),
        actor: Some("auth0|user-42".to_owned()),
    };
    let mut second = event("ticket.v2:Held-Over_x", 7, "{}", base + Duration::milliseconds(1));
    second.metadata = Metadata { actor: Some("scheduler".to_owned()), ..Metadata::default() };
    let third = event("Numbered", 1, r#"{"n":-1.5e3,"nothing":null,"yes":true}"#, base + Duration::milliseconds(999));
    let first_append = vec![first, second, third];
    let commit_1 =
        commit(store, AppendRequest::single(aggregate, ExpectedVersion::Exact(Version(0)), first_append.clone())).await;
    assert_eq!(commit_1.versions, vec![(aggregate, Version(3))], "the commit reports the new version");

    let mut fourth =
        event(&"T".repeat(EVENT_TYPE_BYTES_MAX), 2, &json_of_size(EVENT_DATA_BYTES_MAX), base + Duration::days(400));
    fourth.metadata = Metadata { correlation_id: Some(CorrelationId::random()), ..Metadata::default() };
    let fifth = event("Numbered", 1, r#"[1,2,3]"#, base + Duration::days(400) + Duration::milliseconds(7));
    let second_append = vec![fourth, fifth];
    let commit_2 = commit_at(store, aggregate, 3, second_append.clone()).await;
    assert_eq!(commit_2.versions, vec![(aggregate, Version(5))], "the commit reports the new version");

    let written: Vec<NewEvent> = first_append.into_iter().chain(second_append).collect();
    let loaded = load_everything(store, aggregate).await;
    assert_eq!(versions(&loaded), vec![1, 2, 3, 4, 5], "versions are contiguous from 1");
    for (index, (new, stored)) in written.iter().zip(&loaded).enumerate() {
        assert_eq!(
            stored,
            &expected_record(aggregate, index as u64 + 1, new, stored),
            "load returns every field as written"
        );
    }
    if positions_at_commit(store) {
        assert_increasing_positions(&loaded);
        assert_eq!(loaded[2].position, at(&commit_1), "the commit's position is that of its last event");
        assert_eq!(loaded[4].position, at(&commit_2), "the commit's position is that of its last event");
    } else {
        assert_eq!((commit_1.position, commit_2.position), (None, None), "no position is known at commit");
    }
    backend.settle().await;
    let all = read_everything(store).await;
    assert_increasing_positions(&all);
    let head = position_of(&backend, &commit_2).await;
    assert_eq!(all.last().map(|event| event.position), Some(head), "the last commit's event is the last one");
    assert_eq!(store.head().await.expect("head"), head, "the head is the last commit's position");
    assert_eq!(as_loaded(store, &all), loaded, "read_all returns the same records as load, in the same order");
    let page = read_page(store, Position::START, READ_PAGE_MAX).await;
    assert_eq!(page, all, "one page holds them all");
    assert!(read_page(store, head, READ_PAGE_MAX).await.is_empty(), "nothing after the head");
}

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

/// The store refuses malformed or oversized appends itself (not only through
/// `EventLog`), with the same `InvalidAppend` as the kernel's validation,
/// and writes nothing, not even the valid members or the command id.
pub async fn invalid_appends_are_refused_by_the_store_itself_and_write_nothing(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (a, b) = (AggregateId::random(), AggregateId::random());
    commit_at(store, a, 0, vec![numbered(1)]).await;
    let now = base_time();
    let valid = || member(b, ExpectedVersion::NoStream, vec![numbered(1)]);
    let with_event = |event: NewEvent| AppendRequest {
        streams: vec![valid(), member(a, ExpectedVersion::Exact(Version(1)), vec![event])],
        commands: Vec::new(),
    };
    let many_aggregates = (0..=AGGREGATES_PER_APPEND_MAX)
        .map(|_| member(AggregateId::random(), ExpectedVersion::NoStream, vec![numbered(1)]))
        .collect::<Vec<_>>();
    let events_per_member = EVENTS_PER_APPEND_MAX / 4 + 1;
    let spread_events = (0..4)
        .map(|_| {
            member(
                AggregateId::random(),
                ExpectedVersion::NoStream,
                (0..events_per_member as u64).map(numbered).collect(),
            )
        })
        .collect();

    let heavy_events = APPEND_DATA_BYTES_MAX / EVENT_DATA_BYTES_MAX + 1;
    let cases: Vec<(&str, AppendRequest, InvalidAppend)> = vec![
        ("no members", AppendRequest::default(), InvalidAppend::Empty),
        (
            "members without events",
            AppendRequest { streams: vec![member(b, ExpectedVersion::NoStream, Vec::new())], commands: Vec::new() },
            InvalidAppend::Empty,
        ),
        (
            "an aggregate twice",
            AppendRequest {
                streams: vec![valid(), member(b, ExpectedVersion::Exact(Version(1)), vec![numbered(2)])],
                commands: Vec::new(),
            },
            InvalidAppend::RepeatedAggregate(b),
        ),
        (
            "data that is not JSON",
            with_event(event("Numbered", 1, "{not json", now)),
            InvalidAppend::DataNotJson("Numbered".into()),
        ),
        ("empty data", with_event(event("Numbered", 1, "", now)), InvalidAppend::DataNotJson("Numbered".into())),
        (
            "data over the limit",
            with_event(event("Numbered", 1, &json_of_size(EVENT_DATA_BYTES_MAX + 1), now)),
            InvalidAppend::DataTooLarge(EVENT_DATA_BYTES_MAX + 1),
        ),
        ("an empty event type", with_event(event("", 1, "{}", now)), InvalidAppend::EventType(String::new())),
        (
            "an event type with a space",
            with_event(event("Seat Held", 1, "{}", now)),
            InvalidAppend::EventType("Seat Held".into()),
        ),
        (
            "a non-ASCII event type",
            with_event(event("Réservé", 1, "{}", now)),
            InvalidAppend::EventType("Réservé".into()),
        ),
        (
            "an event type over the limit",
            with_event(event(&"T".repeat(EVENT_TYPE_BYTES_MAX + 1), 1, "{}", now)),
            InvalidAppend::EventType("T".repeat(EVENT_TYPE_BYTES_MAX + 1)),
        ),
        (
            "schema version 0",
            with_event(event("Numbered", 0, "{}", now)),
            InvalidAppend::SchemaVersion("Numbered".into()),
        ),
        (
            "too many events in one member",
            AppendRequest::single(
                b,
                ExpectedVersion::NoStream,
                (0..=EVENTS_PER_APPEND_MAX as u64).map(numbered).collect(),
            ),
            InvalidAppend::TooManyEvents(EVENTS_PER_APPEND_MAX + 1),
        ),
        (
            "too many events over several members",
            AppendRequest { streams: spread_events, commands: Vec::new() },
            InvalidAppend::TooManyEvents(4 * events_per_member),
        ),
        (
            "more data than one append may carry",
            AppendRequest::single(
                b,
                ExpectedVersion::NoStream,
                (0..heavy_events).map(|_| event("Numbered", 1, &json_of_size(EVENT_DATA_BYTES_MAX), now)).collect(),
            ),
            InvalidAppend::AppendTooLarge(heavy_events * EVENT_DATA_BYTES_MAX),
        ),
        (
            "too many aggregates",
            AppendRequest { streams: many_aggregates, commands: Vec::new() },
            InvalidAppend::TooManyAggregates(AGGREGATES_PER_APPEND_MAX + 1),
        ),
    ];

    let before = Untouched::capture(&backend, &[a, b]).await;
    for (what, mut request, expected) in cases {
        let command = CommandRecord { command_id: CommandId::random(), result: "{}".to_owned() };
        request.commands = vec![command.clone()];
        assert_eq!(request.validate(), Err(expected.clone()), "the kernel's own validation agrees ({what})");
        match store.append(request).await {
            Err(AppendError::Invalid(invalid)) => assert_eq!(invalid, expected, "{what}"),
            other => panic!("an append with {what} must be refused as invalid, got {other:?}"),
        }
        before.assert_unchanged(&backend, what).await;
        assert_eq!(
            store.stored_command(command.command_id).await.expect("stored_command"),
            None,
            "{what}: an invalid append must not store its command id"
        );
    }
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
