//! The log's order, assigned after the commit.
//!
//! An append that touches only its aggregates' items cannot know the order
//! of the whole log at commit time. An indexer reads the events table's
//! stream and writes that order into the index table, many events at a
//! time: one **batch** item per write, holding the positions `First..=Last`
//! as runs of consecutive versions of one aggregate (`Spans`). The indexer
//! is the only writer of positions; appends never wait for it. Batches are
//! keyed `(Epoch = First / EPOCH_POSITIONS, First)`, so a partition of the
//! index fills up and is left behind.
//!
//! - **Dense, in order**: a batch is put only under `attribute_not_exists`
//!   at `First = Last of the tail + 1`, so two indexers (two processes, a
//!   retried Lambda) never claim the same positions; the loser reloads the
//!   tail and goes on after it.
//! - **Each event once**: every aggregate has a cursor item in the log table
//!   (`indexed#<id>`, the highest version with a position), moved forward
//!   after its batch is written. A batch is written `Pending` and the flag
//!   cleared once its cursors have moved; whoever finds the tail pending
//!   (its writer died in between) moves them itself before writing the next
//!   batch. Events at or below an aggregate's cursor are dropped, so
//!   redelivered stream records, restarts and a second indexer change
//!   nothing.
//! - **Reads** are consistent queries of the index and `BatchGetItem`s of
//!   the events the batches name.
//!
//! Between the commit and the indexer's batch an acknowledged event is in
//! its aggregate (`load`) but not yet in `read_all`: the lag is measured in
//! `docs/benchmarks.md`. Read-your-writes compares aggregate versions and
//! never waits for the index.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use es_core::{AggregateId, Position, RecordedEvent, StoreError, Version, limits};
use futures_util::{StreamExt, TryStreamExt};

use crate::DynamoDbEventStore;
use crate::error::{build_error, store_error, written};
use crate::items::{self, Item, attr, n, s};
use crate::limits::{ATTEMPTS_MAX, BATCH_GET_KEYS_MAX, EPOCH_POSITIONS, INDEX_BATCH_EVENTS_MAX};

mod spans;

use self::spans::{Batch, encode_spans, split_spans};
pub use self::spans::{Span, spans_of};

/// Index writes and reads in flight at once for one call.
const CONCURRENT_CALLS: usize = 8;

impl DynamoDbEventStore {
    /// Gives the next positions to `events` (per aggregate, consecutive
    /// versions right after what is indexed; in the order the stream showed
    /// them), skipping any another indexer has positioned meanwhile. Returns
    /// the index's last position. Only an indexer calls this.
    pub async fn index(&self, events: &[(AggregateId, Version)]) -> Result<Position, StoreError> {
        let mut remaining = spans_of(events.iter().copied());
        let mut attempts = 0;
        loop {
            let tail = self.settled_tail().await?;
            let tail_last = tail.as_ref().map_or(0, |tail| tail.last);
            let own_tail = tail.as_ref().is_some_and(|tail| self.last_written() == Some(tail.first));
            if !own_tail {
                // Another indexer wrote since: keep only what it did not position.
                remaining = self.unindexed(remaining).await?;
            }
            if remaining.is_empty() {
                self.announce(Position(tail_last));
                return Ok(Position(tail_last));
            }
            let (chunk, rest) = split_spans(remaining, INDEX_BATCH_EVENTS_MAX as u64);
            let count: u64 = chunk.iter().map(Span::len).sum();
            let batch = Batch { first: tail_last + 1, last: tail_last + count, spans: chunk, pending: true };
            if self.put_batch(&batch).await? {
                self.finish(&batch).await?;
                self.set_last_written(batch.first);
                self.announce(Position(batch.last));
                remaining = rest;
                attempts = 0;
                if remaining.is_empty() {
                    return Ok(Position(batch.last));
                }
            } else {
                let mut unwritten = batch.spans;
                unwritten.extend(rest);
                remaining = unwritten;
                attempts += 1;
                if attempts >= ATTEMPTS_MAX {
                    return Err(StoreError::Unavailable(format!(
                        "the index's tail stayed contended for {ATTEMPTS_MAX} attempts"
                    )));
                }
            }
        }
    }

    /// The highest positioned version of each of `aggregates` (missing: none).
    pub async fn indexed_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, StoreError> {
        // BatchGetItem refuses a key named twice.
        let unique: std::collections::HashSet<AggregateId> = aggregates.iter().copied().collect();
        let keys: Vec<Item> = unique
            .into_iter()
            .map(|aggregate_id| HashMap::from([(attr::KEY.to_owned(), s(items::cursor_key(aggregate_id)))]))
            .collect();
        let found = self.batch_get(&self.tables.log, keys).await?;
        let mut versions = HashMap::with_capacity(found.len());
        for item in found {
            let key = items::text(&item, attr::KEY)?;
            let aggregate_id = key
                .strip_prefix("indexed#")
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("{key:?} is not a cursor key")))?;
            versions.insert(aggregate_id, Version(items::number(&item, attr::VERSION)?));
        }
        Ok(versions)
    }

    /// `spans` without what the cursors say is positioned already.
    async fn unindexed(&self, spans: Vec<Span>) -> Result<Vec<Span>, StoreError> {
        let aggregates: Vec<AggregateId> = spans.iter().map(|span| span.aggregate_id).collect();
        let mut cursors = self.indexed_versions(&aggregates).await?;
        let mut kept = Vec::with_capacity(spans.len());
        for mut span in spans {
            let cursor = cursors.get(&span.aggregate_id).copied().unwrap_or_default();
            if cursor >= span.to {
                continue;
            }
            if cursor.next() < span.from {
                return Err(StoreError::Unavailable(format!(
                    "{} is indexed up to {cursor}, the delivery starts at {}: deliver again from the cursor",
                    span.aggregate_id, span.from
                )));
            }
            span.from = span.from.max(cursor.next());
            cursors.insert(span.aggregate_id, span.to);
            kept.push(span);
        }
        Ok(kept)
    }

    /// Puts a new batch unless its first position is taken; `false` if it is.
    async fn put_batch(&self, batch: &Batch) -> Result<bool, StoreError> {
        let mut item = Item::new();
        item.insert(attr::EPOCH.into(), n(batch.first / EPOCH_POSITIONS));
        item.insert(attr::FIRST.into(), n(batch.first));
        item.insert(attr::LAST.into(), n(batch.last));
        item.insert(attr::SPANS.into(), s(encode_spans(&batch.spans)));
        item.insert(attr::PENDING.into(), AttributeValue::Bool(true));
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.index)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#f)")
            .expression_attribute_names("#f", attr::FIRST)
            .send()
            .await;
        written(put)
    }

    /// Moves the cursors of a written batch's aggregates, then clears its
    /// `Pending` flag. Safe to repeat, by anyone.
    async fn finish(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut highest: HashMap<AggregateId, Version> = HashMap::new();
        for span in &batch.spans {
            let version = highest.entry(span.aggregate_id).or_default();
            *version = (*version).max(span.to);
        }
        futures_util::stream::iter(highest)
            .map(|(aggregate_id, version)| self.move_cursor(aggregate_id, version))
            .buffer_unordered(CONCURRENT_CALLS)
            .try_collect::<()>()
            .await?;
        self.client
            .update_item()
            .table_name(&self.tables.index)
            .key(attr::EPOCH, n(batch.first / EPOCH_POSITIONS))
            .key(attr::FIRST, n(batch.first))
            .update_expression("REMOVE #p")
            .expression_attribute_names("#p", attr::PENDING)
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn move_cursor(&self, aggregate_id: AggregateId, version: Version) -> Result<(), StoreError> {
        let moved = self
            .client
            .update_item()
            .table_name(&self.tables.log)
            .key(attr::KEY, s(items::cursor_key(aggregate_id)))
            .update_expression("SET #v = :v")
            .condition_expression("attribute_not_exists(#v) OR #v < :v")
            .expression_attribute_names("#v", attr::VERSION)
            .expression_attribute_values(":v", n(version.0))
            .send()
            .await;
        // A cursor already at or past the version stays where it is.
        written(moved).map(drop)
    }

    /// The last batch, finished if its writer did not get to it.
    async fn settled_tail(&self) -> Result<Option<Batch>, StoreError> {
        let tail = self.tail().await?;
        if let Some(batch) = &tail
            && batch.pending
        {
            self.finish(batch).await?;
        }
        Ok(tail)
    }

    /// The last batch of the index, if any.
    async fn tail(&self) -> Result<Option<Batch>, StoreError> {
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
    async fn batch_get(&self, table: &str, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
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
