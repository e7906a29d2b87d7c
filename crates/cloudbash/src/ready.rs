//! What `GET /ready` checks on the embedded host: the log takes appends (not
//! after a failed sync of its WAL, nor once its writer thread has stopped)
//! and the read models are within [`READ_MODELS_BEHIND_MAX`] events of the
//! log's head. A load balancer then sends traffic elsewhere instead of to a
//! process that would refuse every command or answer from stale read models;
//! `GET /health` stays a liveness check.
//!
//! On the AWS services it checks that the log (the index of the events
//! table) and the read database answer. Its read models follow the bus per
//! aggregate, with no global position to compare with the log's, so their
//! lag is not part of it.

use std::sync::Arc;

use es_core::{EventStore, Position, async_trait};
use es_dynamodb::DynamoDbEventStore;
use es_sqlite::SqliteEventStore;
use ticketing_api::ready::Readiness;
use ticketing_app::queries::ReadSide;
use ticketing_postgres::PostgresQueries;

/// Events the read models may trail the log by and still take traffic: a
/// second or so of a busy shop's commits.
pub(crate) const READ_MODELS_BEHIND_MAX: u64 = 10_000;

/// The embedded host's log and read models.
pub(crate) struct EmbeddedReadiness {
    pub(crate) store: Arc<SqliteEventStore>,
    pub(crate) queries: ReadSide,
}

#[async_trait]
impl Readiness for EmbeddedReadiness {
    async fn check(&self) -> Result<(), String> {
        self.store.writable()?;
        let head = self.store.head().await.map_err(|error| format!("the log cannot be read: {error}"))?;
        let seen = self.queries.position().await.map_err(|error| format!("the read models cannot be read: {error}"))?;
        within_reach(head, seen)
    }
}

/// The AWS host's log and read database.
pub(crate) struct AwsReadiness {
    pub(crate) store: Arc<DynamoDbEventStore>,
    pub(crate) queries: PostgresQueries,
}

#[async_trait]
impl Readiness for AwsReadiness {
    async fn check(&self) -> Result<(), String> {
        self.store.head().await.map_err(|error| format!("the log cannot be read: {error}"))?;
        self.queries.ping().await.map_err(|error| format!("the read database does not answer: {error}"))
    }
}

/// Whether read models at `seen` are close enough to the log's `head`.
fn within_reach(head: Position, seen: Position) -> Result<(), String> {
    let behind = head.0.saturating_sub(seen.0);
    if behind > READ_MODELS_BEHIND_MAX {
        return Err(format!("the read models are {behind} events behind the log"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use es_sqlite::Durability;

    use super::*;

    #[test]
    fn read_models_far_behind_the_log_are_not_ready() {
        assert_eq!(within_reach(Position(20_000), Position(10_000)), Ok(()));
        let far = within_reach(Position(20_001), Position(10_000));
        assert_eq!(far, Err("the read models are 10001 events behind the log".to_owned()));
    }

    #[tokio::test]
    async fn the_aws_host_is_ready_once_its_log_and_read_database_answer() {
        ticketing_testkit::services::assert_local("AWS_ENDPOINT_URL_DYNAMODB");
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let name = format!("ready-{}", uuid::Uuid::new_v4().simple());
        let tables = es_dynamodb::Tables::named(&name);
        let pool = ticketing_postgres::connect(&ticketing_testkit::services::fresh_database("ready").await)
            .await
            .expect("the test database");
        let readiness = AwsReadiness {
            store: Arc::new(DynamoDbEventStore::new(client.clone(), tables.clone())),
            queries: PostgresQueries::new(pool),
        };

        let missing = readiness.check().await.expect_err("no log tables yet");
        assert!(missing.starts_with("the log cannot be read"), "{missing}");
        es_dynamodb::create_tables(&client, &tables).await.expect("the log's tables");
        assert_eq!(readiness.check().await, Ok(()));
    }

    #[tokio::test]
    async fn a_log_that_no_longer_takes_appends_is_not_ready() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal).expect("opens"));
        assert_eq!(store.writable(), Ok(()));
        store.close().await;
        assert!(store.writable().is_err(), "a log whose writer has ended takes no appends");
    }
}
