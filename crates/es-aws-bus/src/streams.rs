//! DynamoDB Streams read directly, the seed's second alternative: no
//! forwarder and no second service, but only 24 hours of history, at most
//! two readers per shard, and shards that split on their own. Fine for one
//! or two consumers; the forwarder to Kinesis is the choice for more.
//!
//! The same two consumers as on Kinesis: the Lambda handler of a stream
//! event source mapping, and a poller using the DynamoDB Streams API that
//! keeps each shard's last sequence number in the read model. The poller
//! also runs the forwarder outside Lambda ([`StreamsPoller::forwarding`]),
//! for hosts where no event source mapping calls it.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use es_core::{CancellationToken, EventStore, RecordedEvent};

use crate::kinesis::{IDLE_POLL, apply_in_steps};
use crate::publisher::Publisher;
use crate::sink::{BusSink, Checkpoint, Fanout};
use crate::{BusError, image};

/// Records per `GetRecords` call (the service's limit).
pub const GET_RECORDS_LIMIT: i32 = 1_000;

/// The Lambda handler of an event source mapping on the events table's
/// stream, feeding a read model directly.
pub async fn handle_stream_batch(
    sink: &dyn BusSink,
    log: &dyn EventStore,
    event: DynamoDbEvent,
) -> DynamoDbEventResponse {
    let mut decoded: Vec<(String, RecordedEvent)> = Vec::with_capacity(event.records.len());
    for record in &event.records {
        let id = record.change.sequence_number.clone().unwrap_or_default();
        if record.event_name != image::INSERT {
            tracing::error!(event_name = %record.event_name, "ignoring a non-insert change on the events table");
            continue;
        }
        match image::from_lambda_image(&record.change.new_image) {
            Ok(event) => decoded.push((id, event)),
            Err(error) => tracing::error!(%id, %error, "skipping a stream record that is not an event"),
        }
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(first) = apply_in_steps(sink, log, &decoded).await {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(decoded[first].0.clone());
        response.batch_item_failures.push(failure);
    }
    response
}

/// A long-running consumer of the events table's stream: one reader for
/// all the read models it feeds ([`Fanout`]; a shard allows two), or the
/// forwarder.
pub struct StreamsPoller {
    client: Client,
    stream_arn: String,
    target: Target,
    batch_size: i32,
    /// What its lag is reported as ([`crate::CONSUMER_LAG`]).
    consumer: &'static str,
}

/// Where a poller takes what it reads.
enum Target {
    /// Read models, with the log to fill gaps from.
    Sinks { sinks: Fanout, log: Arc<dyn EventStore> },
    /// The bus: the forwarder. Its shard positions are kept as checkpoints
    /// of `checkpoints` (a read model's checkpoint store), after publishing:
    /// a crash in between publishes again, which consumers ignore.
    Forward { publisher: Arc<dyn Publisher>, checkpoints: Arc<dyn BusSink> },
}

impl StreamsPoller {
    /// A poller of the stream `stream_arn` into `sinks`.
    pub fn new(
        client: Client,
        stream_arn: impl Into<String>,
        sinks: Vec<Arc<dyn BusSink>>,
        log: Arc<dyn EventStore>,
    ) -> Self {
        Self::with_target(client, stream_arn.into(), Target::Sinks { sinks: Fanout::new(sinks), log })
    }

    /// The forwarder as a poller: every event of the stream `stream_arn` is
    /// published with `publisher`; the position in each shard is stored
    /// among `checkpoints`' checkpoints (nothing else of it is written).
    pub fn forwarding(
        client: Client,
        stream_arn: impl Into<String>,
        publisher: Arc<dyn Publisher>,
        checkpoints: Arc<dyn BusSink>,
    ) -> Self {
        Self::with_target(client, stream_arn.into(), Target::Forward { publisher, checkpoints })
    }

    fn with_target(client: Client, stream_arn: String, target: Target) -> Self {
        let consumer = match target {
            Target::Sinks { .. } => "dynamodb-streams",
            Target::Forward { .. } => "forwarder",
        };
        Self { client, stream_arn, target, batch_size: GET_RECORDS_LIMIT, consumer }
    }

    /// Reads at most `records` per call (default [`GET_RECORDS_LIMIT`]).
    pub fn with_batch_size(mut self, records: i32) -> Self {
        self.batch_size = records.clamp(1, GET_RECORDS_LIMIT);
        self
    }

    /// Reports its lag as `consumer` (default `dynamodb-streams`, or `forwarder`).
    pub fn named(mut self, consumer: &'static str) -> Self {
        self.consumer = consumer;
        self
    }

    fn checkpoint_key(&self, shard: &str) -> String {
        match self.target {
            Target::Sinks { .. } => format!("dynamodb-streams/{}/{shard}", self.stream_arn),
            Target::Forward { .. } => format!("forwarder/{}/{shard}", self.stream_arn),
        }
    }

    /// Where reading `key`'s shard resumes.
    async fn stored(&self, key: &str) -> Result<Option<String>, BusError> {
        match &self.target {
            Target::Sinks { sinks, .. } => sinks.checkpoint(key).await,
            Target::Forward { checkpoints, .. } => checkpoints.checkpoint(key).await,
        }
        .map_err(BusError::Sink)
    }

    /// Takes one batch of the stream, with the position after it.
    async fn deliver(&self, events: Vec<RecordedEvent>, checkpoint: &Checkpoint) -> Result<(), BusError> {
        match &self.target {
            Target::Sinks { sinks, log } => {
                sinks.apply_delivery(log.as_ref(), events, Some(checkpoint)).await.map_err(BusError::Sink)?;
            }
            Target::Forward { publisher, checkpoints } => {
                publisher.publish(&events).await?;
                checkpoints.apply(&[], Some(checkpoint)).await.map_err(BusError::Sink)?;
            }
        }
        Ok(())
    }

    /// Drains the stream until `shutdown`, pausing [`IDLE_POLL`] when it
    /// is empty and a second after a failure (the next drain starts again
    /// from the stored positions).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let pause = match self.drain().await {
                Ok(0) => IDLE_POLL,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::warn!(%error, stream = %self.stream_arn, "reading the events table's stream failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// The stream's shards, parents before children (as listed).
    async fn shards(&self) -> Result<Vec<String>, BusError> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let described = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|error| request_error(&error))?;
            let Some(description) = described.stream_description() else { return Ok(shards) };
            shards.extend(description.shards().iter().filter_map(|shard| shard.shard_id().map(str::to_owned)));
            match description.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_owned()),
                None => return Ok(shards),
            }
        }
    }

    /// Applies everything the stream holds now; returns the records read.
    pub async fn drain(&self) -> Result<usize, BusError> {
        let mut total = 0;
        for shard in self.shards().await? {
            let key = self.checkpoint_key(&shard);
            let stored = self.stored(&key).await?;
            let request = self.client.get_shard_iterator().stream_arn(&self.stream_arn).shard_id(&shard);
            let request = match stored {
                Some(sequence) => {
                    request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(sequence)
                }
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let mut iterator = request.send().await.map_err(|error| request_error(&error))?.shard_iterator;
            while let Some(current) = iterator.take() {
                let got = self
                    .client
                    .get_records()
                    .shard_iterator(current)
                    .limit(self.batch_size)
                    .send()
                    .await
                    .map_err(|error| request_error(&error))?;
                let records = got.records();
                let oldest = records.first().and_then(|record| record.dynamodb()?.approximate_creation_date_time());
                let lag = oldest.map_or(0.0, |created| {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                    (now.as_secs_f64() - created.as_secs_f64()).max(0.0)
                });
                crate::report_lag(self.consumer, lag);
                let Some(last) = records.last() else { break };
                let mut events = Vec::with_capacity(records.len());
                for record in records {
                    let Some(change) = record.dynamodb() else { continue };
                    let Some(image) = change.new_image() else { continue };
                    match image::from_streams_image(image) {
                        Ok(event) => events.push(event),
                        Err(error) => tracing::error!(%error, "skipping a stream record that is not an event"),
                    }
                }
                let sequence = last.dynamodb().and_then(|change| change.sequence_number()).unwrap_or_default();
                let checkpoint = Checkpoint { key: key.clone(), value: sequence.to_owned() };
                self.deliver(events, &checkpoint).await?;
                total += records.len();
                iterator = got.next_shard_iterator().map(str::to_owned);
            }
        }
        Ok(total)
    }
}

fn request_error(error: &dyn std::error::Error) -> BusError {
    BusError::Request(aws_sdk_dynamodbstreams::error::DisplayErrorContext(error).to_string())
}
