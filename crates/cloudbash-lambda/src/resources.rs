//! What the functions share within one container: AWS clients, the event log, the shop, the read models' pool.
//! Each is made on first use and kept for the container's life (`OnceCell`), so a cold start does no work that a
//! function may never need: the forwarder never opens a database pool, and nothing connects before the first
//! invocation. The PostgreSQL pool is lazy too: it reads the password on first use and opens connections as
//! queries need them; a warm container rereads the password now and then, since RDS rotates it.

use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use axum::Router;
use es_aws_bus::kinesis::KinesisPublisher;
use es_aws_bus::sink::BusSink;
use es_core::{Clock, EventLog, EventStore, SnapshotStore, SystemClock};
use es_dynamodb::{DynamoDbEventStore, Tables};
use serde::Deserialize;
use sqlx_postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use ticketing_api::ApiState;
use ticketing_api::auth::AuthState;
use ticketing_api::problem::Chain;
use ticketing_app::queries::ReadSide;
use ticketing_app::{RandomTicketCodes, Shop};
use ticketing_dynamodb::DynamoDbCarts;
use ticketing_postgres::{PostgresQueries, PostgresSink, ReadModel};
use tokio::sync::OnceCell;

use crate::config::{Config, DatabaseConfig, required};
use crate::limits::{DATABASE_ACQUIRE_TIMEOUT, DATABASE_CONNECTIONS_MAX, DATABASE_SECRET_REFRESH_INTERVAL};
use crate::{LambdaError, api};

/// The container's shared state; one per process, made before the first invocation without doing any I/O.
pub struct Resources {
    config: Config,
    sdk: OnceCell<SdkConfig>,
    store: OnceCell<Arc<DynamoDbEventStore>>,
    shop: OnceCell<Arc<Shop>>,
    pool: OnceCell<PgPool>,
    /// When the pool's password was last read from Secrets Manager (RDS only).
    password_read_at: std::sync::Mutex<Option<Instant>>,
    carts: OnceCell<DynamoDbCarts>,
    publisher: OnceCell<KinesisPublisher>,
    sinks: OnceCell<Vec<Arc<dyn BusSink>>>,
    api: OnceCell<Router>,
    queries: OnceCell<PostgresQueries>,
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Resources").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Resources {
    /// Resources for `config`, with the AWS configuration of the environment (loaded on first use).
    pub fn new(config: Config) -> Self {
        Self {
            config,
            sdk: OnceCell::new(),
            store: OnceCell::new(),
            shop: OnceCell::new(),
            pool: OnceCell::new(),
            password_read_at: std::sync::Mutex::new(None),
            carts: OnceCell::new(),
            publisher: OnceCell::new(),
            sinks: OnceCell::new(),
            api: OnceCell::new(),
            queries: OnceCell::new(),
        }
    }

    /// Resources for `config` that use `sdk` for every AWS client (tests point it at the emulators).
    pub fn with_sdk_config(config: Config, sdk: SdkConfig) -> Self {
        let resources = Self::new(config);
        resources.sdk.set(sdk).expect("a new cell is empty");
        resources
    }

    /// The configuration read at start.
    pub fn config(&self) -> &Config {
        &self.config
    }

    async fn sdk(&self) -> &SdkConfig {
        self.sdk.get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest())).await
    }

    /// The event log in DynamoDB.
    pub async fn store(&self) -> Result<&Arc<DynamoDbEventStore>, LambdaError> {
        self.store
            .get_or_try_init(|| async {
                let mut tables = Tables::named(required(&self.config.events_table, "CLOUDBASH_EVENTS_TABLE")?);
                if let Some(log) = &self.config.log_table {
                    tables.log.clone_from(log);
                }
                if let Some(index) = &self.config.index_table {
                    tables.index.clone_from(index);
                }
                let client = aws_sdk_dynamodb::Client::new(self.sdk().await);
                Ok(Arc::new(DynamoDbEventStore::new(client, tables)))
            })
            .await
    }

    /// The command side over the log, with snapshots in the log table.
    pub async fn shop(&self) -> Result<&Arc<Shop>, LambdaError> {
        self.shop
            .get_or_try_init(|| async {
                let store = Arc::clone(self.store().await?);
                let clock: Arc<dyn Clock> = Arc::new(SystemClock);
                let snapshots: Arc<dyn SnapshotStore> = store.clone();
                let log = EventLog::new(store, Arc::clone(&clock));
                let shop = Shop::new(log, Some(snapshots), clock, Arc::new(RandomTicketCodes));
                let shop = shop.with_buckets_per_concert(self.config.buckets_per_concert);
                // Disabling a customer disables their account in the user pool too.
                let shop = match &self.config.user_pool_id {
                    Some(pool) => {
                        let client = aws_sdk_cognitoidentityprovider::Client::new(self.sdk().await);
                        shop.with_directory(Arc::new(ticketing_cognito::CognitoDirectory::new(client, pool)))
                    }
                    None => shop,
                };
                Ok(Arc::new(shop))
            })
            .await
    }

    /// The carts read model.
    pub async fn carts(&self) -> Result<&DynamoDbCarts, LambdaError> {
        self.carts
            .get_or_try_init(|| async {
                let table = required(&self.config.carts_table, "CLOUDBASH_CARTS_TABLE")?;
                Ok(DynamoDbCarts::new(aws_sdk_dynamodb::Client::new(self.sdk().await), table))
            })
            .await
    }

    /// The pool of the read-model database. Made without connecting; on RDS it reads the password first, and again
    /// once [`DATABASE_SECRET_REFRESH_INTERVAL`] has passed (call it at the start of every invocation that uses the
    /// database: the read models and queries share this pool, so new options reach them all).
    pub async fn pool(&self) -> Result<&PgPool, LambdaError> {
        let pool = self
            .pool
            .get_or_try_init(|| async {
                let options =
                    match self.config.database.as_ref().ok_or(LambdaError::missing("CLOUDBASH_DATABASE_SECRET_ARN"))? {
                        DatabaseConfig::Url(url) => {
                            url.parse::<PgConnectOptions>().map_err(|error| LambdaError::Config {
                                name: "CLOUDBASH_DATABASE_URL",
                                problem: format!("is not a PostgreSQL URL: {error}"),
                            })?
                        }
                        rds @ DatabaseConfig::Rds { secret_arn, .. } => {
                            let credentials = self.database_credentials(secret_arn).await?;
                            self.note_password_read();
                            rds_options(rds, &credentials)
                        }
                    };
                Ok::<_, LambdaError>(
                    PgPoolOptions::new()
                        .max_connections(DATABASE_CONNECTIONS_MAX)
                        .acquire_timeout(DATABASE_ACQUIRE_TIMEOUT)
                        .connect_lazy_with(options),
                )
            })
            .await?;
        self.refresh_password(pool).await;
        Ok(pool)
    }

    fn note_password_read(&self) {
        *self.password_read_at.lock().expect("no thread panics while holding this lock") = Some(Instant::now());
    }

    /// Rereads the RDS password when it is due. A failure is logged and tried again an interval later: the
    /// connections open now keep working, and a refused one will show in the invocation that needs it.
    async fn refresh_password(&self, pool: &PgPool) {
        let Some(rds @ DatabaseConfig::Rds { secret_arn, .. }) = &self.config.database else { return };
        let read_at = *self.password_read_at.lock().expect("no thread panics while holding this lock");
        if read_at.is_some_and(|read_at| read_at.elapsed() < DATABASE_SECRET_REFRESH_INTERVAL) {
            return;
        }
        self.note_password_read();
        match self.database_credentials(secret_arn).await {
            Ok(credentials) => pool.set_connect_options(rds_options(rds, &credentials)),
            Err(error) => {
                tracing::warn!(error = %Chain(&error), "cannot reread the database password; keeping the one read before");
            }
        }
    }

    async fn database_credentials(&self, secret_arn: &str) -> Result<DatabaseCredentials, LambdaError> {
        let client = aws_sdk_secretsmanager::Client::new(self.sdk().await);
        let secret = client
            .get_secret_value()
            .secret_id(secret_arn)
            .send()
            .await
            .map_err(|error| LambdaError::Secret(Box::new(error)))?;
        let text = secret.secret_string().ok_or_else(|| LambdaError::Secret("the secret has no text".into()))?;
        // The parser's message may quote the text it choked on: it is not passed on, so no password reaches a log.
        serde_json::from_str(text)
            .map_err(|_| LambdaError::Secret("the secret is not JSON with RDS's `username` and `password`".into()))
    }

    /// The forwarder's target: the Kinesis bus.
    pub async fn publisher(&self) -> Result<&KinesisPublisher, LambdaError> {
        self.publisher
            .get_or_try_init(|| async {
                let stream = required(&self.config.stream_name, "CLOUDBASH_STREAM")?;
                Ok(KinesisPublisher::new(aws_sdk_kinesis::Client::new(self.sdk().await), stream))
            })
            .await
    }

    /// Every read model fed from the bus: one PostgreSQL sink per relational read model, and the carts.
    pub async fn sinks(&self) -> Result<&[Arc<dyn BusSink>], LambdaError> {
        let sinks = self
            .sinks
            .get_or_try_init(|| async {
                let pool = self.pool().await?;
                let mut sinks: Vec<Arc<dyn BusSink>> = ReadModel::ALL
                    .into_iter()
                    .map(|model| Arc::new(PostgresSink::new(pool.clone(), model)) as Arc<dyn BusSink>)
                    .collect();
                sinks.push(Arc::new(self.carts().await?.clone()));
                Ok::<_, LambdaError>(sinks)
            })
            .await?;
        Ok(sinks)
    }

    /// The log as the read side sees it (to fill gaps on the bus).
    pub async fn log(&self) -> Result<Arc<dyn EventStore>, LambdaError> {
        Ok(self.store().await?.clone())
    }

    /// The REST API: the same router as `cloudbash serve`, over the DynamoDB log and the PostgreSQL read models,
    /// trusting the claims API Gateway verified.
    pub async fn api(&self) -> Result<&Router, LambdaError> {
        self.api
            .get_or_try_init(|| async {
                let shop = Arc::clone(self.shop().await?);
                let relational = Arc::new(self.queries().await?.clone());
                let carts = Arc::new(self.carts().await?.clone());
                let state = ApiState::new(AuthState::gateway(), shop, ReadSide::new(relational, carts));
                Ok(api::behind_the_gateway(ticketing_api::router(state)))
            })
            .await
    }

    /// The read models in PostgreSQL (carts are in DynamoDB: [`Resources::carts`]).
    pub async fn queries(&self) -> Result<&PostgresQueries, LambdaError> {
        self.queries.get_or_try_init(|| async { Ok(PostgresQueries::new(self.pool().await?.clone())) }).await
    }
}

/// How to reach RDS with `credentials`. RDS refuses plain connections (`rds.force_ssl`); `Require` encrypts without
/// checking the server's certificate: RDS's certificate authority is not among the usual roots, and the database is
/// reachable only inside the VPC.
fn rds_options(rds: &DatabaseConfig, credentials: &DatabaseCredentials) -> PgConnectOptions {
    let options = PgConnectOptions::new()
        .username(&credentials.username)
        .password(&credentials.password)
        .ssl_mode(PgSslMode::Require);
    match rds {
        DatabaseConfig::Rds { host, port, name, .. } => options.host(host).port(*port).database(name),
        DatabaseConfig::Url(_) => options,
    }
}

/// The JSON that RDS keeps in the master user's secret (other fields are ignored).
#[derive(Deserialize)]
struct DatabaseCredentials {
    username: String,
    password: String,
}
