//! The one path from the log to the bus: the events table's stream
//! (`NEW_IMAGE`) → this forwarder → Kinesis (or SQS FIFO). The API writes
//! only to the table; nothing writes the same event twice to two systems,
//! so the bus can never hold an event the log lacks, nor miss one it has
//! (the stream keeps each insert for 24 hours and the event source mapping
//! retries until the forwarder succeeds).

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use es_core::RecordedEvent;

use crate::publisher::Publisher;
use crate::{BusError, image};

/// The Lambda handler on the events table's stream: decodes every insert
/// and publishes the batch. On failure it reports the batch's first record,
/// so the mapping retries all of it (or bisects it); re-published events
/// are harmless downstream.
pub async fn handle_stream_event(publisher: &dyn Publisher, event: DynamoDbEvent) -> DynamoDbEventResponse {
    let mut events: Vec<RecordedEvent> = Vec::with_capacity(event.records.len());
    for record in &event.records {
        if record.event_name != image::INSERT {
            // The events table is append-only; a change or removal means
            // someone bypassed the log's permissions. Never forward it.
            tracing::error!(event_name = %record.event_name, "ignoring a non-insert change on the events table");
            continue;
        }
        match image::from_lambda_image(&record.change.new_image) {
            Ok(event) => events.push(event),
            Err(error) => tracing::error!(%error, "ignoring a stream record that is not an event"),
        }
    }
    let mut response = DynamoDbEventResponse::default();
    if let Err(error) = publisher.publish(&events).await {
        tracing::error!(%error, events = events.len(), "publishing failed; the batch will be retried");
        let first = event.records.first().and_then(|record| record.change.sequence_number.clone());
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = first;
        response.batch_item_failures.push(failure);
    }
    response
}

/// Publishes with the forwarder's publisher and maps failure to an error,
/// for callers that are not Lambda handlers (the long-running host).
pub async fn forward(publisher: &dyn Publisher, events: &[RecordedEvent]) -> Result<(), BusError> {
    publisher.publish(events).await
}
