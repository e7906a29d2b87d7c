//! The three tables of the log and how to create them for development
//! (`cloudbash aws provision`, the tests). In production the SAM template
//! creates them; the definitions here and there must agree, and the
//! template's test checks the key schema against these names.
//!
//! - The **events table** is the seed's: `AggregateId` (S, partition key) and
//!   `AggregateVersion` (N, sort key), one item per event, never updated.
//!   Its stream (`NEW_IMAGE`) feeds the indexer and the bus.
//! - The **log table** holds what is not an event: command results for
//!   idempotency, the indexer's cursor per aggregate, stream readers' places
//!   and snapshots, keyed by `Key` (S).
//! - The **index table** holds the log's order as the indexer writes it from
//!   the events table's stream: `Epoch` (N, partition key) and `First` (N,
//!   sort key), one item per batch of positions ([`crate::index`]).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus,
};
use thiserror::Error;

use crate::items::attr;

/// How long provisioning waits for a table to become active.
const ACTIVE_WAIT_MAX: Duration = Duration::from_secs(120);

/// The names of the log's tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables {
    /// The seed's event table.
    pub events: String,
    /// Command results, index cursors, checkpoints and snapshots.
    pub log: String,
    /// The log's order as the indexer writes it: batches of positions.
    pub index: String,
}

impl Tables {
    /// The event table `events`, its log table `<events>-log` and its index
    /// table `<events>-index`.
    pub fn named(events: impl Into<String>) -> Self {
        let events = events.into();
        let log = format!("{events}-log");
        let index = format!("{events}-index");
        Self { events, log, index }
    }
}

/// Why the tables could not be created.
#[derive(Debug, Error)]
pub enum ProvisionError {
    /// DynamoDB refused a request.
    #[error("creating table {table}: {message}")]
    Request {
        /// The table concerned.
        table: String,
        /// The SDK's description of the failure.
        message: String,
    },
    /// The table did not become active in time.
    #[error("table {0} did not become active within {secs} s", secs = ACTIVE_WAIT_MAX.as_secs())]
    NotActive(String),
}

/// Creates the tables unless they exist, and waits until they are active.
/// Safe to run twice.
pub async fn create_tables(client: &Client, tables: &Tables) -> Result<(), ProvisionError> {
    create_events_table(client, &tables.events).await?;
    create_log_table(client, &tables.log).await?;
    create_index_table(client, &tables.index).await?;
    wait_active(client, &tables.events).await?;
    wait_active(client, &tables.log).await?;
    wait_active(client, &tables.index).await
}

fn request_error(table: &str, error: impl std::error::Error) -> ProvisionError {
    ProvisionError::Request { table: table.to_owned(), message: DisplayErrorContext(&error).to_string() }
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, aws_sdk_dynamodb::error::BuildError> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build()
}

fn definition(
    name: &str,
    kind: ScalarAttributeType,
) -> Result<AttributeDefinition, aws_sdk_dynamodb::error::BuildError> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build()
}

type BuildResult<T> = Result<T, aws_sdk_dynamodb::error::BuildError>;

/// An on-demand table keyed by `keys` (name, type, hash or range), with a
/// stream of new images if asked.
async fn create_table(
    client: &Client,
    table: &str,
    keys: &[(&str, ScalarAttributeType, KeyType)],
    stream: bool,
) -> Result<(), ProvisionError> {
    let build = || -> BuildResult<_> {
        let mut definitions = Vec::new();
        let mut schema = Vec::new();
        for (name, kind, key_type) in keys {
            definitions.push(definition(name, kind.clone())?);
            schema.push(key(name, key_type.clone())?);
        }
        let stream = stream
            .then(|| StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::NewImage))
            .map(|stream| stream.build())
            .transpose()?;
        Ok((definitions, schema, stream))
    };
    let (definitions, schema, stream) = build().map_err(|error| request_error(table, error))?;
    let created = client
        .create_table()
        .table_name(table)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(schema))
        .billing_mode(BillingMode::PayPerRequest)
        .set_stream_specification(stream)
        .send()
        .await;
    tolerate_existing(table, created)
}

async fn create_events_table(client: &Client, table: &str) -> Result<(), ProvisionError> {
    let keys = [
        (attr::AGGREGATE_ID, ScalarAttributeType::S, KeyType::Hash),
        (attr::AGGREGATE_VERSION, ScalarAttributeType::N, KeyType::Range),
    ];
    create_table(client, table, &keys, true).await
}

async fn create_log_table(client: &Client, table: &str) -> Result<(), ProvisionError> {
    create_table(client, table, &[(attr::KEY, ScalarAttributeType::S, KeyType::Hash)], false).await
}

async fn create_index_table(client: &Client, table: &str) -> Result<(), ProvisionError> {
    let keys =
        [(attr::EPOCH, ScalarAttributeType::N, KeyType::Hash), (attr::FIRST, ScalarAttributeType::N, KeyType::Range)];
    create_table(client, table, &keys, false).await
}

/// A table that exists already is what provisioning wants.
fn tolerate_existing<T, E>(table: &str, created: Result<T, E>) -> Result<(), ProvisionError>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.code() == Some("ResourceInUseException") => Ok(()),
        Err(error) => Err(request_error(table, error)),
    }
}

async fn wait_active(client: &Client, table: &str) -> Result<(), ProvisionError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT_MAX;
    loop {
        let described =
            client.describe_table().table_name(table).send().await.map_err(|error| request_error(table, error))?;
        let status = described.table().and_then(|table| table.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ProvisionError::NotActive(table.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
