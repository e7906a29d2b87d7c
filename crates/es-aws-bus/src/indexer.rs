//! The indexer: the log's order from the events table's stream.
//!
//! The DynamoDB log's index gives committed events their positions after
//! the commit ([`es_dynamodb::index`]). This is the reader that does it, as a
//! [`BusSink`] of the table's stream, so it is fed exactly like a read
//! model: by the stream's Lambda event source mapping
//! ([`crate::streams::handle_stream_batch`]) or by a [`StreamsPoller`]
//! in a long-running host, which follows a reshard's children after their
//! parents. [`crate::sink::prepare`] hands it each aggregate's versions
//! right after its cursor, in order and without holes (a transaction's
//! records may come in any order; a missing one is read from the table), so
//! positions follow the commit order of every aggregate. Redelivered
//! records and a second indexer are dropped by the cursors.
//!
//! Its checkpoint (a shard's sequence number) is stored after the batch's
//! positions: a crash in between delivers the records again, and the
//! cursors drop them.
//!
//! [`StreamsPoller`]: crate::streams::StreamsPoller

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use es_core::{AggregateId, Position, ProjectionError, RecordedEvent, StoreError, Version};
use es_dynamodb::DynamoDbEventStore;

use crate::sink::{BusSink, Checkpoint};

/// The sink name of the indexer (it scopes its checkpoints).
pub const INDEXER: &str = "log-index";

/// Positions for the events of the DynamoDB log, from its stream.
#[derive(Clone, Debug)]
pub struct LogIndexer {
    store: Arc<DynamoDbEventStore>,
}

impl LogIndexer {
    /// The indexer of `store`'s log; `store.indexed()` changes when it
    /// positions events.
    pub fn new(store: Arc<DynamoDbEventStore>) -> Self {
        Self { store }
    }
}

fn sink_error(error: StoreError) -> ProjectionError {
    ProjectionError::Apply { name: INDEXER.into(), position: Position::START, reason: error.to_string() }
}

#[async_trait]
impl BusSink for LogIndexer {
    fn name(&self) -> &str {
        INDEXER
    }

    async fn applied_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, ProjectionError> {
        self.store.indexed_versions(aggregates).await.map_err(sink_error)
    }

    async fn apply(&self, events: &[RecordedEvent], checkpoint: Option<&Checkpoint>) -> Result<(), ProjectionError> {
        if !events.is_empty() {
            let events: Vec<(AggregateId, Version)> =
                events.iter().map(|event| (event.aggregate_id, event.aggregate_version)).collect();
            let head = self.store.index(&events).await.map_err(sink_error)?;
            tracing::debug!(events = events.len(), head = head.0, "positioned");
        }
        if let Some(checkpoint) = checkpoint {
            self.store
                .save_stream_checkpoint(&checkpoint_key(&checkpoint.key), &checkpoint.value)
                .await
                .map_err(sink_error)?;
        }
        Ok(())
    }

    async fn checkpoint(&self, key: &str) -> Result<Option<String>, ProjectionError> {
        self.store.stream_checkpoint(&checkpoint_key(key)).await.map_err(sink_error)
    }
}

fn checkpoint_key(key: &str) -> String {
    format!("{INDEXER}/{key}")
}
