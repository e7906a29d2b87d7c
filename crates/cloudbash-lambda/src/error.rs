//! One error type for the functions, so that each handler reports a failure the same way: as a Lambda error
//! (the invocation fails and its event source retries it, or CloudFormation hears FAILED), logged once where it is
//! turned into that answer. The variants say what to check, not only what broke, and keep what broke under them
//! as their source, so that the log line names the SDK's or the operating system's words too.

use thiserror::Error;

/// Why a function could not do its work.
#[derive(Debug, Error)]
pub enum LambdaError {
    /// `CLOUDBASH_FUNCTION` is missing or names no function of this binary. A deployment error: the template sets
    /// it on every function.
    #[error("CLOUDBASH_FUNCTION is {0:?}; expected one of api, forwarder, indexer, projector, hold-expiry, migrate")]
    UnknownFunction(String),
    /// A variable the function needs is not set (or is not valid). A deployment error.
    #[error("the environment variable {name} {problem}")]
    Config {
        /// The variable.
        name: &'static str,
        /// What is wrong with it (`is not set`, `is not a port number`, …).
        problem: String,
    },
    /// The database's password could not be read from Secrets Manager: check the function's role and, inside the
    /// VPC, the Secrets Manager endpoint.
    #[error("cannot read the database secret: {0}")]
    Secret(#[source] Cause),
    /// The read-model database failed (connecting, migrating, or a query).
    #[error("read-model database: {0}")]
    Database(#[from] ticketing_postgres::PostgresError),
    /// The event log or the bus failed.
    #[error("event bus: {0}")]
    Bus(#[from] es_aws_bus::BusError),
    /// The application refused or failed a command (hold expiry).
    #[error("application: {0}")]
    App(#[from] ticketing_app::AppError),
    /// The event of an invocation is not what this function handles.
    #[error("unexpected event: {0}")]
    Event(String),
    /// CloudFormation's ResponseURL did not take the answer; the stack waits until its ServiceTimeout.
    #[error("cannot answer CloudFormation: {0}")]
    Answer(#[source] Cause),
}

/// What made a function fail, with its own sources; a sentence (`"…".into()`) where nothing failed underneath.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

impl LambdaError {
    /// A variable that is not set.
    pub(crate) fn missing(name: &'static str) -> Self {
        Self::Config { name, problem: "is not set".to_owned() }
    }
}
