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
    /// The indexer of `store`'s log. Subscribers of `store` in this process
    /// wake when it positions events.
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
                in_time_order(events).map(|event| (event.aggregate_id, event.aggregate_version)).collect();
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

/// A delivery comes grouped by aggregate ([`crate::sink::prepare`]). Across
/// aggregates the log should still read in the order things happened, so
/// the runs are merged by `Created` (the earliest head first), while each
/// aggregate keeps its version order whatever the clocks say.
fn in_time_order(events: &[RecordedEvent]) -> impl Iterator<Item = &RecordedEvent> {
    let mut runs: Vec<std::collections::VecDeque<&RecordedEvent>> = Vec::new();
    let mut run_of: HashMap<AggregateId, usize> = HashMap::new();
    for event in events {
        let run = *run_of.entry(event.aggregate_id).or_insert_with(|| {
            runs.push(std::collections::VecDeque::new());
            runs.len() - 1
        });
        runs[run].push_back(event);
    }
    std::iter::from_fn(move || {
        let earliest =
            runs.iter_mut().filter(|run| !run.is_empty()).min_by_key(|run| run.front().map(|event| event.created))?;
        earliest.pop_front()
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use es_core::{EventId, Metadata};

    use super::*;

    fn event(aggregate_id: AggregateId, version: u64, second: i64) -> RecordedEvent {
        RecordedEvent {
            position: Position::START,
            aggregate_id,
            aggregate_version: Version(version),
            created: Utc.timestamp_opt(1_800_000_000 + second, 0).single().expect("a time"),
            event_type: "Counted".into(),
            data: "{}".into(),
            event_id: EventId::random(),
            schema_version: 1,
            metadata: Metadata::default(),
        }
    }

    #[test]
    fn runs_merge_by_time_and_each_aggregate_keeps_its_version_order() {
        let (a, b) = (AggregateId::random(), AggregateId::random());
        // As prepared: grouped by aggregate. a's second version carries an
        // earlier time than its first (a skewed clock): it still follows it.
        let grouped = [event(a, 1, 0), event(a, 2, 30), event(a, 3, 5), event(b, 1, 10), event(b, 2, 20)];
        let order: Vec<(AggregateId, u64)> =
            in_time_order(&grouped).map(|event| (event.aggregate_id, event.aggregate_version.0)).collect();
        assert_eq!(order, vec![(a, 1), (b, 1), (b, 2), (a, 2), (a, 3)]);
    }
}
