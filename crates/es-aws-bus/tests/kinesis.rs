//! The consumer suite on Kinesis (kinesis-local, `AWS_ENDPOINT_URL_KINESIS`),
//! consumed both ways: through the Lambda handler, fed by a small stand-in
//! for the event source mapping (it reads the shards with `GetRecords`,
//! builds the Lambda event JSON exactly as the mapping sends it, and keeps
//! each shard's position the way the mapping does with
//! `ReportBatchItemFailures`), and through the long-running poller.

mod suite;
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use es_aws_bus::kinesis::{KinesisPoller, KinesisPublisher, StartAt, handle_kinesis_event};
use es_core::{EventStore, RecordedEvent, async_trait};
use es_dynamodb::DynamoDbEventStore;
use suite::BusUnderTest;
use support::{StrictSink, unique_name};

/// How often a failed batch is retried before the test calls it failing.
const RETRIES: usize = 3;

async fn fresh_stream(client: &Client) -> String {
    let name = unique_name("bus");
    client.create_stream().stream_name(&name).shard_count(2).send().await.expect("create the stream");
    wait_until_active(client, &name).await;
    name
}

async fn wait_until_active(client: &Client, name: &str) {
    for _ in 0..100 {
        let summary = client.describe_stream_summary().stream_name(name).send().await.expect("describe");
        let active = summary
            .stream_description_summary()
            .is_some_and(|summary| summary.stream_status() == &aws_sdk_kinesis::types::StreamStatus::Active);
        if active {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("stream {name} did not become active");
}

async fn shard_ids(client: &Client, stream: &str) -> Vec<String> {
    let listed = client.list_shards().stream_name(stream).send().await.expect("list shards");
    listed.shards().iter().map(|shard| shard.shard_id().to_owned()).collect()
}

/// The stand-in for a Kinesis event source mapping.
struct LambdaBus {
    client: Client,
    stream: String,
    publisher: KinesisPublisher,
    /// Last sequence number handled per shard.
    positions: Mutex<HashMap<String, String>>,
}

impl LambdaBus {
    async fn new(config: &aws_config::SdkConfig, _log: Arc<DynamoDbEventStore>) -> Self {
        let client = Client::new(config);
        let stream = fresh_stream(&client).await;
        let publisher = KinesisPublisher::new(client.clone(), stream.clone());
        Self { client, stream, publisher, positions: Mutex::default() }
    }

    fn position(&self, shard: &str) -> Option<String> {
        self.positions.lock().expect("lock").get(shard).cloned()
    }

    /// One batch from a shard, as the mapping would invoke the function.
    async fn batch(&self, shard: &str) -> Vec<(String, serde_json::Value)> {
        let request = self.client.get_shard_iterator().stream_name(&self.stream).shard_id(shard);
        let request = match self.position(shard) {
            Some(sequence) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).starting_sequence_number(sequence)
            }
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let iterator = request.send().await.expect("iterator").shard_iterator().map(str::to_owned);
        let Some(iterator) = iterator else { return Vec::new() };
        let got = self.client.get_records().shard_iterator(iterator).limit(7).send().await.expect("get records");
        got.records()
            .iter()
            .map(|record| {
                let sequence = record.sequence_number().to_owned();
                let json = serde_json::json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record.partition_key(),
                        "sequenceNumber": sequence,
                        "data": base64::engine::general_purpose::STANDARD.encode(record.data().as_ref()),
                        "approximateArrivalTimestamp": 1_790_000_000.5,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("{shard}:{sequence}"),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/projector",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": format!("arn:aws:kinesis:us-east-1:123456789012:stream/{}", self.stream),
                });
                (sequence, json)
            })
            .collect()
    }
}

#[async_trait]
impl BusUnderTest for LambdaBus {
    async fn publish(&self, events: &[RecordedEvent]) {
        self.publisher.publish(events).await.expect("publish");
    }

    async fn consume(&self, sink: &StrictSink, log: Arc<dyn EventStore>) -> Result<(), String> {
        for shard in shard_ids(&self.client, &self.stream).await {
            let mut failures = 0;
            loop {
                let batch = self.batch(&shard).await;
                let Some((last, _)) = batch.last().cloned() else { break };
                let records: Vec<serde_json::Value> = batch.iter().map(|(_, json)| json.clone()).collect();
                let sequences: Vec<String> = batch.into_iter().map(|(sequence, _)| sequence).collect();
                let event: KinesisEvent =
                    serde_json::from_value(serde_json::json!({ "Records": records })).expect("a Kinesis event");
                let response = handle_kinesis_event(sink, &*log, event).await;
                match response.batch_item_failures.first().and_then(|failure| failure.item_identifier.clone()) {
                    None => {
                        self.positions.lock().expect("lock").insert(shard.clone(), last);
                    }
                    Some(failed) => {
                        // The mapping keeps everything before the failed
                        // record and retries from it.
                        let index = sequences.iter().position(|sequence| *sequence == failed).expect("a batch item");
                        if index > 0 {
                            self.positions.lock().expect("lock").insert(shard.clone(), sequences[index - 1].clone());
                        }
                        failures += 1;
                        if failures > RETRIES {
                            return Err(format!("record {failed} keeps failing"));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn rewind(&self, _sink: &StrictSink) {
        self.positions.lock().expect("lock").clear();
    }
}

/// The long-running poller, checkpointing in the read model.
struct PollerBus {
    client: Client,
    stream: String,
    publisher: KinesisPublisher,
}

impl PollerBus {
    async fn new(config: &aws_config::SdkConfig, _log: Arc<DynamoDbEventStore>) -> Self {
        let client = Client::new(config);
        let stream = fresh_stream(&client).await;
        let publisher = KinesisPublisher::new(client.clone(), stream.clone());
        Self { client, stream, publisher }
    }
}

#[async_trait]
impl BusUnderTest for PollerBus {
    async fn publish(&self, events: &[RecordedEvent]) {
        self.publisher.publish(events).await.expect("publish");
    }

    async fn consume(&self, sink: &StrictSink, log: Arc<dyn EventStore>) -> Result<(), String> {
        let poller = KinesisPoller::new(
            self.client.clone(),
            self.stream.clone(),
            vec![Arc::new(sink.clone())],
            log,
            StartAt::TrimHorizon,
        )
        .with_batch_size(7);
        let mut last_error = String::new();
        for _ in 0..=RETRIES {
            match poller.drain().await {
                Ok(_) => return Ok(()),
                Err(error) => last_error = error.to_string(),
            }
        }
        Err(last_error)
    }

    async fn rewind(&self, sink: &StrictSink) {
        sink.forget_checkpoints();
    }
}

mod lambda_handler {
    use super::*;
    consumer_suite!(LambdaBus::new);
}

mod poller {
    use super::*;
    consumer_suite!(PollerBus::new);

    /// The poller's checkpoints name each shard and hold its last sequence
    /// number, stored with the events they cover.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_are_kept_per_shard_in_the_read_model() {
        let config = support::sdk_config().await;
        let store = support::fresh_log(&config).await;
        let bus = PollerBus::new(&config, Arc::clone(&store)).await;
        let log: Arc<dyn EventStore> = store;
        let events = support::write_events(&*log, 8, 2).await;
        bus.publish(&events).await;
        let sink = StrictSink::default();
        bus.consume(&sink, Arc::clone(&log)).await.expect("consumes");
        let checkpoints = sink.checkpoints();
        let shards = shard_ids(&bus.client, &bus.stream).await;
        assert!(!checkpoints.is_empty(), "at least one shard got events");
        for key in checkpoints.keys() {
            let shard = key.rsplit('/').next().unwrap_or_default();
            assert!(key.starts_with(&format!("kinesis/{}/", bus.stream)), "{key}");
            assert!(shards.iter().any(|known| known == shard), "{key} names a shard of the stream");
        }
        // Nothing new: a second drain reads nothing and applies nothing.
        let before = sink.history().len();
        bus.consume(&sink, log).await.expect("consumes");
        assert_eq!(sink.history().len(), before);
    }

    /// One reader for several read models: each gets every event once, in
    /// order, from wherever it stands; one that fails does not hold back
    /// the others, and catches up from the earliest checkpoint.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_reader_feeds_every_read_model_from_the_earliest_checkpoint() {
        let config = support::sdk_config().await;
        let store = support::fresh_log(&config).await;
        let bus = PollerBus::new(&config, Arc::clone(&store)).await;
        let log: Arc<dyn EventStore> = store;
        let first = support::write_events(&*log, 6, 2).await;
        bus.publish(&first).await;
        let ahead = StrictSink::default();
        let poller = |sinks: Vec<Arc<dyn es_aws_bus::sink::BusSink>>| {
            KinesisPoller::new(bus.client.clone(), bus.stream.clone(), sinks, Arc::clone(&log), StartAt::TrimHorizon)
                .with_batch_size(5)
        };
        poller(vec![Arc::new(ahead.clone())]).drain().await.expect("the first read model alone");
        ahead.assert_applied_exactly(&first);

        let more = support::write_events(&*log, 6, 2).await;
        bus.publish(&more).await;
        let everything: Vec<_> = first.iter().chain(&more).cloned().collect();
        let behind = StrictSink::failing_after(1);
        let both = poller(vec![Arc::new(ahead.clone()), Arc::new(behind.clone())]);
        assert!(both.drain().await.is_err(), "the second read model fails after one batch");
        behind.heal();
        both.drain().await.expect("both, once healed");
        ahead.assert_applied_exactly(&everything);
        behind.assert_applied_exactly(&everything);
        assert_eq!(ahead.checkpoints(), behind.checkpoints(), "both stand at the end of each shard");
    }

    /// After a reshard, the closed parent is read to its end and then its
    /// children, which the running poller finds on its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_poller_follows_the_children_of_a_reshard() {
        let config = support::sdk_config().await;
        let store = support::fresh_log(&config).await;
        let log: Arc<dyn EventStore> = store;
        let client = Client::new(&config);
        let stream = unique_name("reshard");
        client.create_stream().stream_name(&stream).shard_count(1).send().await.expect("create the stream");
        wait_until_active(&client, &stream).await;
        let publisher = KinesisPublisher::new(client.clone(), stream.clone());
        let sink = StrictSink::default();
        let poller = KinesisPoller::new(
            client.clone(),
            stream.clone(),
            vec![Arc::new(sink.clone())],
            Arc::clone(&log),
            StartAt::TrimHorizon,
        );
        let shutdown = es_core::CancellationToken::new();
        let running = tokio::spawn(Arc::new(poller).run(shutdown.clone()));

        let before = support::write_events(&*log, 8, 1).await;
        publisher.publish(&before).await.expect("publish");
        wait_for(&sink, before.len()).await;
        client
            .update_shard_count()
            .stream_name(&stream)
            .target_shard_count(2)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .expect("reshard");
        wait_until_active(&client, &stream).await;
        assert!(shard_ids(&client, &stream).await.len() > 1, "the stream has children now");
        let more = support::write_events(&*log, 8, 1).await;
        publisher.publish(&more).await.expect("publish");
        let everything: Vec<_> = before.iter().chain(&more).cloned().collect();
        wait_for(&sink, everything.len()).await;
        shutdown.cancel();
        running.await.expect("the poller stops");
        sink.assert_applied_exactly(&everything);
    }

    async fn wait_for(sink: &StrictSink, events: usize) {
        for _ in 0..300 {
            if sink.history().len() >= events {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the sink applied {} of {events} events", sink.history().len());
    }
}
