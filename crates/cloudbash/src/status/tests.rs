//! The figures `status` prints and their two forms, without any store.

use std::collections::HashMap;

use chrono::TimeZone;
use es_core::{AggregateId, EventId, Metadata, RecordedEvent, Version};

use super::aws::{followed, unapplied};
use super::*;

fn at(seconds: i64, millis: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, millis * 1_000_000).single().expect("a valid time")
}

fn model(name: &str, position: u64, lag_events: u64, lag_seconds: f64) -> ReadModelStatus {
    ReadModelStatus {
        name: name.into(),
        position: Some(position),
        lag_events,
        lag_seconds,
        last_error: None,
        note: None,
    }
}

#[test]
fn a_read_model_lags_by_the_events_past_its_position_and_never_by_fewer_than_none() {
    assert_eq!(lag_events(42, 42), 0);
    assert_eq!(lag_events(42, 40), 2);
    assert_eq!(lag_events(40, 42), 0, "a head read before a checkpoint that moved since");
}

#[test]
fn the_lag_in_seconds_is_the_age_of_the_oldest_event_not_applied() {
    assert_eq!(lag_seconds(at(10, 0), None), 0.0, "caught up");
    assert_eq!(lag_seconds(at(10, 0), Some(at(8, 500))), 1.5);
    assert_eq!(lag_seconds(at(10, 0), Some(at(11, 0))), 0.0, "a writer's clock ahead of this one");
}

#[test]
fn the_table_lines_up_its_columns_and_says_where_the_figures_come_from() {
    let mut behind = model("ticket_types", 7, 35, 12.25);
    behind.note = Some("not in the read models' file yet".into());
    let status = Status { source: Source::Files, head: 42, read_models: vec![model("catalogue", 42, 0, 0.0), behind] };
    assert_eq!(
        render(&status),
        "log head: 42 (read from the files)\n\
         READ MODEL    POSITION  LAG (EVENTS)  LAG (SECONDS)  LAST ERROR\n\
         catalogue           42             0            0.0  unknown (read from files)\n\
         ticket_types         7            35           12.2  unknown (read from files)\n\
         ticket_types: not in the read models' file yet\n"
    );
}

#[test]
fn a_process_reports_each_last_error_or_none() {
    let mut failing = model("sales", 3, 4, 0.5);
    failing.last_error = Some(Some("disk full".into()));
    let mut fine = model("orders", 7, 0, 0.0);
    fine.last_error = Some(None);
    let table = render(&Status { source: Source::Process, head: 7, read_models: vec![failing, fine] });
    assert!(table.starts_with("log head: 7 (reported by the running process)\n"), "{table}");
    assert!(table.contains("  disk full\n") && table.contains("  none\n"), "{table}");
}

#[test]
fn read_from_files_the_json_leaves_the_last_error_out_rather_than_claim_none() {
    let status = Status { source: Source::Files, head: 5, read_models: vec![model("venues", 5, 0, 0.0)] };
    let json = serde_json::to_value(&status).expect("serializes");
    assert_eq!(
        json,
        serde_json::json!({"source": "files", "head": 5, "readModels": [
            {"name": "venues", "position": 5, "lagEvents": 0, "lagSeconds": 0.0}
        ]})
    );
}

#[test]
fn the_status_a_process_serves_reads_with_its_errors_and_nulls() {
    let served = r#"{"head": 9, "readModels": [
        {"name": "catalogue", "position": 9, "lagEvents": 0, "lagSeconds": 0.0, "lastError": null},
        {"name": "sales", "position": 6, "lagEvents": 3, "lagSeconds": 2.5, "lastError": "disk full"}
    ]}"#;
    let status: Status = serde_json::from_str(served).expect("the served shape reads");
    assert_eq!(status.source, Source::Process);
    assert_eq!(status.read_models[0].last_error, Some(None));
    assert_eq!(status.read_models[1].last_error, Some(Some("disk full".into())));
    assert_eq!(status.read_models[1].position, Some(6));
}

#[test]
fn the_status_address_is_under_the_given_one_unless_it_names_it() {
    assert_eq!(status_url("http://127.0.0.1:9090"), "http://127.0.0.1:9090/status");
    assert_eq!(status_url("http://127.0.0.1:9090/"), "http://127.0.0.1:9090/status");
    assert_eq!(status_url("http://127.0.0.1:9090/status"), "http://127.0.0.1:9090/status");
}

fn event(
    position: u64,
    aggregate: AggregateId,
    version: u64,
    event_type: &str,
    created: DateTime<Utc>,
) -> RecordedEvent {
    RecordedEvent {
        position: Position(position),
        aggregate_id: aggregate,
        aggregate_version: Version(version),
        created,
        event_type: event_type.into(),
        data: "{}".into(),
        event_id: EventId::random(),
        schema_version: 1,
        metadata: Metadata::default(),
    }
}

#[test]
fn on_the_bus_a_read_model_lags_by_the_events_it_reads_above_its_applied_versions() {
    let (venue, cart) = (AggregateId::random(), AggregateId::random());
    let recent = vec![
        event(1, venue, 1, "VenueCreated", at(0, 0)),
        event(2, cart, 1, "CartOpened", at(1, 0)),
        event(3, venue, 2, "VenueRenamed", at(2, 0)),
        event(4, venue, 3, "VenueRenamed", at(3, 0)),
    ];
    let venues = |event: &RecordedEvent| event.event_type.starts_with("Venue");
    let applied = HashMap::from([(venue, Version(2))]);
    let behind = unapplied(&recent, venues, &applied);
    assert_eq!(behind.iter().map(|event| event.position.0).collect::<Vec<_>>(), [4]);

    let status = followed("venues", &recent, &behind, at(5, 0));
    assert_eq!((status.position, status.lag_events, status.lag_seconds), (None, 1, 2.0));
    assert!(status.note.as_deref().is_some_and(|note| note.ends_with("the whole log")), "{:?}", status.note);

    let nothing = unapplied(&recent, venues, &HashMap::new());
    assert_eq!(nothing.len(), 3, "an aggregate it has applied nothing of is behind by all its events");
    let tail = followed("venues", &recent[2..], &nothing, at(5, 0));
    assert!(tail.note.as_deref().is_some_and(|note| note.contains("the last 2 events")), "{:?}", tail.note);
    assert_eq!(tail.lag_seconds, 5.0);
}
