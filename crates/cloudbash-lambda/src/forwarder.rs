//! The `forwarder` function: the events table's stream (inserts only, as the event source mapping filters) to the
//! Kinesis bus. The work is `es_aws_bus::forwarder::handle_stream_event`; this is only its Lambda host, so the
//! forwarder behaves the same wherever it runs and is tested once. Each batch records how long its oldest record
//! waited on the table's stream (`cloudbash_bus_consumer_lag_seconds` of the consumer `forwarder`).

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use crate::figures::record_lag;
use crate::{LambdaError, Resources};

/// Forwards one batch of the stream; a failed publish is reported as a batch item failure (the mapping retries).
pub async fn handle(resources: &Resources, event: DynamoDbEvent) -> Result<DynamoDbEventResponse, LambdaError> {
    let arrivals = event.records.iter().map(|record| record.change.approximate_creation_date_time);
    record_lag("forwarder", arrivals, chrono::Utc::now());
    let publisher = resources.publisher().await?;
    Ok(es_aws_bus::forwarder::handle_stream_event(publisher, event).await)
}
