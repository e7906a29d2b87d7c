//! The event record of the seed, attribute for attribute, plus what the seed
//! lacks: an event id, a schema version and metadata.
//!
//! | seed attribute     | field                | notes                                   |
//! |--------------------|----------------------|-----------------------------------------|
//! | `AggregateId`      | `aggregate_id`       | UUID, partition key                     |
//! | `AggregateVersion` | `aggregate_version`  | 1, 2, 3, … per aggregate, sort key      |
//! | `Created`          | `created`            | UTC, millisecond precision, RFC 3339    |
//! | `Data`             | `data`               | the event as a JSON string              |
//! | `EventType`        | `event_type`         | stable name, independent of Rust paths  |
//!
//! Records are serialized: the kernel moves strings, not domain types, so each
//! backend implements a small API and the typing (and upcasting) happens once,
//! in [`crate::EventLog`] and [`crate::EventCodec`].

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AggregateId, CorrelationId, EventId, Position, Version};

/// Who and what caused an event. Carried beside `Data`, never inside it, so
/// the domain's events stay about the domain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Shared by every event that one request caused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<CorrelationId>,
    /// The event or command that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<uuid::Uuid>,
    /// The user (JWT `sub`) or process that acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl Metadata {
    /// Whether nothing is set, so that backends can store `NULL`.
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none() && self.causation_id.is_none() && self.actor.is_none()
    }
}

/// An event about to be appended. `created` is stamped by [`crate::EventLog`]
/// from its clock, so tests control it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique per event.
    pub event_id: EventId,
    /// The stable type name (`ConcertPublished`).
    pub event_type: String,
    /// The version of `data`'s shape for this type; starts at 1.
    pub schema_version: u32,
    /// The event as JSON text.
    pub data: String,
    /// When the event was created (millisecond precision).
    pub created: DateTime<Utc>,
    /// Correlation, causation, actor.
    pub metadata: Metadata,
}

/// An event as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordedEvent {
    /// Place in the whole log, in commit order.
    pub position: Position,
    /// The seed's `AggregateId`.
    pub aggregate_id: AggregateId,
    /// The seed's `AggregateVersion`.
    pub aggregate_version: Version,
    /// The seed's `Created`.
    #[serde(with = "created_format")]
    pub created: DateTime<Utc>,
    /// The seed's `EventType`.
    pub event_type: String,
    /// The seed's `Data`.
    pub data: String,
    /// Unique per event.
    pub event_id: EventId,
    /// Shape version of `data`, after upcasting when read through
    /// [`crate::EventLog`].
    pub schema_version: u32,
    /// Correlation, causation, actor.
    pub metadata: Metadata,
}

/// Truncates a time to the millisecond precision the log stores, so that a
/// value read back equals the value written.
pub fn truncate_to_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(time.timestamp_millis())
        .single()
        .expect("a time taken from a valid DateTime is a valid millisecond timestamp")
}

/// `Created` as the seed writes it: RFC 3339, UTC, milliseconds, `Z`.
pub fn format_created(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses `Created` as written by [`format_created`] (any RFC 3339 accepted).
pub fn parse_created(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|time| time.with_timezone(&Utc))
}

mod created_format {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_created(*time))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_created(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_is_written_with_milliseconds_and_a_z() {
        let time = Utc.with_ymd_and_hms(2026, 11, 27, 9, 30, 0).single().expect("valid date");
        assert_eq!(format_created(time), "2026-11-27T09:30:00.000Z");
        assert_eq!(parse_created("2026-11-27T09:30:00.000Z").ok(), Some(time));
    }

    #[test]
    fn truncation_drops_everything_below_a_millisecond() {
        let time = Utc.timestamp_nanos(1_700_000_000_123_456_789);
        assert_eq!(truncate_to_millis(time).timestamp_subsec_nanos(), 123_000_000);
    }
}
