//! What the consumer suite needs beside the bus under test: the DynamoDB
//! log on the emulator, a strict in-memory read model, and the cases.
//!
//! The read model is deliberately strict: it refuses any event that is not
//! the next version of its aggregate, so a consumer that hands it a gap or a
//! reordering fails the suite instead of passing silently.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use es_aws_bus::sink::{BusSink, Checkpoint};
use es_core::{
    AggregateId, AppendRequest, EventId, EventStore, ExpectedVersion, Metadata, NewEvent, ProjectionError,
    RecordedEvent, Version, async_trait,
};
use es_dynamodb::{DynamoDbEventStore, Tables, create_tables};

/// Refuses to talk to anything but the local emulators.
pub fn assert_local(variable: &str) {
    let endpoint = std::env::var(variable).unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "{variable} must point at a local emulator (got {endpoint:?}); run the tests through scripts/test.sh, \
         or `. scripts/services.sh` first"
    );
}

pub async fn sdk_config() -> aws_config::SdkConfig {
    for variable in [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
        "AWS_ENDPOINT_URL_KINESIS",
        "AWS_ENDPOINT_URL_SQS",
    ] {
        assert_local(variable);
    }
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh log on the DynamoDB emulator.
pub async fn fresh_log(config: &aws_config::SdkConfig) -> Arc<DynamoDbEventStore> {
    let client = aws_sdk_dynamodb::Client::new(config);
    let tables = Tables::named(unique_name("bus-events"));
    create_tables(&client, &tables).await.expect("create the tables");
    Arc::new(DynamoDbEventStore::new(client, tables))
}

/// Appends `per_aggregate` events to each of `aggregates` new aggregates,
/// interleaved, and returns everything as the log stores it, in that order.
pub async fn write_events(log: &dyn EventStore, aggregates: usize, per_aggregate: u64) -> Vec<RecordedEvent> {
    let ids: Vec<AggregateId> = (0..aggregates).map(|_| AggregateId::random()).collect();
    for version in 0..per_aggregate {
        for id in &ids {
            let event = NewEvent {
                event_id: EventId::random(),
                event_type: "Counted".into(),
                schema_version: 1,
                data: format!("{{\"n\":{}}}", version + 1),
                created: es_core::truncate_to_millis(chrono::Utc::now()),
                metadata: Metadata::default(),
            };
            let request = AppendRequest::single(*id, ExpectedVersion::Exact(Version(version)), vec![event]);
            log.append(request).await.expect("append");
        }
    }
    // As written: version by version across the aggregates (the log's own
    // order is given after the commit, by its indexer).
    let mut streams = Vec::with_capacity(ids.len());
    for id in &ids {
        streams.push(log.load(*id, Version::INITIAL, 1_000).await.expect("load"));
    }
    (0..per_aggregate as usize).flat_map(|version| streams.iter().map(move |stream| stream[version].clone())).collect()
}

#[derive(Default)]
struct SinkState {
    applied: HashMap<AggregateId, Version>,
    /// Every event applied, in application order.
    history: Vec<RecordedEvent>,
    checkpoints: HashMap<String, String>,
    /// Applies left before the sink starts failing (None = never fails).
    fail_after: Option<usize>,
    apply_calls: usize,
}

/// A strict in-memory read model.
#[derive(Clone, Default)]
pub struct StrictSink {
    state: Arc<Mutex<SinkState>>,
}

impl StrictSink {
    /// A sink whose `apply` fails after `applies` successful calls, until
    /// [`StrictSink::heal`].
    pub fn failing_after(applies: usize) -> Self {
        let sink = Self::default();
        sink.lock().fail_after = Some(applies);
        sink
    }

    /// Loses every checkpoint, as a consumer whose read model was restored
    /// from an old backup would: everything is delivered again.
    pub fn forget_checkpoints(&self) {
        self.lock().checkpoints.clear();
    }

    pub fn heal(&self) {
        self.lock().fail_after = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().expect("no test panics while holding the sink's lock")
    }

    pub fn history(&self) -> Vec<RecordedEvent> {
        self.lock().history.clone()
    }

    pub fn checkpoints(&self) -> HashMap<String, String> {
        self.lock().checkpoints.clone()
    }

    /// Asserts that the sink applied exactly `expected`, each event once and
    /// each aggregate's events in version order.
    pub fn assert_applied_exactly(&self, expected: &[RecordedEvent]) {
        let history = self.history();
        let mut per_aggregate: HashMap<AggregateId, Vec<u64>> = HashMap::new();
        for event in &history {
            per_aggregate.entry(event.aggregate_id).or_default().push(event.aggregate_version.0);
        }
        let mut wanted: HashMap<AggregateId, Vec<u64>> = HashMap::new();
        for event in expected {
            wanted.entry(event.aggregate_id).or_default().push(event.aggregate_version.0);
        }
        assert_eq!(per_aggregate, wanted, "each aggregate's versions applied once, in order");
        let mut applied_ids: Vec<EventId> = history.iter().map(|event| event.event_id).collect();
        let mut expected_ids: Vec<EventId> = expected.iter().map(|event| event.event_id).collect();
        applied_ids.sort();
        expected_ids.sort();
        assert_eq!(applied_ids, expected_ids, "the very events of the log, each once");
        let by_id: HashMap<EventId, &RecordedEvent> = expected.iter().map(|event| (event.event_id, event)).collect();
        for event in &history {
            assert_eq!(Some(&event), by_id.get(&event.event_id), "applied as the log recorded it");
        }
    }
}

#[async_trait]
impl BusSink for StrictSink {
    fn name(&self) -> &str {
        "strict"
    }

    async fn applied_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, ProjectionError> {
        let state = self.lock();
        Ok(aggregates.iter().filter_map(|id| state.applied.get(id).map(|version| (*id, *version))).collect())
    }

    async fn apply(&self, events: &[RecordedEvent], checkpoint: Option<&Checkpoint>) -> Result<(), ProjectionError> {
        let mut state = self.lock();
        state.apply_calls += 1;
        if let Some(left) = state.fail_after {
            if left == 0 {
                return Err(ProjectionError::Apply {
                    name: "strict".into(),
                    position: es_core::Position::START,
                    reason: "injected failure".into(),
                });
            }
            state.fail_after = Some(left - 1);
        }
        // All or nothing: check the whole batch before changing anything.
        let mut applied = state.applied.clone();
        for event in events {
            let current = applied.entry(event.aggregate_id).or_default();
            if event.aggregate_version <= *current {
                continue; // a concurrent consumer got there first
            }
            if event.aggregate_version != current.next() {
                return Err(ProjectionError::Apply {
                    name: "strict".into(),
                    position: event.position,
                    reason: format!(
                        "{} version {} arrived after version {}",
                        event.aggregate_id, event.aggregate_version, current
                    ),
                });
            }
            *current = event.aggregate_version;
        }
        for event in events {
            if state.applied.get(&event.aggregate_id).copied().unwrap_or_default() < event.aggregate_version {
                state.applied.insert(event.aggregate_id, event.aggregate_version);
                state.history.push(event.clone());
            }
        }
        if let Some(checkpoint) = checkpoint {
            state.checkpoints.insert(checkpoint.key.clone(), checkpoint.value.clone());
        }
        Ok(())
    }

    async fn checkpoint(&self, key: &str) -> Result<Option<String>, ProjectionError> {
        Ok(self.lock().checkpoints.get(key).cloned())
    }
}
