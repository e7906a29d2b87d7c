//! Where delivered events go, and the step that makes any delivery safe to
//! apply.
//!
//! A bus delivers at least once and keeps order per partition key only as
//! long as nothing is retried: a forwarder that re-puts a failed record puts
//! it after its successors, a redelivered batch repeats events, a consumer
//! may start in the middle of a stream. Instead of trusting the bus, every
//! consumer runs [`prepare`] on what it received: per aggregate it keeps only
//! versions above what the read model has applied, and if any version in
//! between is missing it reads that stretch from the log itself, the source
//! of truth. The read model then sees, for each aggregate, consecutive
//! versions right after its own: duplicates, reordering and gaps on the bus
//! change nothing.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use es_core::{AggregateId, EventStore, ProjectionError, RecordedEvent, Version};

/// A position on the bus to store with the read model's writes (a shard's
/// last sequence number), so that applying and moving on are one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// What the position belongs to (`kinesis/<stream>/<shard>`).
    pub key: String,
    /// The bus's own position value (a sequence number), opaque here.
    pub value: String,
}

/// A read model fed from the bus.
#[async_trait]
pub trait BusSink: Send + Sync + 'static {
    /// A stable name, unique among sinks (it scopes their checkpoints).
    fn name(&self) -> &str;

    /// Whether this read model reads `event` at all. Events it does not
    /// read are dropped before anything else, so that their aggregates are
    /// neither looked up nor filled in from the log. All events of one
    /// aggregate must get the same answer (decide by the aggregate's kind,
    /// e.g. the event type's family).
    fn reads(&self, event: &RecordedEvent) -> bool {
        let _ = event;
        true
    }

    /// The last applied version of each of `aggregates` (missing = none).
    async fn applied_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, ProjectionError>;

    /// Applies `events`, which hold for every aggregate consecutive
    /// versions starting right after its applied one, and stores
    /// `checkpoint` (if any) in the same transaction. An event at or below
    /// the applied version (a concurrent consumer got there first) must be
    /// ignored, not applied twice.
    async fn apply(&self, events: &[RecordedEvent], checkpoint: Option<&Checkpoint>) -> Result<(), ProjectionError>;

    /// The stored value of a checkpoint.
    async fn checkpoint(&self, key: &str) -> Result<Option<String>, ProjectionError>;
}

/// What the sink must apply for a delivery: per aggregate (in the order the
/// delivery first names them), the versions after the applied one up to the
/// highest delivered, without a hole; holes are filled from `log`.
pub async fn prepare(
    sink: &dyn BusSink,
    log: &dyn EventStore,
    delivered: Vec<RecordedEvent>,
) -> Result<Vec<RecordedEvent>, ProjectionError> {
    let mut order: Vec<AggregateId> = Vec::new();
    let mut by_aggregate: HashMap<AggregateId, BTreeMap<Version, RecordedEvent>> = HashMap::new();
    for event in delivered.into_iter().filter(|event| sink.reads(event)) {
        let versions = by_aggregate.entry(event.aggregate_id).or_insert_with(|| {
            order.push(event.aggregate_id);
            BTreeMap::new()
        });
        versions.entry(event.aggregate_version).or_insert(event);
    }
    let applied = sink.applied_versions(&order).await?;
    let mut ready = Vec::new();
    for aggregate_id in order {
        let Some(mut versions) = by_aggregate.remove(&aggregate_id) else { continue };
        let after = applied.get(&aggregate_id).copied().unwrap_or_default();
        let newest = versions.last_key_value().map_or(after, |(version, _)| *version);
        if newest <= after {
            continue;
        }
        let wanted = newest.0 - after.0;
        let mut run: Vec<RecordedEvent> = versions.split_off(&after.next()).into_values().collect();
        if run.len() as u64 != wanted {
            run = fill_from_log(log, aggregate_id, after, newest).await?;
        }
        ready.extend(run);
    }
    Ok(ready)
}

/// Versions `after+1 ..= newest` of one aggregate, read from the log.
async fn fill_from_log(
    log: &dyn EventStore,
    aggregate_id: AggregateId,
    after: Version,
    newest: Version,
) -> Result<Vec<RecordedEvent>, ProjectionError> {
    tracing::debug!(%aggregate_id, %after, %newest, "filling a gap in the delivery from the log");
    let mut events = Vec::new();
    let mut from = after;
    while from < newest {
        let wanted = u32::try_from(newest.0 - from.0).unwrap_or(u32::MAX).min(es_core::limits::READ_PAGE_MAX);
        let page = log.load(aggregate_id, from, wanted).await?;
        let Some(last) = page.last() else { break };
        from = last.aggregate_version;
        events.extend(page.into_iter().filter(|event| event.aggregate_version <= newest));
    }
    if events.len() as u64 != newest.0 - after.0 {
        return Err(ProjectionError::Apply {
            name: "bus".into(),
            position: es_core::Position::START,
            reason: format!(
                "the log holds {} events of {aggregate_id} after {after}, the bus showed {newest}",
                events.len()
            ),
        });
    }
    Ok(events)
}

/// Prepares a delivery and applies it with its checkpoint: the one call
/// every consumer (Lambda handler or poller) makes per batch.
pub async fn apply_delivery(
    sink: &dyn BusSink,
    log: &dyn EventStore,
    delivered: Vec<RecordedEvent>,
    checkpoint: Option<&Checkpoint>,
) -> Result<usize, ProjectionError> {
    let ready = prepare(sink, log, delivered).await?;
    if ready.is_empty() && checkpoint.is_none() {
        return Ok(0);
    }
    sink.apply(&ready, checkpoint).await?;
    Ok(ready.len())
}

/// Several read models fed by one reader of the bus. A shard serves few
/// readers (Kinesis: five `GetRecords` calls a second shared by all of
/// them; DynamoDB Streams: two readers), so a host with seven read models
/// reads each shard once and hands every batch to all of them.
///
/// Each read model keeps its own applied versions and its own copy of the
/// checkpoint, written with its own writes; they can disagree after a crash
/// between two of them. Reading then resumes at the earliest, and the read
/// models that were further along skip what they have applied by version.
#[derive(Clone)]
pub struct Fanout {
    sinks: Vec<Arc<dyn BusSink>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.sinks.iter().map(|sink| sink.name())).finish()
    }
}

impl Fanout {
    /// One reader for `sinks`.
    pub fn new(sinks: Vec<Arc<dyn BusSink>>) -> Self {
        Self { sinks }
    }

    /// Where reading resumes: the earliest of the read models' stored
    /// positions under `key`, or `None` (from the start) when any of them
    /// has none.
    pub async fn checkpoint(&self, key: &str) -> Result<Option<String>, ProjectionError> {
        let mut earliest: Option<String> = None;
        for sink in &self.sinks {
            let Some(stored) = sink.checkpoint(key).await? else { return Ok(None) };
            if earliest.as_deref().is_none_or(|earliest| sequence_order(&stored, earliest) == Ordering::Less) {
                earliest = Some(stored);
            }
        }
        Ok(earliest)
    }

    /// [`apply_delivery`] to every read model, all at once. Each one that
    /// succeeds has applied and checkpointed the delivery; the first
    /// failure is returned once all have finished.
    pub async fn apply_delivery(
        &self,
        log: &dyn EventStore,
        delivered: Vec<RecordedEvent>,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), ProjectionError> {
        let answers = futures_util::future::join_all(
            self.sinks.iter().map(|sink| apply_delivery(sink.as_ref(), log, delivered.clone(), checkpoint)),
        )
        .await;
        answers.into_iter().find_map(Result::err).map_or(Ok(()), Err)
    }
}

/// Orders two sequence numbers of a shard. Kinesis and DynamoDB Streams
/// both number records with decimal numerals (up to 128 digits, too long
/// for any integer type), so they compare as numbers: by length without
/// leading zeros, then digit by digit.
pub fn sequence_order(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_the_numbers_they_spell() {
        assert_eq!(sequence_order("9", "10"), Ordering::Less);
        assert_eq!(sequence_order("000012", "11"), Ordering::Greater);
        assert_eq!(sequence_order("0", ""), Ordering::Equal);
        let kinesis = "49590338271490256608559692538361571095921575989136588898";
        let next = "49590338271490256608559692540925702759324208523137515618";
        assert_eq!(sequence_order(kinesis, next), Ordering::Less);
        assert_eq!(sequence_order(next, kinesis), Ordering::Greater);
        assert_eq!(sequence_order(kinesis, kinesis), Ordering::Equal);
    }
}
