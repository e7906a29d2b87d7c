//! Everything the shop runs, in one process: the log, the read models with
//! what feeds them, the hold-expiry process and the HTTP server with the
//! REST API and the web pages. The log and read models are the embedded
//! ones (SQLite in the data directory) or the AWS services
//! (`aws_host.rs`); the rest is the same code either way.
//! This is the composition root of the local and container hosts: the only
//! place (with the Lambda functions) that picks backends.
//!
//! Whose tokens the API and pages accept is the host's choice too
//! ([`Identity`]): those signed with the secret in the data directory, or
//! only the access tokens of a trusted identity provider.
//!
//! The server is `ticketing_api::server`, not `axum::serve`: it adds a
//! header-read timeout and a cap on connections. Around the routes go the edge
//! limits of `ticketing_api::edge`: panics become 500 problems, requests have
//! a time limit and a cap in flight, and each caller's API commands a rate.
//! The pages call the API in-process, so their commands are not counted by
//! the command rate limit; their requests pass the outer limits like any
//! other.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use es_core::{
    CancellationToken, Clock, EventLog, EventStore, ProjectionRunner, SnapshotStore, SystemClock, lowest_position,
};
use es_sqlite::{DATABASE_FILE, Durability, SqliteEventStore};
use metrics_exporter_prometheus::PrometheusHandle;
use ticketing_api::auth::{AuthState, LOCAL_ISSUER, LocalSigner, Secret, TrustedIssuer, Verifier};
use ticketing_api::edge::{self, EdgeLimits};
use ticketing_api::limits::LISTEN_BACKLOG;
use ticketing_api::ready::Readiness;
use ticketing_api::{ApiState, router};
use ticketing_app::queries::ReadSide;
use ticketing_app::{HoldExpiry, RandomTicketCodes, Shop};
use ticketing_sqlite::{ReadModels, SqliteQueries};
use ticketing_web::WebState;
use tokio::task::JoinSet;

use crate::aws_host::AwsBackends;
use crate::operations::{self, ReadModelWatch};
use crate::ready::{AwsReadiness, EmbeddedReadiness};

/// Where and how the shop runs, read once from the command line.
#[derive(Debug, Clone)]
pub(crate) struct HostConfig {
    /// The address to listen on (port 0 picks a free one).
    pub(crate) addr: SocketAddr,
    /// Holds the signing secret, and the log and read models of the embedded backends.
    pub(crate) data_dir: PathBuf,
    /// Where the log and the read models live.
    pub(crate) backends: Backends,
    /// Whether anyone may sign in as a fan or an organiser at `/shop/sign-in` (a shop on one's own machine only).
    pub(crate) dev_sign_in: bool,
    /// How many buckets concerts are published with; `None`: the backend's default.
    pub(crate) buckets_per_concert: Option<u16>,
    /// Where to serve `/metrics` and `/status` (`operations.rs`), with the recorder that keeps the figures.
    pub(crate) operations: Option<(SocketAddr, PrometheusHandle)>,
    /// The longest a committed event may wait for a read model before `/ready` says no.
    pub(crate) ready_lag_max: Duration,
    /// Where buyers pay; `None`: the built-in test provider pays every order at checkout.
    pub(crate) payments: Option<crate::payments::Payments>,
    /// Where paid orders' tickets are mailed from; `None`: no mail is sent.
    pub(crate) mail: Option<crate::delivery::Mail>,
    /// The Cognito user pool whose accounts are disabled with their customers; `None`: only the shop refuses them.
    pub(crate) user_pool_id: Option<String>,
}

/// The log and read models a host composes.
#[derive(Debug, Clone)]
pub(crate) enum Backends {
    /// SQLite in the data directory, the bus in-process.
    Embedded,
    /// DynamoDB, a bus fed from the events table's stream, PostgreSQL at `database_url`.
    /// `bus`: whether this process also runs the log's indexer, the forwarder, the read models' consumers and hold
    /// expiry.
    Aws { args: crate::aws::BackendArgs, database_url: String, bus: bool },
}

/// Whose bearer tokens the host accepts.
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// Tokens signed with the secret in the data directory (`cloudbash token`, the development sign-in).
    Local,
    /// Only the RS256 access tokens of this identity provider; no secret is read or created.
    Trusted(TrustedIssuer),
}

/// A running shop.
pub(crate) struct Host {
    addr: SocketAddr,
    operations_addr: Option<SocketAddr>,
    shop: Arc<Shop>,
    /// The embedded log, closed last.
    sqlite: Option<Arc<SqliteEventStore>>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

/// Opens the log in `data_dir`, creating the directory if needed.
pub(crate) fn open_store(data_dir: &Path) -> anyhow::Result<Arc<SqliteEventStore>> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let store = SqliteEventStore::open(data_dir.join(DATABASE_FILE), Durability::Full)
        .with_context(|| format!("opening the log in {}", data_dir.display()))?;
    Ok(Arc::new(store))
}

/// A listening socket at `addr` whose queue of connections not yet accepted holds [`LISTEN_BACKLOG`]; binding
/// through the standard library would give it 128, which a burst of new clients overflows.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // As the standard library does: a restarted server can bind while the old connections are in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How requests are authenticated, and the signer of local tokens when there is one (for the development sign-in).
/// A trusted issuer's keys are fetched before serving, so that the first requests need not wait for them; if that
/// fails (logged), requests answer 503 until a later fetch succeeds.
async fn authentication(data_dir: &Path, identity: &Identity) -> anyhow::Result<(AuthState, Option<LocalSigner>)> {
    match identity {
        Identity::Local => {
            let secret = Secret::load_or_create(data_dir).context("loading the signing secret")?;
            Ok((AuthState::new(Verifier::new(&secret, LOCAL_ISSUER)), Some(LocalSigner::new(&secret, LOCAL_ISSUER))))
        }
        Identity::Trusted(trusted) => {
            let verifier = Verifier::trusting(trusted).context("trusting the identity provider")?;
            // A failure is logged where it happens, and not fatal: the provider may be back by the first request.
            let _ = verifier.fetch_keys().await;
            Ok((AuthState::new(verifier), None))
        }
    }
}

impl Host {
    /// Starts every part and begins serving, with the default edge limits and local tokens.
    pub(crate) async fn start(config: &HostConfig) -> anyhow::Result<Self> {
        Self::start_with(config, &EdgeLimits::default(), &Identity::Local).await
    }

    /// Starts every part and begins serving within `limits`, accepting the tokens of `identity`.
    pub(crate) async fn start_with(
        config: &HostConfig,
        limits: &EdgeLimits,
        identity: &Identity,
    ) -> anyhow::Result<Self> {
        // First, so that a host that cannot authenticate anyone stops before it starts anything else.
        let (auth, signer) = authentication(&config.data_dir, identity).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        // Processes sharing a DynamoDB log hold side by side in buckets (`ticketing::bucket`); one process on SQLite
        // shares its appends already.
        let buckets = config.buckets_per_concert.unwrap_or(match config.backends {
            Backends::Embedded => 0,
            Backends::Aws { .. } => ticketing_app::BUCKETS_PER_CONCERT_MAX,
        });
        let (log, snapshots, queries, readiness, sqlite, progress, watch): (
            EventLog,
            Arc<dyn SnapshotStore>,
            ReadSide,
            _,
            _,
            _,
            ReadModelWatch,
        ) = match &config.backends {
            Backends::Embedded => {
                let store = open_store(&config.data_dir)?;
                let log = EventLog::new(store.clone(), Arc::clone(&clock));
                let read_models = ReadModels::open(&store).context("opening the read models")?;
                let queries = SqliteQueries::open(&read_models).context("opening the read side")?;
                let mut statuses = Vec::new();
                for projection in read_models.projections() {
                    let name = projection.name().to_owned();
                    let runner = ProjectionRunner::new(log.clone(), projection);
                    statuses.push((name, runner.status()));
                    tasks.spawn(runner.run(shutdown.clone()));
                }
                let progress = lowest_position(statuses.iter().map(|(_, status)| status.clone()).collect());
                let watch = ReadModelWatch::new(store.clone(), statuses);
                let readiness: Arc<dyn Readiness> = Arc::new(EmbeddedReadiness {
                    store: Arc::clone(&store),
                    read_models: watch.clone(),
                    lag_max: config.ready_lag_max,
                });
                let queries = ReadSide::of(Arc::new(queries));
                (log, store.clone(), queries, readiness, Some(store), Some(progress), watch)
            }
            Backends::Aws { args, database_url, bus } => {
                let backends = AwsBackends::open(args, database_url).await?;
                if *bus {
                    backends.spawn_bus(&mut tasks, &shutdown).await?;
                }
                let store: Arc<dyn EventStore> = backends.store.clone();
                let log = EventLog::new(store, Arc::clone(&clock));
                let readiness: Arc<dyn Readiness> =
                    Arc::new(AwsReadiness { store: Arc::clone(&backends.store), queries: backends.queries.clone() });
                // Read models fed by the bus have no position in the log to compare; the bus's consumers report
                // their own lag.
                let watch = ReadModelWatch::new(backends.store.clone(), Vec::new());
                (log, backends.store.clone(), backends.read_side(), readiness, None, None, watch)
            }
        };
        let shop = Shop::new(log.clone(), Some(snapshots), Arc::clone(&clock), Arc::new(RandomTicketCodes));
        let shop = shop.with_buckets_per_concert(buckets);
        let shop = match &config.payments {
            Some(payments) => shop.with_payments(Arc::clone(&payments.provider)),
            None => shop,
        };
        let shop = Arc::new(match &config.user_pool_id {
            Some(pool) => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let client = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
                shop.with_directory(Arc::new(ticketing_cognito::CognitoDirectory::new(client, pool)))
            }
            None => shop,
        });
        let documents: Arc<dyn ticketing_app::documents::TicketDocuments> = Arc::new(ticketing_pdf::PdfTickets::new());
        // Hold expiry, refunds and ticket mail follow the log where the bus runs: one process of a shared log is
        // enough.
        if !matches!(config.backends, Backends::Aws { bus: false, .. }) {
            let mailer = config.mail.as_ref().map(|mail| Arc::clone(&mail.0));
            if let Some(mailer) = &mailer {
                let delivery = ticketing_app::TicketDelivery::new();
                let (mailer, documents) = (Arc::clone(mailer), Arc::clone(&documents));
                tasks.spawn(delivery.run(Arc::clone(&shop), log.clone(), mailer, documents, shutdown.clone()));
            }
            let refunds = ticketing_app::CancellationRefunds::new();
            tasks.spawn(refunds.run(Arc::clone(&shop), log.clone(), mailer, shutdown.clone()));
            tasks.spawn(HoldExpiry::new().run(Arc::clone(&shop), log, clock, shutdown.clone()));
        }

        let listener = listen(config.addr).with_context(|| format!("listening on {}", config.addr))?;
        let addr = listener.local_addr()?;
        let api_state = ApiState::new(auth.clone(), Arc::clone(&shop), queries)
            .with_documents(documents)
            .with_shutdown(shutdown.clone())
            .with_readiness(readiness);
        let api_state = match progress {
            Some(progress) => api_state.with_progress(progress),
            None => api_state,
        };
        let api = router(api_state);
        // The pages call the API in-process. Signing users in without an identity provider hands out the organiser's
        // role to whoever asks, so it exists only where the operator asked for it.
        let web = WebState::new(api.clone(), auth.clone());
        let web = match signer.filter(|_| config.dev_sign_in) {
            Some(signer) => web.with_dev_sign_in(signer),
            None => web,
        };
        // Buyers pay by card on the pages with Stripe.js when the shop takes Stripe payments and has its
        // publishable key.
        let web = ticketing_web::router(match config.payments.as_ref().and_then(|payments| payments.web.clone()) {
            Some(stripe) => web.with_stripe(stripe),
            None => web,
        });
        let api = edge::limit_commands(api, auth, limits.commands);
        let app = edge::with_edge(api.merge(web), limits);
        let (stop, limits) = (shutdown.clone(), *limits);
        tasks.spawn(async move { ticketing_api::server::serve(listener, app, &limits, stop).await });
        let operations_addr = match &config.operations {
            Some((addr, prometheus)) => {
                let listener = listen(*addr).with_context(|| format!("listening for operations on {addr}"))?;
                let bound = listener.local_addr()?;
                tasks.spawn(operations::serve(listener, prometheus.clone(), watch, limits, shutdown.clone()));
                Some(bound)
            }
            None => None,
        };
        Ok(Self { addr, operations_addr, shop, sqlite, shutdown, tasks })
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of `/metrics` and `/status`, when they are served.
    pub(crate) fn operations_addr(&self) -> Option<SocketAddr> {
        self.operations_addr
    }

    /// The command side, for seeding.
    pub(crate) fn shop(&self) -> &Arc<Shop> {
        &self.shop
    }

    /// Stops serving, lets running requests and projection batches finish,
    /// then closes the log after its last append is durable.
    pub(crate) async fn stop(mut self) {
        self.shutdown.cancel();
        while let Some(finished) = self.tasks.join_next().await {
            if let Err(error) = finished {
                tracing::error!(%error, "a task of the shop failed while stopping");
            }
        }
        if let Some(store) = self.sqlite {
            store.close().await;
        }
    }
}
