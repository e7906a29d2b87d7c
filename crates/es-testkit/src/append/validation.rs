//! The case for the validation a backend must do itself: a caller that skips
//! [`es_core::EventLog`] must not be able to store a malformed or oversized
//! append.

use es_core::limits::{
    AGGREGATES_PER_APPEND_MAX, APPEND_DATA_BYTES_MAX, EVENT_DATA_BYTES_MAX, EVENT_TYPE_BYTES_MAX, EVENTS_PER_APPEND_MAX,
};
use es_core::{
    AggregateId, AppendError, AppendRequest, CommandId, CommandRecord, ExpectedVersion, InvalidAppend, NewEvent,
    Version,
};

use super::{event, json_of_size};
use crate::BackendFactory;
use crate::support::{Untouched, base_time, commit_at, member, numbered};

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
