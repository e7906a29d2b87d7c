//! The records as DynamoDB items: the seed's attributes, attribute for
//! attribute, plus the log's own (`EventId`, `SchemaVersion`, `Metadata`).
//! An event item holds nothing that depends on other aggregates' appends:
//! its place in the whole log is assigned later, in the index
//! ([`crate::index`]). Decoding is strict: a missing or malformed attribute
//! is a corrupt store, reported with the attribute's name, never a default
//! value.
//!
//! Item sizes are counted the way DynamoDB bills and limits them (attribute
//! names plus values), so that an append too large for one item or one
//! transaction is refused before anything is sent.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use es_core::{
    AggregateId, EventId, Metadata, NewEvent, Position, RecordedEvent, StoreError, Version, format_created,
    parse_created,
};

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Attribute names of both tables.
pub mod attr {
    /// The seed's partition key.
    pub const AGGREGATE_ID: &str = "AggregateId";
    /// The seed's sort key.
    pub const AGGREGATE_VERSION: &str = "AggregateVersion";
    /// The seed's creation time (RFC 3339, milliseconds, UTC).
    pub const CREATED: &str = "Created";
    /// The seed's event as JSON text.
    pub const DATA: &str = "Data";
    /// The seed's stable type name.
    pub const EVENT_TYPE: &str = "EventType";
    /// Unique per event.
    pub const EVENT_ID: &str = "EventId";
    /// Shape version of `Data`.
    pub const SCHEMA_VERSION: &str = "SchemaVersion";
    /// Correlation, causation and actor as JSON text; absent when empty.
    pub const METADATA: &str = "Metadata";
    /// A stream reader's place in the log table.
    pub const POSITION: &str = "Position";
    /// The index table's partition key: `First / EPOCH_POSITIONS`.
    pub const EPOCH: &str = "Epoch";
    /// The index table's sort key: the first position of an index batch.
    pub const FIRST: &str = "First";
    /// The last position of an index batch.
    pub const LAST: &str = "Last";
    /// An index batch's runs of events, `AggregateId:from:to` joined by `,`.
    pub const SPANS: &str = "Spans";
    /// Set on an index batch until the indexer has moved its aggregates'
    /// cursors; whoever finds it set finishes the job.
    pub const PENDING: &str = "Pending";
    /// Key of every item of the log table (`head`, `command#…`, …).
    pub const KEY: &str = "Key";
    /// A command's stored result.
    pub const RESULT: &str = "Result";
    /// A snapshot's aggregate version.
    pub const VERSION: &str = "Version";
    /// A snapshot's state shape.
    pub const SHAPE_VERSION: &str = "ShapeVersion";
    /// A snapshot's state as JSON text.
    pub const STATE: &str = "State";
}

/// Key of a command's stored result in the log table.
pub(crate) fn command_key(command_id: impl std::fmt::Display) -> String {
    format!("command#{command_id}")
}

/// Key of an aggregate's index cursor in the log table: the highest version
/// of the aggregate that the index has positioned.
pub(crate) fn cursor_key(aggregate_id: AggregateId) -> String {
    format!("indexed#{aggregate_id}")
}

/// Key of a stream reader's place (a shard's sequence number) in the log table.
pub(crate) fn stream_checkpoint_key(key: &str) -> String {
    format!("stream#{key}")
}

/// Key of an aggregate's snapshot of one kind in the log table.
pub(crate) fn snapshot_key(aggregate_id: AggregateId, kind: &str) -> String {
    format!("snapshot#{aggregate_id}#{kind}")
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The item of one new event at its version.
pub(crate) fn event_item(aggregate_id: AggregateId, version: Version, event: &NewEvent) -> Item {
    let mut item = Item::with_capacity(10);
    item.insert(attr::AGGREGATE_ID.into(), s(aggregate_id.to_string()));
    item.insert(attr::AGGREGATE_VERSION.into(), n(version.0));
    item.insert(attr::CREATED.into(), s(format_created(event.created)));
    item.insert(attr::DATA.into(), s(event.data.clone()));
    item.insert(attr::EVENT_TYPE.into(), s(event.event_type.clone()));
    item.insert(attr::EVENT_ID.into(), s(event.event_id.to_string()));
    item.insert(attr::SCHEMA_VERSION.into(), n(u64::from(event.schema_version)));
    if !event.metadata.is_empty() {
        // Serializing a struct of strings and UUIDs cannot fail.
        let metadata = serde_json::to_string(&event.metadata).unwrap_or_default();
        item.insert(attr::METADATA.into(), s(metadata));
    }
    item
}

/// An item's size as DynamoDB counts it against the 400 KB item limit:
/// attribute names plus values (strings by UTF-8 length, numbers by at most
/// 21 bytes).
pub(crate) fn item_bytes(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_bytes(value)).sum()
}

fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(_) => 21,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::M(map) => {
            3 + map.iter().map(|(name, value)| name.len() + value_bytes(value) + 1).sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|value| value_bytes(value) + 1).sum::<usize>(),
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.len() * 21,
        AttributeValue::Bs(blobs) => blobs.iter().map(|blob| blob.as_ref().len()).sum(),
        _ => 0,
    }
}

/// Decodes an event item of the events table. Its position is
/// [`Position::START`]: items do not hold one (the index does).
pub fn recorded_event(item: &Item) -> Result<RecordedEvent, StoreError> {
    let aggregate_id = text(item, attr::AGGREGATE_ID)?;
    let event_id = text(item, attr::EVENT_ID)?;
    let created = text(item, attr::CREATED)?;
    let metadata = match item.get(attr::METADATA) {
        None | Some(AttributeValue::Null(_)) => Metadata::default(),
        Some(_) => {
            let json = text(item, attr::METADATA)?;
            serde_json::from_str(json).map_err(|error| corrupt(attr::METADATA, &error))?
        }
    };
    Ok(RecordedEvent {
        position: Position::START,
        aggregate_id: aggregate_id.parse::<AggregateId>().map_err(|error| corrupt(attr::AGGREGATE_ID, &error))?,
        aggregate_version: Version(number(item, attr::AGGREGATE_VERSION)?),
        created: parse_created(created).map_err(|error| corrupt(attr::CREATED, &error))?,
        event_type: text(item, attr::EVENT_TYPE)?.to_owned(),
        data: text(item, attr::DATA)?.to_owned(),
        event_id: event_id.parse::<EventId>().map_err(|error| corrupt(attr::EVENT_ID, &error))?,
        schema_version: u32::try_from(number(item, attr::SCHEMA_VERSION)?)
            .map_err(|error| corrupt(attr::SCHEMA_VERSION, &error))?,
        metadata,
    })
}

/// A string attribute.
pub(crate) fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(StoreError::Corrupt(format!("attribute {name} is not a string"))),
        None => Err(StoreError::Corrupt(format!("attribute {name} is missing"))),
    }
}

/// A non-negative integer attribute.
pub(crate) fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|error| corrupt(name, &error)),
        Some(_) => Err(StoreError::Corrupt(format!("attribute {name} is not a number"))),
        None => Err(StoreError::Corrupt(format!("attribute {name} is missing"))),
    }
}

fn corrupt(name: &str, error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("attribute {name}: {error}"))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use es_core::CorrelationId;

    use super::*;

    fn new_event(metadata: Metadata) -> NewEvent {
        NewEvent {
            event_id: EventId::random(),
            event_type: "SeatHeld".into(),
            schema_version: 2,
            data: r#"{"seat":"A1"}"#.into(),
            created: Utc.timestamp_millis_opt(1_790_000_000_123).single().expect("valid time"),
            metadata,
        }
    }

    #[test]
    fn an_event_round_trips_through_its_item_with_every_field() {
        let aggregate = AggregateId::random();
        let metadata = Metadata {
            correlation_id: Some(CorrelationId::random()),
            causation_id: Some(uuid::Uuid::new_v4()),
            actor: Some("fan-7".into()),
        };
        let event = new_event(metadata.clone());
        let item = event_item(aggregate, Version(3), &event);
        let recorded = recorded_event(&item).expect("decodes");
        assert_eq!(recorded.position, Position::START, "positions live in the index");
        assert_eq!(recorded.aggregate_id, aggregate);
        assert_eq!(recorded.aggregate_version, Version(3));
        assert_eq!(recorded.created, event.created);
        assert_eq!(recorded.event_type, "SeatHeld");
        assert_eq!(recorded.data, event.data);
        assert_eq!(recorded.event_id, event.event_id);
        assert_eq!(recorded.schema_version, 2);
        assert_eq!(recorded.metadata, metadata);
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["AggregateId", "AggregateVersion", "Created", "Data", "EventId", "EventType", "Metadata", "SchemaVersion"],
            "the seed's attributes and the log's own, nothing about other appends"
        );
        assert_eq!(item.get(attr::CREATED), Some(&s("2026-09-21T14:13:20.123Z")));
    }

    #[test]
    fn empty_metadata_is_not_stored_and_reads_back_empty() {
        let item = event_item(AggregateId::random(), Version(1), &new_event(Metadata::default()));
        assert!(!item.contains_key(attr::METADATA));
        assert_eq!(recorded_event(&item).expect("decodes").metadata, Metadata::default());
    }

    #[test]
    fn a_missing_or_mistyped_attribute_is_reported_by_name() {
        let mut item = event_item(AggregateId::random(), Version(1), &new_event(Metadata::default()));
        item.remove(attr::EVENT_TYPE);
        let error = recorded_event(&item).expect_err("incomplete");
        assert!(error.to_string().contains("EventType is missing"), "{error}");
        item.insert(attr::EVENT_TYPE.into(), s("SeatHeld"));
        item.insert(attr::AGGREGATE_VERSION.into(), s("one"));
        let error = recorded_event(&item).expect_err("mistyped");
        assert!(error.to_string().contains("AggregateVersion is not a number"), "{error}");
    }

    #[test]
    fn item_size_counts_names_and_values() {
        let mut item = Item::new();
        item.insert("Data".into(), s("x".repeat(1_000)));
        item.insert("Position".into(), n(7));
        assert_eq!(item_bytes(&item), 4 + 1_000 + 8 + 21);
    }
}
