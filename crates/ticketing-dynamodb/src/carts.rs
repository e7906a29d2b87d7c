//! The carts read model: folding cart events into one item per cart, the
//! conditional writes, and the query.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes, ScalarAttributeType,
};
use chrono::{DateTime, Utc};
use es_aws_bus::sink::{BusSink, Checkpoint};
use es_core::{AggregateId, DomainEvent, Position, ProjectionError, RecordedEvent, Version};
use ticketing::{CART_EVENT_TYPES, CartEvent, CartId, CustomerId, Money, Quantity};
use ticketing_app::queries::{CartItemView, CartQueries, CartView, QueryError, ReadProgress};
use ticketing_app::written::Written;

/// The table's key attribute: the cart aggregate's id (= the customer's).
pub const CARTS_KEY: &str = "CartId";
const VERSION: &str = "Version";
const ITEMS: &str = "Items";
const CHECKPOINT: &str = "Checkpoint";

/// Keys per `BatchGetItem` call (the service's limit).
const BATCH_GET_KEYS_MAX: usize = 100;

/// Attempts of one cart's conditional write when another consumer moved the
/// cart in between.
const WRITE_ATTEMPTS_MAX: u32 = 8;

/// One cart as stored.
#[derive(Debug, Default)]
struct StoredCart {
    version: Version,
    items: Vec<CartItemView>,
}

/// The carts read model in one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoDbCarts {
    client: Client,
    table: String,
}

impl DynamoDbCarts {
    /// The read model's name among the bus's sinks (it scopes checkpoints).
    pub const NAME: &'static str = "carts";

    /// The read model in `table` (see [`create_carts_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

#[async_trait]
impl CartQueries for DynamoDbCarts {
    /// A customer's live cart at `now`: items whose hold has not run out,
    /// in the order they were added, with their total.
    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError> {
        let stored = self.load(&CartId::of(customer).0.to_string()).await.map_err(QueryError::store)?;
        let items: Vec<CartItemView> = stored.items.into_iter().filter(|item| item.expires_at > now).collect();
        let mut total: Option<Money> = None;
        for item in &items {
            let quantity = Quantity::new(item.quantity).map_err(QueryError::store)?;
            let subtotal = item.unit_price.times(quantity).map_err(QueryError::store)?;
            total = Some(match total {
                None => subtotal,
                Some(sum) => sum.plus(subtotal).map_err(QueryError::store)?,
            });
        }
        Ok(CartView { items, total })
    }
}

#[async_trait]
impl ReadProgress for DynamoDbCarts {
    /// [`Position::START`]: carts follow the bus, per aggregate.
    async fn position(&self) -> Result<Position, QueryError> {
        Ok(Position::START)
    }

    /// The carts written that this read model has applied at their version
    /// or later.
    async fn shown(&self, written: &Written) -> Result<HashSet<AggregateId>, QueryError> {
        let ids: Vec<AggregateId> = written.versions.iter().map(|(aggregate_id, _)| *aggregate_id).collect();
        let applied = self.applied_versions(&ids).await.map_err(QueryError::store)?;
        Ok(written
            .versions
            .iter()
            .filter(|(aggregate_id, version)| applied.get(aggregate_id).is_some_and(|applied| applied >= version))
            .map(|(aggregate_id, _)| *aggregate_id)
            .collect())
    }
}

impl DynamoDbCarts {
    async fn load(&self, key: &str) -> Result<StoredCart, ProjectionError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(CARTS_KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| store(&error))?;
        match got.item() {
            Some(item) => decode_cart(item),
            None => Ok(StoredCart::default()),
        }
    }

    /// Applies one cart's events (consecutive versions) with a write
    /// conditioned on the version it read.
    async fn apply_cart(&self, key: &str, events: &[&RecordedEvent]) -> Result<(), ProjectionError> {
        for _ in 0..WRITE_ATTEMPTS_MAX {
            let mut cart = self.load(key).await?;
            let read_version = cart.version;
            let mut changed = false;
            for event in events.iter().filter(|event| event.aggregate_version > read_version) {
                fold(&mut cart, event)?;
                changed = true;
            }
            if !changed {
                return Ok(());
            }
            let items = serde_json::to_string(&cart.items).map_err(|error| apply_error(events[0], &error))?;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(CARTS_KEY, AttributeValue::S(key.to_owned()))
                .item(VERSION, AttributeValue::N(cart.version.0.to_string()))
                .item(ITEMS, AttributeValue::S(items))
                .condition_expression("attribute_not_exists(#k) OR #v = :read")
                .expression_attribute_names("#k", CARTS_KEY)
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":read", AttributeValue::N(read_version.0.to_string()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(()),
                Err(error) if error.code() == Some("ConditionalCheckFailedException") => {
                    tracing::debug!(cart = key, "cart moved under a concurrent consumer; applying again");
                }
                Err(error) => return Err(store(&error)),
            }
        }
        Err(ProjectionError::Store(es_core::StoreError::Unavailable(format!(
            "cart {key} kept moving for {WRITE_ATTEMPTS_MAX} attempts"
        ))))
    }
}

/// Folds one cart event into the stored cart.
fn fold(cart: &mut StoredCart, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let decoded = CartEvent::from_record(event).map_err(|error| apply_error(event, &error))?;
    match decoded {
        CartEvent::ItemAdded { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, .. } => {
            cart.items.push(CartItemView {
                id: item_id,
                concert_id,
                ticket_type_id,
                quantity: quantity.get(),
                unit_price,
                expires_at,
            });
        }
        CartEvent::ItemRemoved { item_id } | CartEvent::ItemExpired { item_id } => {
            cart.items.retain(|item| item.id != item_id);
        }
        CartEvent::CheckedOut { item_ids, .. } => cart.items.retain(|item| !item_ids.contains(&item.id)),
        // The customer's standing is the cart's to enforce; the cart's read model shows its items.
        CartEvent::CustomerDisabled { .. } | CartEvent::CustomerEnabled { .. } => {}
    }
    cart.version = event.aggregate_version;
    Ok(())
}

fn decode_cart(item: &HashMap<String, AttributeValue>) -> Result<StoredCart, ProjectionError> {
    let corrupt = |what: &str| ProjectionError::Store(es_core::StoreError::Corrupt(format!("cart item: {what}")));
    let version = match item.get(VERSION) {
        Some(AttributeValue::N(number)) => Version(number.parse().map_err(|_| corrupt("Version"))?),
        _ => return Err(corrupt("Version missing")),
    };
    let items = match item.get(ITEMS) {
        Some(AttributeValue::S(json)) => serde_json::from_str(json).map_err(|_| corrupt("Items"))?,
        _ => return Err(corrupt("Items missing")),
    };
    Ok(StoredCart { version, items })
}

fn store(error: &(dyn std::error::Error + 'static)) -> ProjectionError {
    ProjectionError::Store(es_core::StoreError::Unavailable(DisplayErrorContext(error).to_string()))
}

fn apply_error(event: &RecordedEvent, error: &dyn std::fmt::Display) -> ProjectionError {
    ProjectionError::Apply { name: "carts".into(), position: event.position, reason: error.to_string() }
}

fn checkpoint_key(key: &str) -> String {
    format!("checkpoint#{key}")
}

#[async_trait]
impl BusSink for DynamoDbCarts {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn reads(&self, event: &RecordedEvent) -> bool {
        CART_EVENT_TYPES.contains(&event.event_type.as_str())
    }

    async fn applied_versions(
        &self,
        aggregates: &[AggregateId],
    ) -> Result<HashMap<AggregateId, Version>, ProjectionError> {
        let mut versions = HashMap::new();
        for chunk in aggregates.chunks(BATCH_GET_KEYS_MAX) {
            let mut keys = KeysAndAttributes::builder()
                .consistent_read(true)
                .projection_expression("#k, #v")
                .expression_attribute_names("#k", CARTS_KEY)
                .expression_attribute_names("#v", VERSION);
            for aggregate in chunk {
                keys = keys.keys(HashMap::from([(CARTS_KEY.to_owned(), AttributeValue::S(aggregate.to_string()))]));
            }
            let mut pending = Some(keys.build().map_err(|error| store(&error))?);
            while let Some(request) = pending.take() {
                let got = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|error| store(&error))?;
                for item in got.responses().and_then(|tables| tables.get(&self.table)).into_iter().flatten() {
                    let id = match item.get(CARTS_KEY) {
                        Some(AttributeValue::S(id)) => id.parse::<AggregateId>().ok(),
                        _ => None,
                    };
                    let version = match item.get(VERSION) {
                        Some(AttributeValue::N(number)) => number.parse::<u64>().ok().map(Version),
                        _ => None,
                    };
                    if let (Some(id), Some(version)) = (id, version) {
                        versions.insert(id, version);
                    }
                }
                // Keys DynamoDB did not get to this time come back to be asked again.
                pending = got.unprocessed_keys().and_then(|tables| tables.get(&self.table)).cloned();
            }
        }
        Ok(versions)
    }

    async fn apply(&self, events: &[RecordedEvent], checkpoint: Option<&Checkpoint>) -> Result<(), ProjectionError> {
        let mut order: Vec<AggregateId> = Vec::new();
        let mut per_cart: HashMap<AggregateId, Vec<&RecordedEvent>> = HashMap::new();
        for event in events.iter().filter(|event| self.reads(event)) {
            per_cart
                .entry(event.aggregate_id)
                .or_insert_with(|| {
                    order.push(event.aggregate_id);
                    Vec::new()
                })
                .push(event);
        }
        for aggregate in order {
            if let Some(cart_events) = per_cart.get(&aggregate) {
                self.apply_cart(&aggregate.to_string(), cart_events).await?;
            }
        }
        if let Some(checkpoint) = checkpoint {
            self.client
                .put_item()
                .table_name(&self.table)
                .item(CARTS_KEY, AttributeValue::S(checkpoint_key(&checkpoint.key)))
                .item(CHECKPOINT, AttributeValue::S(checkpoint.value.clone()))
                .send()
                .await
                .map_err(|error| store(&error))?;
        }
        Ok(())
    }

    async fn checkpoint(&self, key: &str) -> Result<Option<String>, ProjectionError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(CARTS_KEY, AttributeValue::S(checkpoint_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| store(&error))?;
        Ok(match got.item().and_then(|item| item.get(CHECKPOINT)) {
            Some(AttributeValue::S(value)) => Some(value.clone()),
            _ => None,
        })
    }
}

/// Creates the carts table unless it exists (development and tests; the
/// deployment template creates it in production).
pub async fn create_carts_table(client: &Client, table: &str) -> Result<(), ProjectionError> {
    let definition = AttributeDefinition::builder()
        .attribute_name(CARTS_KEY)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|error| store(&error))?;
    let key = KeySchemaElement::builder()
        .attribute_name(CARTS_KEY)
        .key_type(KeyType::Hash)
        .build()
        .map_err(|error| store(&error))?;
    let created = client
        .create_table()
        .table_name(table)
        .attribute_definitions(definition)
        .key_schema(key)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("ResourceInUseException") => Ok(()),
        Err(error) => Err(store(&error)),
    }
}
