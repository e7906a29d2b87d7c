//! The `indexer` function: the events table's stream (inserts only, as the event source mapping filters) to the
//! log's index. Appends write only their aggregates' items, so the order of the whole log is assigned afterwards,
//! here: `es_aws_bus::indexer::LogIndexer` gives each new event the next position in the index table, and
//! `es_aws_bus::streams::handle_stream_batch` feeds it exactly as it feeds a read model (a gap in an aggregate's
//! versions is read from the events table; a redelivered record is dropped by the aggregate's cursor). Everything
//! that reads the whole log in order (`GET /events`, hold expiry, the log's head) sees an event only once this
//! function has positioned it.
//!
//! The mapping runs one batch per stream shard at a time: positions follow the order of each shard, and the
//! indexer is their only writer. Should two batches ever race (a retried invocation, a second mapping), the index
//! table's conditional puts and the cursors still give each event exactly one position.
//!
//! Each batch records how long its oldest record waited on the table's stream (`cloudbash_bus_consumer_lag_seconds`
//! of the consumer `indexer`): how long new events wait for their positions.

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use es_aws_bus::indexer::LogIndexer;
use es_aws_bus::streams::handle_stream_batch;

use crate::figures::record_lag;
use crate::{LambdaError, Resources};

/// Positions one batch of the stream; the first record that could not be positioned is reported as a batch item
/// failure, so the mapping retries from there (what was positioned before it is dropped on the retry).
pub async fn handle(resources: &Resources, event: DynamoDbEvent) -> Result<DynamoDbEventResponse, LambdaError> {
    let arrivals = event.records.iter().map(|record| record.change.approximate_creation_date_time);
    record_lag("indexer", arrivals, chrono::Utc::now());
    let store = resources.store().await?;
    // Cheap: the indexer is a handle on the store, which keeps what it knows of the index's tail between
    // invocations of a warm container.
    let indexer = LogIndexer::new(store.clone());
    Ok(handle_stream_batch(&indexer, store.as_ref(), event).await)
}
