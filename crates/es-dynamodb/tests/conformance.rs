//! The kernel's conformance suite on DynamoDB: the same cases the in-memory
//! reference and SQLite pass, against the DynamoDB emulator started by
//! `scripts/services.sh` (moto; `AWS_ENDPOINT_URL_DYNAMODB`). Every backend
//! gets its own pair of tables.

use std::sync::Arc;

use es_dynamodb::{DynamoDbEventStore, Tables, create_tables};
use es_testkit::{Backend, BackendFactory};

mod support;

struct DynamoDbFactory;

#[es_core::async_trait]
impl BackendFactory for DynamoDbFactory {
    async fn fresh(&self) -> Backend {
        let client = support::client().await;
        let tables = Tables::named(support::unique_name("events"));
        create_tables(&client, &tables).await.expect("create the tables");
        let store = Arc::new(DynamoDbEventStore::new(client, tables));
        Backend { store: store.clone(), checkpoints: store.clone(), snapshots: store }
    }

    /// The emulator answers a few hundred requests per second, and the race
    /// case alone makes about 5,000.
    fn case_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
}

es_testkit::conformance_tests!(DynamoDbFactory);
