//! The read paths. An aggregate's events come from a consistent `Query` on
//! the events table, paginated until the page is full (DynamoDB stops each
//! response at 1 MB). The whole log comes from the `ByPosition` index, one
//! log page (index partition) after the other.
//!
//! The index is eventually consistent, the table's head is not. Positions
//! are dense, so a read knows exactly which positions it must see up to the
//! head: it returns the events up to the first one the index does not show
//! yet, never past a gap, and waits a moment for a gap to fill. A subscriber
//! can therefore never skip an event that the index shows late.

use es_core::{AggregateId, Position, RecordedEvent, StoreError, Version, limits};

use crate::DynamoDbEventStore;
use crate::error::store_error;
use crate::items::{self, HEAD_KEY, Item, attr, n, s};
use crate::limits::{INDEX_LAG_POLL, INDEX_LAG_WAIT_MAX, LOG_PAGE_EVENTS};
use crate::tables::BY_POSITION_INDEX;

impl DynamoDbEventStore {
    /// The log's last committed position, read consistently.
    pub(crate) async fn read_head(&self) -> Result<Position, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.tables.log)
            .key(attr::KEY, s(HEAD_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        match got.item() {
            Some(item) => Ok(Position(items::number(item, attr::POSITION)?)),
            None => Ok(Position::START),
        }
    }

    /// The aggregate's current version (0 without events).
    pub(crate) async fn current_version(&self, aggregate_id: AggregateId) -> Result<Version, StoreError> {
        let queried = self
            .client
            .query()
            .table_name(&self.tables.events)
            .key_condition_expression("#a = :a")
            .expression_attribute_names("#a", attr::AGGREGATE_ID)
            .expression_attribute_values(":a", s(aggregate_id.to_string()))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .projection_expression("#a, #v")
            .expression_attribute_names("#v", attr::AGGREGATE_VERSION)
            .send()
            .await
            .map_err(store_error)?;
        match queried.items().first() {
            Some(item) => Ok(Version(items::number(item, attr::AGGREGATE_VERSION)?)),
            None => Ok(Version::INITIAL),
        }
    }

    pub(crate) async fn load_events(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = limit.min(limits::READ_PAGE_MAX) as usize;
        let mut events = Vec::new();
        let mut start: Option<Item> = None;
        while events.len() < limit {
            let queried = self
                .client
                .query()
                .table_name(&self.tables.events)
                .key_condition_expression("#a = :a AND #v > :v")
                .expression_attribute_names("#a", attr::AGGREGATE_ID)
                .expression_attribute_names("#v", attr::AGGREGATE_VERSION)
                .expression_attribute_values(":a", s(aggregate_id.to_string()))
                .expression_attribute_values(":v", n(after.0))
                .consistent_read(true)
                .limit(i32::try_from(limit - events.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error)?;
            for item in queried.items() {
                events.push(items::recorded_event(item)?);
            }
            match queried.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(events)
    }

    pub(crate) async fn read_log(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = u64::from(limit.min(limits::READ_PAGE_MAX));
        let head = self.read_head().await?;
        let last = head.0.min(after.0.saturating_add(limit));
        let mut events: Vec<RecordedEvent> = Vec::new();
        let deadline = tokio::time::Instant::now() + INDEX_LAG_WAIT_MAX;
        loop {
            let from = after.0 + events.len() as u64 + 1;
            if from > last {
                return Ok(events);
            }
            let found = self.read_positions(from, last).await?;
            // Keep only the dense prefix: a gap is a committed event the
            // index does not show yet.
            let mut expected = from;
            for event in found {
                if event.position.0 != expected {
                    break;
                }
                events.push(event);
                expected += 1;
            }
            if expected > last {
                return Ok(events);
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    missing = expected,
                    "the log-order index lags; answering with the events before the gap"
                );
                return Ok(events);
            }
            tokio::time::sleep(INDEX_LAG_POLL).await;
        }
    }

    /// Events at positions `from..=to` as the index shows them, in order.
    async fn read_positions(&self, from: u64, to: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = Vec::new();
        let mut page_from = from;
        while page_from <= to {
            let page = items::log_page(page_from);
            let page_to = to.min((page + 1) * LOG_PAGE_EVENTS - 1);
            let mut start: Option<Item> = None;
            loop {
                let queried = self
                    .client
                    .query()
                    .table_name(&self.tables.events)
                    .index_name(BY_POSITION_INDEX)
                    .key_condition_expression("#g = :g AND #p BETWEEN :from AND :to")
                    .expression_attribute_names("#g", attr::LOG_PAGE)
                    .expression_attribute_names("#p", attr::POSITION)
                    .expression_attribute_values(":g", n(page))
                    .expression_attribute_values(":from", n(page_from))
                    .expression_attribute_values(":to", n(page_to))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(store_error)?;
                for item in queried.items() {
                    events.push(items::recorded_event(item)?);
                }
                match queried.last_evaluated_key() {
                    Some(key) if !key.is_empty() => start = Some(key.clone()),
                    _ => break,
                }
            }
            page_from = page_to + 1;
        }
        Ok(events)
    }

    /// The event at one position, if the index shows it.
    async fn event_at(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        Ok(self.read_positions(position, position).await?.into_iter().next())
    }

    /// Binary search over the dense positions for the first event created
    /// at or after `time`, assuming `Created` grows with the position (as it
    /// does up to clock skew between writers).
    pub(crate) async fn position_before_time(
        &self,
        time: chrono::DateTime<chrono::Utc>,
    ) -> Result<Position, StoreError> {
        let head = self.read_head().await?;
        // Invariant: every position ≤ low was created before `time`, and
        // `high` (if ≤ head) was created at or after it.
        let (mut low, mut high) = (0u64, head.0 + 1);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            let event = self
                .event_at(middle)
                .await?
                .ok_or_else(|| StoreError::Unavailable(format!("position {middle} is not in the index yet")))?;
            if event.created < time {
                low = middle;
            } else {
                high = middle;
            }
        }
        Ok(Position(low))
    }
}
