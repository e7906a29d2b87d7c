//! Reading the index: finding its tail and the batch that holds a position,
//! the events of a page of positions (fetched from the events table by key),
//! the head, and the position before a time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use es_core::{AggregateId, Position, RecordedEvent, StoreError, Version, limits};
use futures_util::{StreamExt, TryStreamExt};

use super::CONCURRENT_CALLS;
use super::spans::Batch;
use crate::DynamoDbEventStore;
use crate::error::{build_error, store_error};
use crate::items::{self, Item, attr, n, s};
use crate::limits::{ATTEMPTS_MAX, BATCH_GET_KEYS_MAX, EPOCH_POSITIONS};

impl DynamoDbEventStore {
    /// The last batch of the index, if any.
    pub(super) async fn tail(&self) -> Result<Option<Batch>, StoreError> {
        let mut epoch = self.last_written().map_or(0, |first| first / EPOCH_POSITIONS);
        let mut tail = None;
        loop {
            let latest = self.query_epoch(epoch, None, false, Some(1)).await?.pop();
            match latest {
                Some(batch) => tail = Some(batch),
                // An epoch holds no batch only past the tail (a batch is far
                // shorter than an epoch), or before anything was indexed.
                None if tail.is_some() || epoch > 0 => return Ok(tail),
                None => return Ok(None),
            }
            epoch += 1;
        }
    }

    /// Batches of one epoch, consistently read: ascending from just after
    /// `after_first`, or (descending) the latest `limit`.
    async fn query_epoch(
        &self,
        epoch: u64,
        after_first: Option<u64>,
        ascending: bool,
        limit: Option<i32>,
    ) -> Result<Vec<Batch>, StoreError> {
        let mut batches = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.tables.index)
                .consistent_read(true)
                .expression_attribute_names("#e", attr::EPOCH)
                .expression_attribute_values(":e", n(epoch))
                .scan_index_forward(ascending)
                .set_limit(limit)
                .set_exclusive_start_key(start.take());
            query = match after_first {
                Some(first) => query
                    .key_condition_expression("#e = :e AND #f > :f")
                    .expression_attribute_names("#f", attr::FIRST)
                    .expression_attribute_values(":f", n(first)),
                None => query.key_condition_expression("#e = :e"),
            };
            let queried = query.send().await.map_err(store_error)?;
            for item in queried.items() {
                batches.push(Batch::decode(item)?);
            }
            match queried.last_evaluated_key() {
                Some(key) if !key.is_empty() && limit.is_none() => start = Some(key.clone()),
                _ => return Ok(batches),
            }
        }
    }

    /// The batch holding `position`, if it is indexed.
    async fn batch_at(&self, position: u64) -> Result<Option<Batch>, StoreError> {
        let epoch = position / EPOCH_POSITIONS;
        // The latest batch starting at or before the position: in its epoch,
        // or (a batch may run over an epoch's end) the one before.
        for epoch in [Some(epoch), epoch.checked_sub(1)].into_iter().flatten() {
            let queried = self
                .client
                .query()
                .table_name(&self.tables.index)
                .consistent_read(true)
                .key_condition_expression("#e = :e AND #f <= :p")
                .expression_attribute_names("#e", attr::EPOCH)
                .expression_attribute_names("#f", attr::FIRST)
                .expression_attribute_values(":e", n(epoch))
                .expression_attribute_values(":p", n(position))
                .scan_index_forward(false)
                .limit(1)
                .send()
                .await
                .map_err(store_error)?;
            if let Some(item) = queried.items().first() {
                let batch = Batch::decode(item)?;
                return Ok((batch.last >= position).then_some(batch));
            }
        }
        Ok(None)
    }

    /// Batches after the one starting at `first`, until they hold `wanted`
    /// positions or the index ends.
    async fn batches_after(&self, first: u64, wanted: u64) -> Result<Vec<Batch>, StoreError> {
        let mut batches: Vec<Batch> = Vec::new();
        let mut epoch = first / EPOCH_POSITIONS;
        let mut after = Some(first);
        let mut empty_epochs = 0;
        while batches.iter().map(|batch| batch.last + 1 - batch.first).sum::<u64>() < wanted {
            let found = self.query_epoch(epoch, after, true, None).await?;
            // The epoch after the tail's may be empty while the tail runs into it.
            empty_epochs = if found.is_empty() { empty_epochs + 1 } else { 0 };
            if empty_epochs == 2 || (found.is_empty() && !batches.is_empty()) {
                break;
            }
            batches.extend(found);
            epoch += 1;
            after = None;
        }
        Ok(batches)
    }

    /// Events the index has positioned after `after`, in order: exactly
    /// `limit` (≤ `READ_PAGE_MAX`) while that many are positioned.
    pub async fn read_indexed(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        let wanted = u64::from(limit.min(limits::READ_PAGE_MAX));
        let Some(start) = self.batch_at(after.0 + 1).await? else { return Ok(Vec::new()) };
        let mut wanted_refs: Vec<(Position, AggregateId, Version)> =
            start.positioned().into_iter().filter(|(position, ..)| *position > after).take(wanted as usize).collect();
        if (wanted_refs.len() as u64) < wanted {
            for batch in self.batches_after(start.first, wanted - wanted_refs.len() as u64).await? {
                wanted_refs.extend(batch.positioned());
            }
            wanted_refs.truncate(wanted as usize);
        }
        let keys: Vec<Item> = wanted_refs
            .iter()
            .map(|(_, aggregate_id, version)| {
                HashMap::from([
                    (attr::AGGREGATE_ID.to_owned(), s(aggregate_id.to_string())),
                    (attr::AGGREGATE_VERSION.to_owned(), n(version.0)),
                ])
            })
            .collect();
        let mut found: HashMap<(AggregateId, Version), RecordedEvent> = HashMap::with_capacity(keys.len());
        for item in self.batch_get(&self.tables.events, keys).await? {
            let event = items::recorded_event(&item)?;
            found.insert((event.aggregate_id, event.aggregate_version), event);
        }
        wanted_refs
            .into_iter()
            .map(|(position, aggregate_id, version)| {
                let mut event = found.remove(&(aggregate_id, version)).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the index names {aggregate_id} version {version}, which is not stored"
                    ))
                })?;
                event.position = position;
                Ok(event)
            })
            .collect()
    }

    /// The index's last position.
    pub async fn indexed_head(&self) -> Result<Position, StoreError> {
        let head = Position(self.tail().await?.map_or(0, |tail| tail.last));
        self.announce(head);
        Ok(head)
    }

    /// Binary search over the positions for the first event created at or
    /// after `time`, assuming `Created` grows with the position (as it does
    /// up to clock skew between writers).
    pub(crate) async fn position_before_time(
        &self,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Result<Position, StoreError> {
        let head = self.indexed_head().await?;
        // Invariant: every position ≤ low was created before `time`, and
        // `high` (if ≤ head) was created at or after it.
        let (mut low, mut high) = (0u64, head.0 + 1);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            let event =
                self.read_indexed(Position(middle - 1), 1).await?.pop().ok_or_else(|| {
                    StoreError::Corrupt(format!("position {middle} is below the head but not indexed"))
                })?;
            if event.created < time {
                low = middle;
            } else {
                high = middle;
            }
        }
        Ok(Position(low))
    }

    /// Items by key with `BatchGetItem`, consistently, retrying what
    /// DynamoDB leaves unprocessed; in no particular order.
    pub(super) async fn batch_get(&self, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let chunks: Vec<Vec<Item>> = keys.chunks(BATCH_GET_KEYS_MAX).map(<[Item]>::to_vec).collect();
        let pages: Vec<Vec<Item>> = futures_util::stream::iter(chunks)
            .map(|chunk| self.batch_get_chunk(table, chunk))
            .buffer_unordered(CONCURRENT_CALLS)
            .try_collect()
            .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    async fn batch_get_chunk(&self, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        let mut keys = Some(keys);
        let mut attempt = 0;
        while let Some(wanted) = keys.take().filter(|keys| !keys.is_empty()) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(wanted))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let got = self.client.batch_get_item().request_items(table, request).send().await.map_err(store_error)?;
            if let Some(items) = got.responses().and_then(|responses| responses.get(table)) {
                found.extend(items.iter().cloned());
            }
            keys =
                got.unprocessed_keys().and_then(|unprocessed| unprocessed.get(table)).map(|rest| rest.keys().to_vec());
            if keys.as_ref().is_some_and(|keys| !keys.is_empty()) {
                attempt += 1;
                if attempt >= ATTEMPTS_MAX {
                    return Err(StoreError::Unavailable("DynamoDB kept keys of a batch read unprocessed".into()));
                }
                tokio::time::sleep(crate::append::backoff(attempt)).await;
            }
        }
        Ok(found)
    }
}
