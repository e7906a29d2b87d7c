//! `status` on the AWS backends. The log's head is the last position of the
//! DynamoDB log's index: events committed but not yet positioned by the
//! indexer are not counted.
//!
//! The read models (in PostgreSQL, carts in DynamoDB) follow the bus per
//! aggregate and keep each aggregate's last applied version, not a position
//! in the log: a read model may have applied an event at position 90 and
//! not yet one at 80, so no position says how far it has got. What it has
//! is measured instead: of the last [`RECENT_EVENTS_MAX`] events of the log,
//! those of the aggregates it reads that are above its applied version are
//! its lag, and the oldest of them gives the lag in seconds. Older events
//! are not looked at: a read model further behind shows at least that many.
//!
//! Nothing is written: the PostgreSQL schema is not migrated, no checkpoint
//! is moved.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use es_aws_bus::sink::BusSink;
use es_core::{AggregateId, Position, RecordedEvent, Version};
use es_dynamodb::{DynamoDbEventStore, Tables};
use ticketing_dynamodb::DynamoDbCarts;
use ticketing_postgres::{PostgresSink, ReadModel};

use super::{ReadModelStatus, Source, Status, lag_seconds};
use crate::aws::BackendArgs;

/// Events at the end of the log that each read model is compared with.
pub(crate) const RECENT_EVENTS_MAX: u32 = 1_000;

/// The status of the log and read models named in `args` and `database_url`, at `now`.
pub(crate) async fn status(args: &BackendArgs, database_url: &str, now: DateTime<Utc>) -> anyhow::Result<Status> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let store = DynamoDbEventStore::new(dynamodb.clone(), Tables::named(&args.events_table));
    let pool = ticketing_postgres::connect(database_url).await.context("connecting to PostgreSQL")?;
    let mut sinks: Vec<Arc<dyn BusSink>> = vec![Arc::new(DynamoDbCarts::new(dynamodb, &args.carts_table))];
    sinks.extend(ReadModel::ALL.into_iter().map(|model| Arc::new(PostgresSink::new(pool.clone(), model)) as _));

    let head = store.indexed_head().await.context("reading the head of the log's index")?;
    let recent = recent_events(&store, head).await?;
    let mut read_models = Vec::with_capacity(sinks.len());
    for sink in &sinks {
        let read: Vec<AggregateId> = recent.iter().filter(|event| sink.reads(event)).map(|e| e.aggregate_id).collect();
        let applied = sink
            .applied_versions(&distinct(read))
            .await
            .with_context(|| format!("reading what {} has applied", sink.name()))?;
        let behind = unapplied(&recent, |event| sink.reads(event), &applied);
        read_models.push(followed(sink.name(), &recent, &behind, now));
    }
    Ok(Status { source: Source::Aws, head: head.0, read_models })
}

/// The last [`RECENT_EVENTS_MAX`] events up to `head`, in order.
async fn recent_events(store: &DynamoDbEventStore, head: Position) -> anyhow::Result<Vec<RecordedEvent>> {
    let mut after = Position(head.0.saturating_sub(u64::from(RECENT_EVENTS_MAX)));
    let mut events = Vec::new();
    while after < head {
        let page = store.read_indexed(after, RECENT_EVENTS_MAX).await.context("reading the end of the log")?;
        let Some(last) = page.last() else { break };
        after = last.position;
        events.extend(page.into_iter().filter(|event| event.position <= head));
    }
    Ok(events)
}

fn distinct(mut aggregates: Vec<AggregateId>) -> Vec<AggregateId> {
    aggregates.sort_unstable();
    aggregates.dedup();
    aggregates
}

/// Of `recent`, the events a read model `reads` whose version is above what it has `applied` of their aggregate.
pub(crate) fn unapplied<'a>(
    recent: &'a [RecordedEvent],
    reads: impl Fn(&RecordedEvent) -> bool,
    applied: &HashMap<AggregateId, Version>,
) -> Vec<&'a RecordedEvent> {
    recent
        .iter()
        .filter(|event| reads(event))
        .filter(|event| applied.get(&event.aggregate_id).is_none_or(|version| *version < event.aggregate_version))
        .collect()
}

/// The status of a read model `behind` by those of the `recent` events of the log.
pub(crate) fn followed(
    name: &str,
    recent: &[RecordedEvent],
    behind: &[&RecordedEvent],
    now: DateTime<Utc>,
) -> ReadModelStatus {
    let oldest = behind.iter().map(|event| event.created).min();
    let whole_log = recent.first().is_none_or(|first| first.position.0 <= 1);
    let measured = if whole_log {
        "the whole log".to_owned()
    } else {
        format!("the last {} events of the log (it may be further behind)", recent.len())
    };
    ReadModelStatus {
        name: name.to_owned(),
        position: None,
        lag_events: behind.len() as u64,
        lag_seconds: lag_seconds(now, oldest),
        last_error: None,
        note: Some(format!("follows the bus per aggregate, no position; lag measured over {measured}")),
    }
}
