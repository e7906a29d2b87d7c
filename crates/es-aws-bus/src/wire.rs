//! How an event travels on Kinesis and SQS: the log's record as JSON, with
//! the seed's attribute names (`AggregateId`, `AggregateVersion`, `Created`,
//! `Data`, `EventType`) plus `Position`, `EventId`, `SchemaVersion` and
//! `Metadata`. Any consumer in any language can read it without this crate.
//!
//! The partition key (Kinesis) and message group (SQS FIFO) are the
//! aggregate id, so one aggregate's events stay in order on one shard or
//! group; the SQS deduplication id is `AggregateId:AggregateVersion`, unique
//! per event and the same for every copy of it.

use es_core::RecordedEvent;

use crate::BusError;

/// The message body of one event.
pub fn encode(event: &RecordedEvent) -> Vec<u8> {
    // A record of strings, numbers and a time always serializes.
    serde_json::to_vec(event).unwrap_or_default()
}

/// Reads a message body written by [`encode`].
pub fn decode(body: &[u8]) -> Result<RecordedEvent, BusError> {
    serde_json::from_slice(body).map_err(|error| BusError::Malformed(error.to_string()))
}

/// The Kinesis partition key and SQS message group of an event.
pub fn partition_key(event: &RecordedEvent) -> String {
    event.aggregate_id.to_string()
}

/// The SQS FIFO deduplication id of an event.
pub fn deduplication_id(event: &RecordedEvent) -> String {
    format!("{}:{}", event.aggregate_id, event.aggregate_version)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use es_core::{AggregateId, EventId, Metadata, Position, Version};

    use super::*;

    fn event() -> RecordedEvent {
        RecordedEvent {
            position: Position(42),
            aggregate_id: AggregateId::random(),
            aggregate_version: Version(7),
            created: Utc.timestamp_millis_opt(1_790_000_000_123).single().expect("valid time"),
            event_type: "SeatHeld".into(),
            data: r#"{"seat":"A1"}"#.into(),
            event_id: EventId::random(),
            schema_version: 1,
            metadata: Metadata { actor: Some("fan".into()), ..Metadata::default() },
        }
    }

    #[test]
    fn an_event_round_trips_and_uses_the_seeds_attribute_names() {
        let event = event();
        let body = encode(&event);
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        for name in ["AggregateId", "AggregateVersion", "Created", "Data", "EventType", "Position"] {
            assert!(json.get(name).is_some(), "{name} in {json}");
        }
        assert_eq!(json["Created"], "2026-09-21T14:13:20.123Z");
        assert_eq!(decode(&body).expect("decodes"), event);
    }

    #[test]
    fn keys_follow_the_aggregate_and_its_version() {
        let event = event();
        assert_eq!(partition_key(&event), event.aggregate_id.to_string());
        assert_eq!(deduplication_id(&event), format!("{}:7", event.aggregate_id));
        assert!(matches!(decode(b"{\"not\":\"an event\"}"), Err(BusError::Malformed(_))));
    }
}
