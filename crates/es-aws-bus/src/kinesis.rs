//! Kinesis, the seed's bus: publishing (`PutRecords`, partition key =
//! aggregate id) and both ways of consuming a stream — the Lambda handler
//! for event-source-mapping batches and a long-running poller for hosts
//! that run projections outside Lambda.
//!
//! Publishing retries the entries a `PutRecords` call reports as failed, and
//! only those; a retried entry can land after its successors, which the
//! consumers' [`prepare`](crate::sink::prepare) step repairs from the log.
//!
//! The poller keeps each shard's last sequence number as a checkpoint in the
//! read model, written in the same transaction as the events it covers, so
//! a crash between applying and checkpointing cannot happen.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use es_core::{CancellationToken, EventStore, RecordedEvent};

use crate::sink::{BusSink, Checkpoint, Fanout, apply_delivery};
use crate::{BusError, wire};

/// Entries per `PutRecords` call (the service's limit).
pub const PUT_RECORDS_ENTRIES_MAX: usize = 500;

/// Bytes per `PutRecords` call, data and partition keys (the service's
/// limit is 5 MiB).
pub const PUT_RECORDS_BYTES_MAX: usize = 5 * 1024 * 1024;

/// Attempts for entries that keep failing (throttling) before the batch is
/// reported as failed and left to the event source's retry.
pub const PUBLISH_ATTEMPTS_MAX: u32 = 8;

/// Records per `GetRecords` call of the poller.
pub const GET_RECORDS_LIMIT: i32 = 1_000;

/// Pause of the poller on a shard with nothing new (a shard allows five
/// `GetRecords` calls per second).
pub const IDLE_POLL: Duration = Duration::from_millis(250);

/// Publishes events to one Kinesis stream.
#[derive(Clone, Debug)]
pub struct KinesisPublisher {
    client: Client,
    stream: String,
}

impl KinesisPublisher {
    /// A publisher to `stream`.
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        Self { client, stream: stream.into() }
    }

    /// Puts every event on the stream, keyed by its aggregate. Returns once
    /// all are accepted; fails if some are still refused after
    /// [`PUBLISH_ATTEMPTS_MAX`] attempts (the caller retries the batch, and
    /// the duplicates that causes are harmless downstream).
    pub async fn publish(&self, events: &[RecordedEvent]) -> Result<(), BusError> {
        let mut chunk: Vec<PutRecordsRequestEntry> = Vec::new();
        let mut bytes = 0;
        for event in events {
            let data = wire::encode(event);
            let key = wire::partition_key(event);
            let size = data.len() + key.len();
            if !chunk.is_empty() && (chunk.len() == PUT_RECORDS_ENTRIES_MAX || bytes + size > PUT_RECORDS_BYTES_MAX) {
                self.put_all(std::mem::take(&mut chunk)).await?;
                bytes = 0;
            }
            let entry = PutRecordsRequestEntry::builder()
                .data(Blob::new(data))
                .partition_key(key)
                .build()
                .map_err(|error| BusError::Request(error.to_string()))?;
            chunk.push(entry);
            bytes += size;
        }
        if !chunk.is_empty() {
            self.put_all(chunk).await?;
        }
        Ok(())
    }

    /// One `PutRecords` call, then again with only the failed entries.
    async fn put_all(&self, mut entries: Vec<PutRecordsRequestEntry>) -> Result<(), BusError> {
        for attempt in 0..PUBLISH_ATTEMPTS_MAX {
            let put = self
                .client
                .put_records()
                .stream_name(&self.stream)
                .set_records(Some(entries.clone()))
                .send()
                .await
                .map_err(|error| BusError::Request(aws_sdk_kinesis::error::DisplayErrorContext(&error).to_string()))?;
            if put.failed_record_count().unwrap_or(0) == 0 {
                return Ok(());
            }
            // Results come back in request order, one per entry.
            entries = entries
                .into_iter()
                .zip(put.records())
                .filter(|(_, result)| result.error_code().is_some())
                .map(|(entry, _)| entry)
                .collect();
            tracing::debug!(failed = entries.len(), attempt, "retrying refused Kinesis entries");
            tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(5))).await;
        }
        Err(BusError::Request(format!("{} entries still refused after {PUBLISH_ATTEMPTS_MAX} attempts", entries.len())))
    }
}

/// The Lambda handler of a Kinesis event source mapping: decodes the batch,
/// applies it, and reports failures per item. A batch that fails as a whole
/// is applied record by record; the first record that fails is reported
/// (with `ReportBatchItemFailures` the mapping retries from it, and keeps
/// what came before).
pub async fn handle_kinesis_event(
    sink: &dyn BusSink,
    log: &dyn EventStore,
    event: KinesisEvent,
) -> KinesisEventResponse {
    let mut decoded = Vec::with_capacity(event.records.len());
    for record in &event.records {
        let sequence = record.kinesis.sequence_number.clone();
        match wire::decode(&record.kinesis.data.0) {
            Ok(event) => decoded.push((sequence, event)),
            Err(error) => {
                // Not an event of this log: nothing will ever decode it, so
                // retrying would block the shard. Report and move on.
                tracing::error!(%sequence, %error, "skipping a record that is not an event");
            }
        }
    }
    let failed = apply_in_steps(sink, log, &decoded).await.map(|index| decoded[index].0.clone());
    let mut response = KinesisEventResponse::default();
    if let Some(sequence) = failed {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = Some(sequence);
        response.batch_item_failures.push(failure);
    }
    response
}

/// Applies `(item id, event)` pairs as one delivery, or on failure one by
/// one; returns the index of the first item that could not be applied.
pub(crate) async fn apply_in_steps(
    sink: &dyn BusSink,
    log: &dyn EventStore,
    items: &[(String, RecordedEvent)],
) -> Option<usize> {
    let events: Vec<RecordedEvent> = items.iter().map(|(_, event)| event.clone()).collect();
    match apply_delivery(sink, log, events, None).await {
        Ok(_) => return None,
        Err(error) => tracing::warn!(%error, "batch failed; applying record by record"),
    }
    for (index, (id, event)) in items.iter().enumerate() {
        if let Err(error) = apply_delivery(sink, log, vec![event.clone()], None).await {
            tracing::error!(%id, %error, "record failed; reporting it to the event source");
            return Some(index);
        }
    }
    None
}

/// Where a poller starts on a shard it has no checkpoint for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// The oldest record the stream still holds.
    TrimHorizon,
    /// The first record that arrived at or after this time.
    Timestamp(chrono::DateTime<chrono::Utc>),
}

/// A long-running Kinesis consumer feeding read models: one reader per
/// shard for all of them ([`Fanout`]).
pub struct KinesisPoller {
    client: Client,
    stream: String,
    sinks: Fanout,
    log: Arc<dyn EventStore>,
    start: StartAt,
    batch_size: i32,
}

impl KinesisPoller {
    /// A poller of `stream` into `sinks`, filling gaps from `log`.
    pub fn new(
        client: Client,
        stream: impl Into<String>,
        sinks: Vec<Arc<dyn BusSink>>,
        log: Arc<dyn EventStore>,
        start: StartAt,
    ) -> Self {
        Self { client, stream: stream.into(), sinks: Fanout::new(sinks), log, start, batch_size: GET_RECORDS_LIMIT }
    }

    /// Reads at most `records` per call (default [`GET_RECORDS_LIMIT`]).
    pub fn with_batch_size(mut self, records: i32) -> Self {
        self.batch_size = records.clamp(1, 10_000);
        self
    }

    fn checkpoint_key(&self, shard: &str) -> String {
        format!("kinesis/{}/{shard}", self.stream)
    }

    /// The stream's shards (the service lists parents before children).
    async fn shards(&self) -> Result<Vec<Shard>, BusError> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = match &token {
                Some(token) => self.client.list_shards().next_token(token),
                None => self.client.list_shards().stream_name(&self.stream),
            };
            let listed = request.send().await.map_err(|error| request_error(&error))?;
            shards.extend(listed.shards().iter().map(|shard| {
                Shard {
                    id: shard.shard_id().to_owned(),
                    parents: [shard.parent_shard_id(), shard.adjacent_parent_shard_id()]
                        .into_iter()
                        .flatten()
                        .map(str::to_owned)
                        .collect(),
                }
            }));
            token = listed.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(shards);
            }
        }
    }

    async fn iterator(&self, shard: &str) -> Result<Option<String>, BusError> {
        let stored = self.sinks.checkpoint(&self.checkpoint_key(shard)).await.map_err(BusError::Sink)?;
        let request = self.client.get_shard_iterator().stream_name(&self.stream).shard_id(shard);
        let request = match (stored, self.start) {
            (Some(sequence), _) => {
                request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).starting_sequence_number(sequence)
            }
            (None, StartAt::TrimHorizon) => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            (None, StartAt::Timestamp(time)) => request
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(time.timestamp_millis())),
        };
        let got = request.send().await.map_err(|error| request_error(&error))?;
        Ok(got.shard_iterator().map(str::to_owned))
    }

    /// Reads one batch from a shard and applies it; returns the next
    /// iterator (`None` once a closed shard is finished), how many records
    /// the batch held and whether the shard has more right now.
    async fn step(&self, shard: &str, iterator: String) -> Result<(Option<String>, usize, bool), BusError> {
        let got = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(self.batch_size)
            .send()
            .await
            .map_err(|error| request_error(&error))?;
        let records = got.records();
        if let Some(last) = records.last() {
            let mut events = Vec::with_capacity(records.len());
            for record in records {
                match wire::decode(record.data().as_ref()) {
                    Ok(event) => events.push(event),
                    Err(error) => {
                        tracing::error!(sequence = record.sequence_number(), %error, "skipping a record that is not an event");
                    }
                }
            }
            let checkpoint = Checkpoint { key: self.checkpoint_key(shard), value: last.sequence_number().to_owned() };
            self.sinks.apply_delivery(&*self.log, events, Some(&checkpoint)).await.map_err(BusError::Sink)?;
        }
        let millis_behind = got.millis_behind_latest().unwrap_or(0);
        crate::report_lag("kinesis", millis_behind as f64 / 1e3);
        let behind = millis_behind > 0;
        Ok((got.next_shard_iterator().map(str::to_owned), records.len(), behind))
    }

    /// Applies everything the stream holds now, shard by shard, and
    /// returns how many records were read (rebuild tools and tests use it).
    pub async fn drain(&self) -> Result<usize, BusError> {
        let mut total = 0;
        for shard in self.shards().await? {
            let mut iterator = self.iterator(&shard.id).await?;
            while let Some(current) = iterator {
                let (next, read, behind) = self.step(&shard.id, current).await?;
                total += read;
                if read == 0 && !behind {
                    break;
                }
                iterator = next;
            }
        }
        Ok(total)
    }

    /// Follows the stream until `shutdown`, one task per open shard;
    /// failures are retried from the last checkpoint after a pause.
    ///
    /// After a reshard, a child shard continues its parents' aggregates, so
    /// it is followed only once its parents are read to their end (or have
    /// left the stream's retention); the shards are listed again whenever
    /// one closes, which is how the children of a reshard made while
    /// running are found.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut finished: HashSet<String> = HashSet::new();
        let mut following: HashSet<String> = HashSet::new();
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            match self.shards().await {
                Ok(shards) => {
                    let listed: HashSet<&str> = shards.iter().map(|shard| shard.id.as_str()).collect();
                    for shard in &shards {
                        let ready = shard
                            .parents
                            .iter()
                            .all(|parent| !listed.contains(parent.as_str()) || finished.contains(parent));
                        if ready && !finished.contains(&shard.id) && following.insert(shard.id.clone()) {
                            let poller = Arc::clone(&self);
                            let (shard, shutdown) = (shard.id.clone(), shutdown.clone());
                            tasks.spawn(async move {
                                let closed = poller.follow(&shard, shutdown).await;
                                (shard, closed)
                            });
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "listing shards failed; retrying"),
            }
            let ended = if tasks.is_empty() {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            } else {
                tasks.join_next().await
            };
            match ended {
                Some(Ok((shard, true))) => {
                    tracing::info!(%shard, "shard read to its end; following its children");
                    following.remove(&shard);
                    finished.insert(shard);
                }
                Some(Ok((_, false))) | None => return,
                Some(Err(error)) => {
                    tracing::error!(%error, "a shard consumer stopped; restarting all from their checkpoints");
                    tasks.abort_all();
                    following.clear();
                }
            }
        }
    }

    /// Follows one shard until it closes (`true`) or `shutdown` (`false`).
    async fn follow(&self, shard: &str, shutdown: CancellationToken) -> bool {
        let mut iterator: Option<String> = None;
        loop {
            if shutdown.is_cancelled() {
                return false;
            }
            let outcome = match iterator.take() {
                Some(current) => self.step(shard, current).await,
                None => self.iterator(shard).await.map(|next| (next, 0, true)),
            };
            let pause = match outcome {
                Ok((None, _, _)) => return true,
                Ok((Some(next), read, behind)) => {
                    iterator = Some(next);
                    if read == 0 && !behind { IDLE_POLL } else { Duration::ZERO }
                }
                Err(error) => {
                    tracing::warn!(%shard, %error, "shard consumer failed; resuming from its checkpoint");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// A shard and the shards it continues after a split or merge.
struct Shard {
    id: String,
    parents: Vec<String>,
}

fn request_error(error: &dyn std::error::Error) -> BusError {
    BusError::Request(aws_sdk_kinesis::error::DisplayErrorContext(error).to_string())
}
