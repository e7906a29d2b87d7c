//! SQS FIFO, the seed's first alternative: one queue per subscriber (a
//! queue delivers each message to one consumer), message group = aggregate
//! id (order per aggregate), deduplication id = `AggregateId:AggregateVersion`
//! (a re-published event within five minutes is dropped by SQS itself; later
//! copies are dropped by [`prepare`](crate::sink::prepare)).
//!
//! Compared with Kinesis: no replay (a consumed message is gone; rebuilds
//! read the log), and a fan-out cost per subscriber; in exchange, no shards
//! to size. The consumers here are the Lambda handler and a poller.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_lambda_events::event::streams::{SqsBatchItemFailure, SqsEventResponse};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use es_core::{EventStore, RecordedEvent};

use crate::kinesis::apply_in_steps;
use crate::publisher::Publisher;
use crate::sink::{BusSink, apply_delivery};
use crate::{BusError, wire};

/// Messages per `SendMessageBatch` / `ReceiveMessage` call (the service's
/// limit).
pub const BATCH_MESSAGES_MAX: usize = 10;

/// Attempts for entries that keep failing before the publish fails.
pub const PUBLISH_ATTEMPTS_MAX: u32 = 8;

/// Publishes every event to each subscriber's FIFO queue.
#[derive(Clone, Debug)]
pub struct SqsFifoPublisher {
    client: Client,
    queue_urls: Vec<String>,
}

impl SqsFifoPublisher {
    /// A publisher to these queues (URLs of `.fifo` queues).
    pub fn new(client: Client, queue_urls: Vec<String>) -> Self {
        Self { client, queue_urls }
    }

    async fn send_all(&self, queue_url: &str, events: &[RecordedEvent]) -> Result<(), BusError> {
        for chunk in events.chunks(BATCH_MESSAGES_MAX) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (index, event) in chunk.iter().enumerate() {
                let body =
                    String::from_utf8(wire::encode(event)).map_err(|error| BusError::Malformed(error.to_string()))?;
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(body)
                    .message_group_id(wire::partition_key(event))
                    .message_deduplication_id(wire::deduplication_id(event))
                    .build()
                    .map_err(|error| BusError::Request(error.to_string()))?;
                entries.push(entry);
            }
            for attempt in 0..PUBLISH_ATTEMPTS_MAX {
                let sent = self
                    .client
                    .send_message_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                    .map_err(|error| BusError::Request(aws_sdk_sqs::error::DisplayErrorContext(&error).to_string()))?;
                let failed: Vec<&str> = sent.failed().iter().map(|failure| failure.id()).collect();
                if failed.is_empty() {
                    break;
                }
                if attempt + 1 == PUBLISH_ATTEMPTS_MAX {
                    return Err(BusError::Request(format!("{} messages still refused", failed.len())));
                }
                entries.retain(|entry| failed.contains(&entry.id()));
                tokio::time::sleep(Duration::from_millis(50u64 << attempt.min(5))).await;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Publisher for SqsFifoPublisher {
    async fn publish(&self, events: &[RecordedEvent]) -> Result<(), BusError> {
        for queue_url in &self.queue_urls {
            self.send_all(queue_url, events).await?;
        }
        Ok(())
    }
}

/// The Lambda handler of an SQS FIFO event source mapping. On a failure it
/// reports the failed message and every one after it, as FIFO processing
/// requires (later messages of the group must not overtake it).
pub async fn handle_sqs_event(sink: &dyn BusSink, log: &dyn EventStore, event: SqsEvent) -> SqsEventResponse {
    let mut decoded = Vec::with_capacity(event.records.len());
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        match wire::decode(message.body.as_deref().unwrap_or_default().as_bytes()) {
            Ok(event) => decoded.push((id, event)),
            Err(error) => tracing::error!(%id, %error, "skipping a message that is not an event"),
        }
    }
    let mut response = SqsEventResponse::default();
    if let Some(first) = apply_in_steps(sink, log, &decoded).await {
        for (id, _) in &decoded[first..] {
            let mut failure = SqsBatchItemFailure::default();
            failure.item_identifier = Some(id.clone());
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// A long-running consumer of one subscriber's queue.
pub struct SqsPoller {
    client: Client,
    queue_url: String,
    sink: Arc<dyn BusSink>,
    log: Arc<dyn EventStore>,
}

impl SqsPoller {
    /// A poller of `queue_url` into `sink`, filling gaps from `log`.
    pub fn new(client: Client, queue_url: impl Into<String>, sink: Arc<dyn BusSink>, log: Arc<dyn EventStore>) -> Self {
        Self { client, queue_url: queue_url.into(), sink, log }
    }

    /// Receives one batch, applies it and deletes it; on failure makes it
    /// visible again at once. Returns how many messages the batch held.
    pub async fn step(&self, wait: Duration) -> Result<usize, BusError> {
        let received = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH_MESSAGES_MAX as i32)
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
            .send()
            .await
            .map_err(|error| BusError::Request(aws_sdk_sqs::error::DisplayErrorContext(&error).to_string()))?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(0);
        }
        let mut events = Vec::with_capacity(messages.len());
        for message in messages {
            match wire::decode(message.body().unwrap_or_default().as_bytes()) {
                Ok(event) => events.push(event),
                Err(error) => tracing::error!(%error, "dropping a message that is not an event"),
            }
        }
        let handles: Vec<&str> = messages.iter().filter_map(|message| message.receipt_handle()).collect();
        if let Err(error) = apply_delivery(&*self.sink, &*self.log, events, None).await {
            for handle in &handles {
                let released = self
                    .client
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(*handle)
                    .visibility_timeout(0)
                    .send()
                    .await;
                if let Err(release) = released {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&release), "releasing a message failed");
                }
            }
            return Err(BusError::Sink(error));
        }
        let entries = handles
            .iter()
            .enumerate()
            .map(|(index, handle)| {
                DeleteMessageBatchRequestEntry::builder().id(index.to_string()).receipt_handle(*handle).build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| BusError::Request(error.to_string()))?;
        // A delete that fails only means a redelivery, which changes nothing.
        let deleted =
            self.client.delete_message_batch().queue_url(&self.queue_url).set_entries(Some(entries)).send().await;
        if let Err(error) = deleted {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "deleting consumed messages failed");
        }
        Ok(messages.len())
    }

    /// Consumes until the queue is empty.
    pub async fn drain(&self) -> Result<usize, BusError> {
        let mut total = 0;
        loop {
            let read = self.step(Duration::ZERO).await?;
            if read == 0 {
                return Ok(total);
            }
            total += read;
        }
    }
}
