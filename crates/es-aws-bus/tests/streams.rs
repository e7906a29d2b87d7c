//! The consumer suite on the events table's own stream (moto,
//! `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`), consumed through the Lambda handler
//! (fed by a stand-in for the event source mapping that builds the Lambda
//! event JSON from `GetRecords`) and through the poller; and the forwarder,
//! the same stream → Kinesis → a consumer.
//!
//! The stream is the log's own: nothing but an append can put a record on
//! it, so `publish` does nothing here, and the cases about a damaged or
//! duplicated bus pass by construction for this transport.

mod suite;
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use es_aws_bus::forwarder::handle_stream_event;
use es_aws_bus::kinesis::{KinesisPoller, KinesisPublisher, StartAt};
use es_aws_bus::streams::{StreamsPoller, handle_stream_batch};
use es_core::{EventStore, RecordedEvent, async_trait};
use es_dynamodb::DynamoDbEventStore;
use suite::BusUnderTest;
use support::StrictSink;

const RETRIES: usize = 3;

async fn stream_arn(store: &DynamoDbEventStore) -> String {
    let described =
        store.client().describe_table().table_name(&store.tables().events).send().await.expect("describe the table");
    described.table().and_then(|table| table.latest_stream_arn()).expect("the events table has a stream").to_owned()
}

fn image_json(image: &HashMap<String, AttributeValue>) -> serde_json::Value {
    let attributes = image
        .iter()
        .filter_map(|(name, value)| {
            let value = match value {
                AttributeValue::S(text) => serde_json::json!({ "S": text }),
                AttributeValue::N(number) => serde_json::json!({ "N": number }),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect::<serde_json::Map<_, _>>();
    serde_json::Value::Object(attributes)
}

/// The stand-in for a DynamoDB stream event source mapping: reads the
/// stream and hands batches, as Lambda event JSON, to a handler.
struct StreamReader {
    client: Client,
    arn: String,
    positions: Mutex<HashMap<String, String>>,
}

impl StreamReader {
    async fn new(config: &aws_config::SdkConfig, store: &DynamoDbEventStore) -> Self {
        Self { client: Client::new(config), arn: stream_arn(store).await, positions: Mutex::default() }
    }

    async fn shards(&self) -> Vec<String> {
        let described = self.client.describe_stream().stream_arn(&self.arn).send().await.expect("describe stream");
        let description = described.stream_description().expect("a description");
        description.shards().iter().filter_map(|shard| shard.shard_id().map(str::to_owned)).collect()
    }

    /// The next batch of a shard as (sequence number, record JSON).
    async fn batch(&self, shard: &str) -> Vec<(String, serde_json::Value)> {
        let position = self.positions.lock().expect("lock").get(shard).cloned();
        let request = self.client.get_shard_iterator().stream_arn(&self.arn).shard_id(shard);
        let request = match position {
            Some(sequence) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence)
            }
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let Some(iterator) = request.send().await.expect("iterator").shard_iterator else { return Vec::new() };
        let got = self.client.get_records().shard_iterator(iterator).limit(7).send().await.expect("get records");
        got.records()
            .iter()
            .filter_map(|record| {
                let change = record.dynamodb()?;
                let sequence = change.sequence_number()?.to_owned();
                let json = serde_json::json!({
                    "eventID": record.event_id(),
                    "eventName": record.event_name().map(|name| name.as_str()),
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": self.arn,
                    "dynamodb": {
                        "ApproximateCreationDateTime": 1_790_000_000.0,
                        "Keys": image_json(change.keys().unwrap_or(&HashMap::new())),
                        "NewImage": image_json(change.new_image().unwrap_or(&HashMap::new())),
                        "SequenceNumber": sequence,
                        "SizeBytes": 100,
                        "StreamViewType": "NEW_IMAGE",
                    },
                });
                Some((sequence, json))
            })
            .collect()
    }

    /// Feeds every shard to `handle` until drained; `handle` returns the
    /// sequence number of the first failed record, if any.
    async fn feed<F, Fut>(&self, mut handle: F) -> Result<(), String>
    where
        F: FnMut(DynamoDbEvent) -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        for shard in self.shards().await {
            let mut failures = 0;
            loop {
                let batch = self.batch(&shard).await;
                let Some((last, _)) = batch.last().cloned() else { break };
                let sequences: Vec<String> = batch.iter().map(|(sequence, _)| sequence.clone()).collect();
                let records: Vec<serde_json::Value> = batch.into_iter().map(|(_, json)| json).collect();
                let event: DynamoDbEvent =
                    serde_json::from_value(serde_json::json!({ "Records": records })).expect("a DynamoDB event");
                match handle(event).await {
                    None => {
                        self.positions.lock().expect("lock").insert(shard.clone(), last);
                    }
                    Some(failed) => {
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
}

struct LambdaBus {
    reader: StreamReader,
}

impl LambdaBus {
    async fn new(config: &aws_config::SdkConfig, store: Arc<DynamoDbEventStore>) -> Self {
        Self { reader: StreamReader::new(config, &store).await }
    }
}

#[async_trait]
impl BusUnderTest for LambdaBus {
    async fn publish(&self, _events: &[RecordedEvent]) {}

    async fn consume(&self, sink: &StrictSink, log: Arc<dyn EventStore>) -> Result<(), String> {
        self.reader
            .feed(|event| {
                let log = Arc::clone(&log);
                async move {
                    let response = handle_stream_batch(sink, &*log, event).await;
                    response.batch_item_failures.first().and_then(|failure| failure.item_identifier.clone())
                }
            })
            .await
    }

    async fn rewind(&self, _sink: &StrictSink) {
        self.reader.positions.lock().expect("lock").clear();
    }
}

struct PollerBus {
    client: Client,
    arn: String,
}

impl PollerBus {
    async fn new(config: &aws_config::SdkConfig, store: Arc<DynamoDbEventStore>) -> Self {
        Self { client: Client::new(config), arn: stream_arn(&store).await }
    }
}

#[async_trait]
impl BusUnderTest for PollerBus {
    async fn publish(&self, _events: &[RecordedEvent]) {}

    async fn consume(&self, sink: &StrictSink, log: Arc<dyn EventStore>) -> Result<(), String> {
        let poller = StreamsPoller::new(self.client.clone(), self.arn.clone(), vec![Arc::new(sink.clone())], log)
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
}

/// The path without a dual write: appends → the table's stream → the
/// forwarder's Lambda handler → Kinesis → a consumer. Every event arrives
/// once; a forwarder batch handled twice (a retried invocation) changes
/// nothing downstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forwarder_carries_every_appended_event_from_the_table_to_kinesis() {
    let config = support::sdk_config().await;
    let store = support::fresh_log(&config).await;
    let reader = StreamReader::new(&config, &store).await;
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let stream = support::unique_name("forwarded");
    kinesis.create_stream().stream_name(&stream).shard_count(2).send().await.expect("create the stream");
    let publisher = KinesisPublisher::new(kinesis.clone(), stream.clone());

    let events = support::write_events(&*store, 5, 3).await;
    let mut invocations = 0;
    reader
        .feed(|event| {
            invocations += 1;
            let publisher = publisher.clone();
            async move {
                // Every batch is forwarded twice, as a retried invocation would.
                let first = handle_stream_event(&publisher, event.clone()).await;
                let second = handle_stream_event(&publisher, event).await;
                assert!(first.batch_item_failures.is_empty() && second.batch_item_failures.is_empty());
                None
            }
        })
        .await
        .expect("forwards");
    assert!(invocations > 1, "the stream came in several batches");

    let sink = StrictSink::default();
    let log: Arc<dyn EventStore> = store;
    let poller = KinesisPoller::new(kinesis, stream, vec![Arc::new(sink.clone())], log, StartAt::TrimHorizon);
    let read = poller.drain().await.expect("consumes");
    assert_eq!(read, 2 * events.len(), "every event put twice on Kinesis");
    sink.assert_applied_exactly(&events);
}
