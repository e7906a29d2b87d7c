//! Everything the local shop runs, in one process: the SQLite log, the read
//! models with their runners, the hold-expiry process and the HTTP server
//! with the REST API and the web pages.
//! This is the composition root of the local and container hosts: the only
//! place (with the Lambda functions) that picks backends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use es_core::{CancellationToken, Clock, EventLog, ProjectionRunner, SnapshotStore, SystemClock};
use es_sqlite::{DATABASE_FILE, Durability, SqliteEventStore};
use ticketing_api::auth::{AuthState, LOCAL_ISSUER, LocalSigner, Secret, Verifier};
use ticketing_api::{ApiState, router};
use ticketing_app::{HoldExpiry, RandomTicketCodes, Shop};
use ticketing_sqlite::{ReadModels, SqliteQueries};
use ticketing_web::WebState;
use tokio::task::JoinSet;

/// Where and how the shop runs, read once from the command line.
#[derive(Debug, Clone)]
pub(crate) struct HostConfig {
    /// The address to listen on (port 0 picks a free one).
    pub(crate) addr: SocketAddr,
    /// Holds the log, the read models and the signing secret.
    pub(crate) data_dir: PathBuf,
}

/// A running shop.
pub(crate) struct Host {
    addr: SocketAddr,
    shop: Arc<Shop>,
    store: Arc<SqliteEventStore>,
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

impl Host {
    /// Starts every part and begins serving.
    pub(crate) async fn start(config: &HostConfig) -> anyhow::Result<Self> {
        let store = open_store(&config.data_dir)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let log = EventLog::new(store.clone(), Arc::clone(&clock));
        let snapshots: Arc<dyn SnapshotStore> = store.clone();
        let shop = Arc::new(Shop::new(log.clone(), Some(snapshots), Arc::clone(&clock), Arc::new(RandomTicketCodes)));
        let read_models = ReadModels::open(&store).context("opening the read models")?;
        let queries = SqliteQueries::open(store.path(), &read_models).context("opening the read side")?;
        let secret = Secret::load_or_create(&config.data_dir).context("loading the signing secret")?;
        let auth = AuthState::new(Verifier::new(&secret, LOCAL_ISSUER));
        let signer = LocalSigner::new(&secret, LOCAL_ISSUER);

        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for projection in read_models.projections() {
            let runner = ProjectionRunner::new(log.clone(), projection);
            tasks.spawn(runner.run(shutdown.clone()));
        }
        tasks.spawn(HoldExpiry::new().run(Arc::clone(&shop), log, clock, shutdown.clone()));

        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("listening on {}", config.addr))?;
        let addr = listener.local_addr()?;
        let api_state = ApiState::new(auth.clone(), Arc::clone(&shop))
            .with_queries(Arc::new(queries))
            .with_shutdown(shutdown.clone());
        let api = router(api_state);
        // The pages call the API in-process; local mode has no identity provider, so it signs users in itself.
        let web = ticketing_web::router(WebState::new(api.clone(), auth).with_dev_sign_in(signer));
        let app = api.merge(web);
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::error!(%error, "the HTTP server stopped");
            }
        });
        Ok(Self { addr, shop, store, shutdown, tasks })
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
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
        self.store.close().await;
    }
}
