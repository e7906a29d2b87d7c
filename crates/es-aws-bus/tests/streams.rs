//! The consumer suite on the events table's own stream (moto,
//! `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`), consumed through the Lambda handler
//! (fed by a stand-in for the event source mapping that builds the Lambda
//! event JSON from `GetRecords`) and through the poller; and the forwarder,
//! the same stream → Kinesis → a consumer.
//!
//! The stream is the log's own: nothing but an append can put a record on
//! it, so `publish` does nothing here, and the cases about a damaged or
//! duplicated bus pass by construction for this transport.
//!
//! The same stream feeds the indexer, which gives the DynamoDB log its order
//! ([`es_aws_bus::indexer`]).

mod suite;
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use es_aws_bus::forwarder::handle_stream_event;
use es_aws_bus::indexer::LogIndexer;
use es_aws_bus::kinesis::{KinesisPoller, KinesisPublisher, StartAt};
use es_aws_bus::sink::apply_delivery;
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

/// Everything the index shows, page by page (small pages, to cross batches).
async fn indexed(store: &DynamoDbEventStore) -> Vec<RecordedEvent> {
    let mut all: Vec<RecordedEvent> = Vec::new();
    loop {
        let after = all.last().map_or(es_core::Position::START, |event| event.position);
        let page = store.read_indexed(after, 4).await.expect("read the index");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Asserts that `indexed` holds every event of `written` once, at positions
/// 1, 2, 3, … and each aggregate's versions in order.
fn assert_indexed_once_in_order(indexed: &[RecordedEvent], written: &[RecordedEvent]) {
    let positions: Vec<u64> = indexed.iter().map(|event| event.position.0).collect();
    assert_eq!(positions, (1..=written.len() as u64).collect::<Vec<_>>(), "dense positions from 1, no repeat");
    let mut seen: HashMap<es_core::AggregateId, Vec<u64>> = HashMap::new();
    for event in indexed {
        seen.entry(event.aggregate_id).or_default().push(event.aggregate_version.0);
    }
    let mut wanted: HashMap<es_core::AggregateId, Vec<u64>> = HashMap::new();
    for event in written {
        wanted.entry(event.aggregate_id).or_default().push(event.aggregate_version.0);
    }
    assert_eq!(seen, wanted, "every event once, each aggregate in version order");
    let by_id: HashMap<_, _> = written.iter().map(|event| (event.event_id, event)).collect();
    for event in indexed {
        let stored = by_id[&event.event_id];
        assert_eq!((&event.data, event.created), (&stored.data, stored.created), "the index reads the stored event");
    }
}

/// The indexer positions the log from the table's stream: every event once,
/// each aggregate in version order, densely; delivering everything again,
/// from a second process without its memory, positions nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexer_positions_every_event_once_from_the_stream_and_ignores_redelivery() {
    let config = support::sdk_config().await;
    let store = support::fresh_log(&config).await;
    let written = support::write_events(&*store, 6, 4).await;
    let arn = stream_arn(&store).await;
    let indexer = Arc::new(LogIndexer::new(Arc::clone(&store)));
    let log: Arc<dyn EventStore> = store.clone();
    let poller =
        StreamsPoller::new(Client::new(&config), arn.clone(), vec![indexer.clone()], log.clone()).with_batch_size(5);
    let read = poller.drain().await.expect("indexes");
    assert_eq!(read, written.len(), "every stream record read once");
    assert_indexed_once_in_order(&indexed(&store).await, &written);
    assert_eq!(store.indexed_head().await.expect("head"), es_core::Position(written.len() as u64));

    // Another process: same tables, nothing in memory; it is handed the whole
    // stream again (a lost checkpoint) and every event once more directly.
    let other = Arc::new(DynamoDbEventStore::new(store.client().clone(), store.tables().clone()));
    let again = Arc::new(LogIndexer::new(Arc::clone(&other)));
    apply_delivery(&*again, &*log, written.clone(), None).await.expect("a repeated delivery is accepted");
    let head = other.index(&[(written[0].aggregate_id, written[0].aggregate_version)]).await.expect("index");
    assert_eq!(head, es_core::Position(written.len() as u64), "nothing positioned twice");
    assert_indexed_once_in_order(&indexed(&store).await, &written);

    // New appends after a restart are positioned after the old ones.
    let more = support::write_events(&*store, 2, 2).await;
    let poller = StreamsPoller::new(Client::new(&config), arn, vec![again], log).with_batch_size(3);
    let read = poller.drain().await.expect("indexes");
    assert_eq!(read, more.len(), "it resumes after its checkpoint");
    let all: Vec<RecordedEvent> = written.iter().chain(&more).cloned().collect();
    assert_indexed_once_in_order(&indexed(&store).await, &all);
}

/// Two indexers (two processes) handed the same events at once never
/// position an event twice or leave a hole: the loser of a position moves on
/// after the winner's batch and drops what it positioned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_indexers_racing_on_the_same_events_position_each_once() {
    let config = support::sdk_config().await;
    let store = support::fresh_log(&config).await;
    let written = support::write_events(&*store, 8, 3).await;
    let log: Arc<dyn EventStore> = store.clone();
    let mut racers = Vec::new();
    for _ in 0..2 {
        let process = Arc::new(DynamoDbEventStore::new(store.client().clone(), store.tables().clone()));
        let indexer = LogIndexer::new(process);
        let (log, events) = (Arc::clone(&log), written.clone());
        racers.push(tokio::spawn(async move {
            // In small deliveries, as a stream's shards would hand them out.
            for delivery in events.chunks(5) {
                apply_delivery(&indexer, &*log, delivery.to_vec(), None).await.expect("indexes");
            }
        }));
    }
    for racer in racers {
        racer.await.expect("an indexer does not panic");
    }
    assert_indexed_once_in_order(&indexed(&store).await, &written);
}

/// How long after an append's acknowledgement the running indexer gives it
/// a position, on the emulators: appends to distinct aggregates at a steady
/// rate while a poller indexes; prints p50/p99. A measurement, not a check:
/// `cargo test -p es-aws-bus --test streams -- --ignored --nocapture`
/// (with `scripts/services.sh` sourced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run it by name"]
async fn measure_the_lag_from_commit_to_indexed() {
    const APPENDS: usize = 400;
    const EVERY: std::time::Duration = std::time::Duration::from_millis(20);
    let config = support::sdk_config().await;
    let store = support::fresh_log(&config).await;
    let log: Arc<dyn EventStore> = store.clone();
    let indexer = Arc::new(LogIndexer::new(Arc::clone(&store)));
    let poller = Arc::new(StreamsPoller::new(Client::new(&config), stream_arn(&store).await, vec![indexer], log));
    let shutdown = es_core::CancellationToken::new();
    let running = tokio::spawn(poller.run(shutdown.clone()));
    let mut commits = store.commits();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while commits.changed().await.is_ok() {
            let head = *commits.borrow_and_update();
            seen.push((std::time::Instant::now(), head));
            if head.0 >= APPENDS as u64 {
                break;
            }
        }
        seen
    });
    let mut acknowledged = Vec::with_capacity(APPENDS);
    let mut ticks = tokio::time::interval(EVERY);
    for n in 0..APPENDS {
        ticks.tick().await;
        let aggregate = es_core::AggregateId::random();
        let event = es_core::NewEvent {
            event_id: es_core::EventId::random(),
            event_type: "Counted".into(),
            schema_version: 1,
            data: format!("{{\"n\":{n}}}"),
            created: es_core::truncate_to_millis(chrono::Utc::now()),
            metadata: es_core::Metadata::default(),
        };
        let request = es_core::AppendRequest::single(aggregate, es_core::ExpectedVersion::NoStream, vec![event]);
        store.append(request).await.expect("append");
        acknowledged.push((std::time::Instant::now(), aggregate));
    }
    let seen =
        tokio::time::timeout(std::time::Duration::from_secs(60), watcher).await.expect("indexed").expect("watcher");
    shutdown.cancel();
    running.await.expect("the poller stops");
    let positions: HashMap<es_core::AggregateId, u64> =
        indexed(&store).await.into_iter().map(|event| (event.aggregate_id, event.position.0)).collect();
    let mut lags: Vec<f64> = acknowledged
        .iter()
        .map(|(at, aggregate)| {
            let position = positions[aggregate];
            let (indexed_at, _) = seen.iter().find(|(_, head)| head.0 >= position).expect("seen indexed");
            indexed_at.saturating_duration_since(*at).as_secs_f64() * 1_000.0
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let percentile = |p: f64| lags[((lags.len() - 1) as f64 * p).round() as usize];
    eprintln!(
        "commit → indexed, {APPENDS} appends at {} /s: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        1_000 / EVERY.as_millis(),
        percentile(0.5),
        percentile(0.99),
        lags[lags.len() - 1]
    );
}

/// A store error says what DynamoDB answered (its code and message), not
/// just that the service failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_error_says_what_dynamodb_answered() {
    let config = support::sdk_config().await;
    let tables = es_dynamodb::Tables::named(support::unique_name("missing"));
    let store = DynamoDbEventStore::new(aws_sdk_dynamodb::Client::new(&config), tables);
    let error = store.load(es_core::AggregateId::random(), es_core::Version::INITIAL, 10).await.expect_err("no table");
    assert!(error.to_string().contains("ResourceNotFoundException"), "{error}");
}
