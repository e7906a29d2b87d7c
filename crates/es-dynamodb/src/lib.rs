//! # es-dynamodb: the event log on DynamoDB
//!
//! The serverless backend of the kernel's ports ([`EventStore`],
//! [`SnapshotStore`]), passing the same conformance suite as the embedded
//! SQLite backend.
//!
//! - **The seed's table**: one item per event, `AggregateId` (partition key),
//!   `AggregateVersion` (sort key), `Created`, `Data`, `EventType`, plus the
//!   log's `EventId`, `SchemaVersion`, `Metadata`, `Position` ([`items`]).
//!   Items are only ever put under `attribute_not_exists`: the log needs no
//!   `UpdateItem` or `DeleteItem` on the events table, and the deployment
//!   grants none.
//! - **Appends** write only the items they touch: one conditional `PutItem`
//!   for one event of one aggregate, else one `TransactWriteItems`
//!   ([`append`](crate::append)); conflicts are typed. No item is written
//!   by every append, so the log scales with its aggregates.
//! - **Global order after the commit** ([`LogOrder::AfterCommit`]): an
//!   indexer fed by the events table's stream gives committed events their
//!   positions, in batches, in the index table ([`index`]). `read_all`,
//!   `head`, `position_before` and subscriptions read it; the bus and
//!   read-your-writes do not need it.
//! - **Reads** of one aggregate: consistent queries ([`read`](crate::read)).
//!
//! The tables and their creation for development are in [`tables`].

mod append;
mod error;
pub mod index;
pub mod items;
pub mod limits;
mod read;
pub mod tables;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, CommandId, CommandRecord, EventStore, LogOrder, Position,
    RecordedEvent, Snapshot, SnapshotStore, StoreError, Version,
};
use tokio::sync::watch;

use crate::error::{store_error, written};
use crate::items::{Item, attr, n, s};
pub use crate::tables::{ProvisionError, Tables, create_tables};

/// The event log in three DynamoDB tables (see [`Tables`]).
pub struct DynamoDbEventStore {
    client: Client,
    tables: Tables,
    /// The highest version this process has seen of recently used
    /// aggregates: an append expecting a version at or below it needs no
    /// proof that the version exists (versions are never removed).
    known: Mutex<HashMap<AggregateId, Version>>,
    /// The first position of the index batch this process wrote last.
    last_written: Mutex<Option<u64>>,
    /// The newest position of the index this process has seen (written, or
    /// read as the head): subscribers in this process sleep on it.
    indexed: watch::Sender<Position>,
}

impl std::fmt::Debug for DynamoDbEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbEventStore").field("tables", &self.tables).finish_non_exhaustive()
    }
}

impl DynamoDbEventStore {
    /// A store on existing tables (see [`create_tables`]). Does no I/O, so
    /// that a Lambda function pays for nothing before its first request.
    pub fn new(client: Client, tables: Tables) -> Self {
        Self {
            client,
            tables,
            known: Mutex::new(HashMap::new()),
            last_written: Mutex::new(None),
            indexed: watch::Sender::new(Position::START),
        }
    }

    /// Notes that `aggregate_id` has at least `version`.
    pub(crate) fn remember(&self, aggregate_id: AggregateId, version: Version) {
        if version == Version::INITIAL {
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= limits::KNOWN_VERSIONS_MAX && !known.contains_key(&aggregate_id) {
            // Forgetting costs one read per append until they are seen again.
            known.clear();
        }
        let entry = known.entry(aggregate_id).or_default();
        *entry = (*entry).max(version);
    }

    /// Whether `aggregate_id` is known to have `version` (0 always exists).
    pub(crate) fn is_known(&self, aggregate_id: AggregateId, version: Version) -> bool {
        version == Version::INITIAL
            || self
                .known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&aggregate_id)
                .is_some_and(|known| *known >= version)
    }

    fn last_written(&self) -> Option<u64> {
        *self.last_written.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_last_written(&self, first: u64) {
        *self.last_written.lock().unwrap_or_else(PoisonError::into_inner) = Some(first);
    }

    /// Notes an index position this process has seen, waking whoever waits
    /// for the index when it is new.
    fn announce(&self, position: Position) {
        self.indexed.send_if_modified(|seen| {
            let newer = position > *seen;
            if newer {
                *seen = position;
            }
            newer
        });
    }

    /// A reader's stored place in a stream it reads (a shard's sequence
    /// number, opaque here), for readers whose positions are not the log's.
    pub async fn stream_checkpoint(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.get_log_item(items::stream_checkpoint_key(key)).await? {
            Some(item) => Ok(Some(items::text(&item, attr::POSITION)?.to_owned())),
            None => Ok(None),
        }
    }

    /// Stores a reader's place in a stream. A reader that stores an older
    /// place (two readers of one shard) reads some records again, which its
    /// writes must tolerate.
    pub async fn save_stream_checkpoint(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.log)
            .item(attr::KEY, s(items::stream_checkpoint_key(key)))
            .item(attr::POSITION, s(value))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// The tables this store uses.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The SDK client this store uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get_log_item(&self, key: String) -> Result<Option<Item>, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.tables.log)
            .key(attr::KEY, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(got.item().cloned())
    }

    /// Puts an item into the log table unless the stored one's `field` is
    /// already at or above `value` (snapshots only move forward; a late,
    /// older write is ignored).
    async fn put_forward(&self, item: Item, field: &str, value: u64) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.log)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#k) OR #f < :value")
            .expression_attribute_names("#k", attr::KEY)
            .expression_attribute_names("#f", field)
            .expression_attribute_values(":value", n(value))
            .return_values(ReturnValue::None)
            .send()
            .await;
        written(put).map(drop)
    }

    pub(crate) async fn stored_command_record(
        &self,
        command_id: CommandId,
    ) -> Result<Option<CommandRecord>, StoreError> {
        match self.get_log_item(items::command_key(command_id)).await? {
            Some(item) => Ok(Some(append::command_record(&item)?)),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl EventStore for DynamoDbEventStore {
    fn log_order(&self) -> LogOrder {
        LogOrder::AfterCommit
    }

    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        self.append_request(request).await
    }

    async fn load(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.load_events(aggregate_id, after, limit).await
    }

    async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_indexed(after, limit).await
    }

    async fn position_before(&self, time: chrono::DateTime<chrono::Utc>) -> Result<Position, StoreError> {
        self.position_before_time(time).await
    }

    async fn stored_command(&self, command_id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        self.stored_command_record(command_id).await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.indexed_head().await
    }

    fn commits(&self) -> watch::Receiver<Position> {
        self.indexed.subscribe()
    }
}

#[async_trait]
impl SnapshotStore for DynamoDbEventStore {
    async fn load_snapshot(&self, aggregate_id: AggregateId, kind: &str) -> Result<Option<Snapshot>, StoreError> {
        let Some(item) = self.get_log_item(items::snapshot_key(aggregate_id, kind)).await? else {
            return Ok(None);
        };
        let version = Version(items::number(&item, attr::VERSION)?);
        // A snapshot is taken of a loaded state: its version exists.
        self.remember(aggregate_id, version);
        Ok(Some(Snapshot {
            aggregate_id,
            kind: kind.to_owned(),
            version,
            shape_version: u32::try_from(items::number(&item, attr::SHAPE_VERSION)?)
                .map_err(|error| StoreError::Corrupt(format!("attribute ShapeVersion: {error}")))?,
            state: items::text(&item, attr::STATE)?.to_owned(),
        }))
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut item = Item::new();
        item.insert(attr::KEY.into(), s(items::snapshot_key(snapshot.aggregate_id, &snapshot.kind)));
        item.insert(attr::VERSION.into(), n(snapshot.version.0));
        item.insert(attr::SHAPE_VERSION.into(), n(u64::from(snapshot.shape_version)));
        item.insert(attr::STATE.into(), s(snapshot.state));
        let bytes = items::item_bytes(&item);
        if bytes > limits::ITEM_BYTES_MAX {
            // A snapshot is a cache: too large to keep means loads replay
            // the events instead, which is slower but just as right.
            tracing::warn!(aggregate = %snapshot.aggregate_id, bytes, "snapshot too large for one item; not kept");
            return Ok(());
        }
        self.put_forward(item, attr::VERSION, snapshot.version.0).await
    }
}
