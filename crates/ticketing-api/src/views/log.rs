//! The log's own documents (`GET /events`, `GET /aggregates/{aggregateId}/events`, `GET /events/live`): an event
//! record as the log holds it, with its metadata.

use es_core::{Metadata, RecordedEvent};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Timestamp;

/// An event as the log holds it: the seed's attributes in camelCase, `data` still the JSON text it is stored as
/// (so a client sees exactly what was written, after upcasting).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventRecord {
    position: u64,
    aggregate_id: Uuid,
    aggregate_version: u64,
    created: Timestamp,
    event_type: String,
    data: String,
    event_id: Uuid,
    schema_version: u32,
    metadata: EventMetadata,
}

impl From<RecordedEvent> for EventRecord {
    fn from(record: RecordedEvent) -> Self {
        Self {
            position: record.position.0,
            aggregate_id: record.aggregate_id.as_uuid(),
            aggregate_version: record.aggregate_version.0,
            created: Timestamp(record.created),
            event_type: record.event_type,
            data: record.data,
            event_id: record.event_id.as_uuid(),
            schema_version: record.schema_version,
            metadata: record.metadata.into(),
        }
    }
}

/// Who and what caused an event; each member is left out when unknown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventMetadata {
    /// Shared by every event that one request caused.
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<Uuid>,
    /// The event or command that directly caused this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    causation_id: Option<Uuid>,
    /// The user (JWT `sub`) or process that acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
}

impl From<Metadata> for EventMetadata {
    fn from(metadata: Metadata) -> Self {
        Self {
            correlation_id: metadata.correlation_id.map(|id| id.as_uuid()),
            causation_id: metadata.causation_id,
            actor: metadata.actor,
        }
    }
}
