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
//!   the events the batches name (`index/reading.rs`).
//!
//! Between the commit and the indexer's batch an acknowledged event is in
//! its aggregate (`load`) but not yet in `read_all`: the lag is measured in
//! `docs/benchmarks.md`. Read-your-writes compares aggregate versions and
//! never waits for the index.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use es_core::{AggregateId, Position, StoreError, Version};
use futures_util::{StreamExt, TryStreamExt};

use crate::DynamoDbEventStore;
use crate::error::{store_error, written};
use crate::items::{self, Item, attr, n, s};
use crate::limits::{ATTEMPTS_MAX, EPOCH_POSITIONS, INDEX_BATCH_EVENTS_MAX};

mod reading;
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
}
