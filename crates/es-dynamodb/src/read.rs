//! One aggregate's events: a consistent `Query` on the events table,
//! paginated until the page is full (DynamoDB stops each response at 1 MB).
//! The whole log is read through the index ([`crate::index`]).

use es_core::{AggregateId, RecordedEvent, StoreError, Version, limits};

use crate::DynamoDbEventStore;
use crate::error::store_error;
use crate::items::{self, Item, attr, n, s};

impl DynamoDbEventStore {
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
        let version = match queried.items().first() {
            Some(item) => Version(items::number(item, attr::AGGREGATE_VERSION)?),
            None => Version::INITIAL,
        };
        self.remember(aggregate_id, version);
        Ok(version)
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
        if let Some(last) = events.last() {
            self.remember(aggregate_id, last.aggregate_version);
        }
        Ok(events)
    }
}
