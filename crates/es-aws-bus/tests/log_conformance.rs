//! The kernel's conformance suite on the DynamoDB log: the same cases the
//! in-memory reference and SQLite pass, against the emulators started by
//! `scripts/services.sh` (moto for DynamoDB and its stream). Every backend
//! gets its own tables.
//!
//! The DynamoDB log positions events after the commit, so its backend comes
//! with its indexer: the real one, fed from the events table's stream by a
//! stream poller, run by the cases wherever they read the whole log.

mod support;

use std::sync::Arc;

use es_aws_bus::indexer::LogIndexer;
use es_aws_bus::streams::StreamsPoller;
use es_core::{EventStore, async_trait};
use es_dynamodb::DynamoDbEventStore;
use es_testkit::{Backend, BackendFactory, Indexer};

struct DynamoDbFactory;

/// The backend of a log: the store and its indexer.
async fn backend(config: &aws_config::SdkConfig, store: Arc<DynamoDbEventStore>) -> Backend {
    let indexer = StreamIndexer::new(config, Arc::clone(&store)).await;
    Backend { store: store.clone(), snapshots: store, indexer: Some(Arc::new(indexer)) }
}

/// The indexer of one test log, read from its stream on demand.
struct StreamIndexer {
    poller: StreamsPoller,
}

impl StreamIndexer {
    async fn new(config: &aws_config::SdkConfig, store: Arc<DynamoDbEventStore>) -> Self {
        let described =
            store.client().describe_table().table_name(&store.tables().events).send().await.expect("describe");
        let arn = described.table().and_then(|table| table.latest_stream_arn()).expect("a stream").to_owned();
        let log: Arc<dyn EventStore> = store.clone();
        let indexer = Arc::new(LogIndexer::new(store));
        Self { poller: StreamsPoller::new(aws_sdk_dynamodbstreams::Client::new(config), arn, vec![indexer], log) }
    }
}

#[async_trait]
impl Indexer for StreamIndexer {
    async fn catch_up(&self) {
        self.poller.drain().await.expect("the indexer positions what the stream holds");
    }
}

#[async_trait]
impl BackendFactory for DynamoDbFactory {
    async fn fresh(&self) -> Backend {
        let config = support::sdk_config().await;
        backend(&config, support::fresh_log(&config).await).await
    }

    /// A second process on the same tables: a store with nothing in memory.
    async fn fresh_with_second_process(&self) -> Option<(Backend, Arc<dyn EventStore>)> {
        let config = support::sdk_config().await;
        let store = support::fresh_log(&config).await;
        let second = Arc::new(DynamoDbEventStore::new(store.client().clone(), store.tables().clone()));
        Some((backend(&config, store).await, second))
    }

    /// The emulator answers a few hundred requests per second, and the race
    /// case alone makes about 5,000.
    fn case_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
}

es_testkit::conformance_tests!(DynamoDbFactory);
