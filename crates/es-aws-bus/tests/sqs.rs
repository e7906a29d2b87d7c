//! The consumer suite on SQS FIFO (moto, `AWS_ENDPOINT_URL_SQS`), consumed
//! through the Lambda handler (fed by a stand-in for the event source
//! mapping that builds the Lambda event JSON from `ReceiveMessage`) and
//! through the poller.
//!
//! A consumed message is gone from a queue, so "delivering everything again"
//! means what happens in production after SQS's five-minute deduplication
//! window: the same events sent again under new deduplication ids.

mod suite;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use es_aws_bus::publisher::Publisher;
use es_aws_bus::sqs::{SqsFifoPublisher, SqsPoller, handle_sqs_event};
use es_aws_bus::wire;
use es_core::{EventStore, RecordedEvent, async_trait};
use es_dynamodb::DynamoDbEventStore;
use suite::BusUnderTest;
use support::{StrictSink, unique_name};

const RETRIES: usize = 3;

async fn fresh_queue(client: &Client) -> String {
    let created = client
        .create_queue()
        .queue_name(format!("{}.fifo", unique_name("bus")))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("create the queue");
    created.queue_url().expect("a queue URL").to_owned()
}

/// What both consumers share: the queue, its publisher, and everything
/// published so far (for sending it again).
struct Queue {
    client: Client,
    url: String,
    publisher: SqsFifoPublisher,
    published: Mutex<Vec<RecordedEvent>>,
}

impl Queue {
    async fn new(config: &aws_config::SdkConfig) -> Self {
        let client = Client::new(config);
        let url = fresh_queue(&client).await;
        let publisher = SqsFifoPublisher::new(client.clone(), vec![url.clone()]);
        Self { client, url, publisher, published: Mutex::default() }
    }

    async fn publish(&self, events: &[RecordedEvent]) {
        self.publisher.publish(events).await.expect("publish");
        self.published.lock().expect("lock").extend_from_slice(events);
    }

    /// Sends everything published so far again, under new deduplication ids.
    async fn send_again(&self) {
        let events = self.published.lock().expect("lock").clone();
        for event in events {
            let body = String::from_utf8(wire::encode(&event)).expect("UTF-8");
            self.client
                .send_message()
                .queue_url(&self.url)
                .message_body(body)
                .message_group_id(wire::partition_key(&event))
                .message_deduplication_id(format!("{}:again", wire::deduplication_id(&event)))
                .send()
                .await
                .expect("send again");
        }
    }
}

/// The stand-in for an SQS event source mapping.
struct LambdaBus {
    queue: Queue,
}

impl LambdaBus {
    async fn new(config: &aws_config::SdkConfig, _log: Arc<DynamoDbEventStore>) -> Self {
        Self { queue: Queue::new(config).await }
    }
}

#[async_trait]
impl BusUnderTest for LambdaBus {
    async fn publish(&self, events: &[RecordedEvent]) {
        self.queue.publish(events).await;
    }

    async fn consume(&self, sink: &StrictSink, log: Arc<dyn EventStore>) -> Result<(), String> {
        let (client, url) = (&self.queue.client, &self.queue.url);
        let mut failures = 0;
        loop {
            let received = client.receive_message().queue_url(url).max_number_of_messages(10).send().await;
            let received = received.expect("receive");
            let messages = received.messages();
            if messages.is_empty() {
                return Ok(());
            }
            let records: Vec<serde_json::Value> = messages
                .iter()
                .map(|message| {
                    serde_json::json!({
                        "messageId": message.message_id(),
                        "receiptHandle": message.receipt_handle(),
                        "body": message.body(),
                        "attributes": {"MessageGroupId": "x", "ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                        "md5OfBody": message.md5_of_body(),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bus.fifo",
                        "awsRegion": "us-east-1",
                    })
                })
                .collect();
            let event: SqsEvent =
                serde_json::from_value(serde_json::json!({ "Records": records })).expect("an SQS event");
            let response = handle_sqs_event(sink, &*log, event).await;
            let failed: Vec<String> =
                response.batch_item_failures.iter().filter_map(|failure| failure.item_identifier.clone()).collect();
            for message in messages {
                let handle = message.receipt_handle().expect("a receipt handle");
                if failed.iter().any(|id| Some(id.as_str()) == message.message_id()) {
                    // The mapping makes failed messages visible again.
                    client
                        .change_message_visibility()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .expect("release");
                } else {
                    client.delete_message().queue_url(url).receipt_handle(handle).send().await.expect("delete");
                }
            }
            if !failed.is_empty() {
                failures += 1;
                if failures > RETRIES {
                    return Err(format!("{} messages keep failing", failed.len()));
                }
            }
        }
    }

    async fn rewind(&self, _sink: &StrictSink) {
        self.queue.send_again().await;
    }
}

/// The long-running poller.
struct PollerBus {
    queue: Queue,
}

impl PollerBus {
    async fn new(config: &aws_config::SdkConfig, _log: Arc<DynamoDbEventStore>) -> Self {
        Self { queue: Queue::new(config).await }
    }
}

#[async_trait]
impl BusUnderTest for PollerBus {
    async fn publish(&self, events: &[RecordedEvent]) {
        self.queue.publish(events).await;
    }

    async fn consume(&self, sink: &StrictSink, log: Arc<dyn EventStore>) -> Result<(), String> {
        let poller = SqsPoller::new(self.queue.client.clone(), self.queue.url.clone(), Arc::new(sink.clone()), log);
        let mut last_error = String::new();
        for _ in 0..=RETRIES {
            match poller.drain().await {
                Ok(_) => return Ok(()),
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(last_error)
    }

    async fn rewind(&self, _sink: &StrictSink) {
        self.queue.send_again().await;
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
