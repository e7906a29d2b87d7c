//! The consumer suite: the promises every way of consuming the bus keeps,
//! stated once and run against each transport (Kinesis through the Lambda
//! handler and through the poller; SQS FIFO; DynamoDB Streams).

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use es_core::{EventStore, RecordedEvent, async_trait};

use crate::support::{StrictSink, write_events};

/// One transport under test, with its consumer.
#[async_trait]
pub trait BusUnderTest: Send + Sync {
    /// Puts events on the bus as the forwarder would.
    async fn publish(&self, events: &[RecordedEvent]);
    /// Consumes what the bus holds into `sink` until nothing is left, as
    /// the real consumer would (retrying a failed batch a few times).
    /// Returns an error if the sink keeps failing.
    async fn consume(&self, sink: &StrictSink, log: Arc<dyn EventStore>) -> Result<(), String>;
    /// Makes the next `consume` deliver everything again from the start.
    async fn rewind(&self, sink: &StrictSink);
}

/// Every event reaches the read model once, each aggregate in order.
pub async fn every_event_arrives_once_in_order_per_aggregate(bus: &dyn BusUnderTest, log: Arc<dyn EventStore>) {
    let events = write_events(&*log, 6, 5).await;
    bus.publish(&events).await;
    let sink = StrictSink::default();
    bus.consume(&sink, Arc::clone(&log)).await.expect("consumes");
    sink.assert_applied_exactly(&events);
}

/// Publishing everything twice (a forwarder retrying) changes nothing.
pub async fn duplicated_publishing_changes_nothing(bus: &dyn BusUnderTest, log: Arc<dyn EventStore>) {
    let events = write_events(&*log, 4, 4).await;
    bus.publish(&events).await;
    bus.publish(&events).await;
    let sink = StrictSink::default();
    bus.consume(&sink, Arc::clone(&log)).await.expect("consumes");
    sink.assert_applied_exactly(&events);
}

/// Delivering everything again (a replay, a lost checkpoint) changes
/// nothing, and later events still arrive.
pub async fn redelivered_batches_change_nothing(bus: &dyn BusUnderTest, log: Arc<dyn EventStore>) {
    let first = write_events(&*log, 3, 3).await;
    bus.publish(&first).await;
    let sink = StrictSink::default();
    bus.consume(&sink, Arc::clone(&log)).await.expect("consumes");
    bus.rewind(&sink).await;
    bus.consume(&sink, Arc::clone(&log)).await.expect("consumes again");
    sink.assert_applied_exactly(&first);
}

/// A read model that fails mid-way loses nothing and applies nothing twice
/// once it works again.
pub async fn a_failing_read_model_resumes_and_applies_every_event_once(
    bus: &dyn BusUnderTest,
    log: Arc<dyn EventStore>,
) {
    let events = write_events(&*log, 5, 4).await;
    bus.publish(&events).await;
    let sink = StrictSink::failing_after(1);
    assert!(bus.consume(&sink, Arc::clone(&log)).await.is_err(), "a read model that keeps failing stops the consumer");
    sink.heal();
    bus.consume(&sink, Arc::clone(&log)).await.expect("consumes after the read model recovers");
    sink.assert_applied_exactly(&events);
}

/// Events missing from the bus or out of order on it (a retried put landing
/// after its successors) are filled in from the log.
pub async fn gaps_and_reordering_on_the_bus_are_repaired_from_the_log(
    bus: &dyn BusUnderTest,
    log: Arc<dyn EventStore>,
) {
    let events = write_events(&*log, 3, 6).await;
    let mut damaged: Vec<RecordedEvent> =
        events.iter().filter(|event| event.aggregate_version.0 % 3 != 2).cloned().collect();
    damaged.reverse();
    bus.publish(&damaged).await;
    let sink = StrictSink::default();
    bus.consume(&sink, Arc::clone(&log)).await.expect("consumes");
    sink.assert_applied_exactly(&events);
}

/// Runs every case of the suite as a test, given an async `fn(log) -> impl
/// BusUnderTest`.
#[macro_export]
macro_rules! consumer_suite {
    ($make:path) => {
        $crate::consumer_suite!(@case $make, every_event_arrives_once_in_order_per_aggregate);
        $crate::consumer_suite!(@case $make, duplicated_publishing_changes_nothing);
        $crate::consumer_suite!(@case $make, redelivered_batches_change_nothing);
        $crate::consumer_suite!(@case $make, a_failing_read_model_resumes_and_applies_every_event_once);
        $crate::consumer_suite!(@case $make, gaps_and_reordering_on_the_bus_are_repaired_from_the_log);
    };
    (@case $make:path, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let config = $crate::support::sdk_config().await;
            let store = $crate::support::fresh_log(&config).await;
            let bus = $make(&config, std::sync::Arc::clone(&store)).await;
            $crate::suite::$case(&bus, store).await;
        }
    };
}
