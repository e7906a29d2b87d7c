//! What `GET /ready` checks on the embedded host: the log takes appends (not
//! after a failed sync of its WAL, nor once its writer thread has stopped)
//! and every read model is within [`READ_MODELS_BEHIND_MAX`] events of the
//! log's head, and applies what is committed within a bound in seconds
//! (`serve --ready-lag-max-secs`): a read model that stopped is noticed on a
//! quiet shop too. A load balancer then sends traffic elsewhere instead of to
//! a process that would refuse every command or answer from stale read
//! models; `GET /health` stays a liveness check. Ready or not, the answer says
//! how far each read model trails.
//!
//! On the AWS services it checks that the log (the index of the events
//! table) and the read database answer. Its read models follow the bus per
//! aggregate, with no global position to compare with the log's, so their
//! lag is not part of it.

use std::sync::Arc;
use std::time::Duration;

use es_core::{EventStore, async_trait};
use es_dynamodb::DynamoDbEventStore;
use es_sqlite::SqliteEventStore;
use ticketing_api::ready::{ReadModelLag, Readiness};
use ticketing_postgres::PostgresQueries;

use crate::operations::ReadModelWatch;
use crate::status::ReadModelStatus;

/// Events the read models may trail the log by and still take traffic: a
/// second or so of a busy shop's commits.
pub(crate) const READ_MODELS_BEHIND_MAX: u64 = 10_000;

/// The longest, by default, a committed event may wait for a read model: far
/// past any batch's time, short enough that a stuck read model is taken out
/// of traffic within a minute.
pub(crate) const READ_MODEL_LAG_MAX_DEFAULT: Duration = Duration::from_secs(30);

/// The embedded host's log and read models.
pub(crate) struct EmbeddedReadiness {
    pub(crate) store: Arc<SqliteEventStore>,
    pub(crate) read_models: ReadModelWatch,
    /// The longest a committed event may wait for a read model.
    pub(crate) lag_max: Duration,
}

#[async_trait]
impl Readiness for EmbeddedReadiness {
    async fn check(&self) -> Result<Vec<ReadModelLag>, String> {
        self.store.writable()?;
        let status = self
            .read_models
            .status(chrono::Utc::now())
            .await
            .map_err(|error| format!("the log cannot be read: {error}"))?;
        for read_model in &status.read_models {
            within_reach(read_model, self.lag_max)?;
        }
        Ok(status
            .read_models
            .into_iter()
            .map(|read_model| ReadModelLag {
                name: read_model.name,
                lag_events: read_model.lag_events,
                lag_seconds: read_model.lag_seconds,
            })
            .collect())
    }
}

/// The AWS host's log and read database.
pub(crate) struct AwsReadiness {
    pub(crate) store: Arc<DynamoDbEventStore>,
    pub(crate) queries: PostgresQueries,
}

#[async_trait]
impl Readiness for AwsReadiness {
    async fn check(&self) -> Result<Vec<ReadModelLag>, String> {
        self.store.head().await.map_err(|error| format!("the log cannot be read: {error}"))?;
        self.queries.ping().await.map_err(|error| format!("the read database does not answer: {error}"))?;
        Ok(Vec::new())
    }
}

/// Whether a read model is close enough to the log's head, in events and in time.
fn within_reach(read_model: &ReadModelStatus, lag_max: Duration) -> Result<(), String> {
    let name = &read_model.name;
    if read_model.lag_events > READ_MODELS_BEHIND_MAX {
        return Err(format!("the read model {name} is {} events behind the log", read_model.lag_events));
    }
    if read_model.lag_seconds > lag_max.as_secs_f64() {
        return Err(format!(
            "the read model {name} has not applied an event committed {:.0} s ago",
            read_model.lag_seconds
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use es_sqlite::Durability;

    use super::*;

    fn behind(lag_events: u64, lag_seconds: f64) -> ReadModelStatus {
        let name = "orders".to_owned();
        ReadModelStatus { name, position: Some(1), lag_events, lag_seconds, last_error: None, note: None }
    }

    #[test]
    fn a_read_model_far_behind_the_log_or_stuck_on_an_old_event_is_not_ready() {
        let lag_max = Duration::from_secs(30);
        assert_eq!(within_reach(&behind(10_000, 30.0), lag_max), Ok(()));
        let far = within_reach(&behind(10_001, 0.5), lag_max);
        assert_eq!(far, Err("the read model orders is 10001 events behind the log".to_owned()));
        let stuck = within_reach(&behind(1, 31.0), lag_max);
        assert_eq!(stuck, Err("the read model orders has not applied an event committed 31 s ago".to_owned()));
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
        assert_eq!(readiness.check().await, Ok(Vec::new()));
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
