//! Cases for the write path of [`es_core::EventStore`]: what an append
//! stores (here), the optimistic-concurrency check on every member
//! (`concurrency.rs`), atomicity across aggregates (`atomicity.rs`), and the
//! validation a backend must do itself (`validation.rs`: a caller that skips
//! [`es_core::EventLog`] must not be able to store a malformed event).

use chrono::Duration;
use es_core::limits::{EVENT_DATA_BYTES_MAX, EVENT_TYPE_BYTES_MAX, READ_PAGE_MAX};
use es_core::{
    AggregateId, AppendRequest, CorrelationId, EventId, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent,
    Version,
};

use crate::BackendFactory;
use crate::support::{
    as_loaded, assert_increasing_positions, at, base_time, commit, commit_at, load_everything, position_of,
    positions_at_commit, read_everything, read_page, versions,
};

mod atomicity;
mod concurrency;
mod validation;

pub use self::atomicity::{
    a_member_without_events_only_checks_its_version, an_atomic_append_over_several_aggregates_writes_every_member,
    an_atomic_append_with_one_conflicting_member_writes_nothing_for_any_member,
};
pub use self::concurrency::{
    appending_at_a_stale_version_is_a_conflict_and_writes_nothing, expecting_any_version_appends_after_the_current_one,
    expecting_no_stream_on_an_existing_stream_is_a_conflict,
    two_processes_appending_to_different_aggregates_never_conflict,
};
pub use self::validation::invalid_appends_are_refused_by_the_store_itself_and_write_nothing;

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
