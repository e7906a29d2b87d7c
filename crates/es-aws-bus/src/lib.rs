//! # es-aws-bus: the event bus on AWS
//!
//! One log, many readers, without a dual write: the API appends to the
//! DynamoDB events table only; the table's stream feeds a
//! [forwarder](forwarder) that publishes to Kinesis (partition key =
//! aggregate id, so order per aggregate holds per shard), and consumers
//! apply what Kinesis delivers to their read models.
//!
//! Delivery is at least once and, after retries, not always in order. The
//! consumers do not depend on either: [`sink::prepare`] drops what a read
//! model has already applied and fills any gap from the log itself, so a
//! read model always applies each aggregate's versions one after the other.
//!
//! - [`wire`]: the message format (the log's record as JSON).
//! - [`image`]: stream images back into records.
//! - [`sink`]: the consumer-side port and the repair step.
//! - [`kinesis`]: publisher, Lambda batch handler, long-running poller.
//! - [`forwarder`]: the stream → bus Lambda handler.
//! - [`sqs`]: SQS FIFO as the bus (publisher, Lambda handler, poller).
//! - [`streams`]: the table's stream read directly (Lambda handler, poller).
//! - [`indexer`]: the DynamoDB log's order, positioned from the stream.

pub mod forwarder;
pub mod image;
pub mod indexer;
pub mod kinesis;
pub mod publisher;
pub mod sink;
pub mod sqs;
pub mod streams;
pub mod wire;

use es_core::ProjectionError;
use thiserror::Error;

/// How far behind the head of what it reads a consumer is, in seconds (a
/// gauge by `consumer`), set after each read: Kinesis's own figure for its
/// pollers, the age of the oldest record of the batch for the table's
/// stream, 0 once a read finds nothing new.
pub const CONSUMER_LAG: &str = "cloudbash_bus_consumer_lag_seconds";

pub(crate) fn report_lag(consumer: &'static str, seconds: f64) {
    metrics::gauge!(CONSUMER_LAG, "consumer" => consumer).set(seconds);
}

/// Why the bus could not deliver or consume.
#[derive(Debug, Error)]
pub enum BusError {
    /// A service request failed (after the SDK's own retries).
    #[error("bus request failed: {0}")]
    Request(String),
    /// A message or stream record is not an event of this log.
    #[error("not an event of this log: {0}")]
    Malformed(String),
    /// The read model refused the delivery.
    #[error(transparent)]
    Sink(ProjectionError),
}
