//! `cloudbash rebuild`: builds read models again from the whole log, beside
//! the live ones, and swaps them in when done — a running server keeps
//! serving the old tables until the swap and then continues on the new ones.
//!
//! With `--event-store dynamodb --read-db postgres` it rebuilds the
//! PostgreSQL read models from the DynamoDB log instead, in one transaction
//! (`ticketing_postgres::rebuild`), once the log's indexer has positioned
//! every committed event; carts in DynamoDB are not rebuilt here.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use es_core::{EventLog, SystemClock, rebuild};
use es_dynamodb::{DynamoDbEventStore, Tables};
use indicatif::{ProgressBar, ProgressStyle};
use ticketing_postgres::ReadModel;
use ticketing_sqlite::ReadModels;

use crate::host::open_store;
use crate::serve::{EventStoreKind, ReadDb, StoreArgs};

/// Options of `cloudbash rebuild`.
#[derive(Debug, Args)]
pub(crate) struct RebuildArgs {
    /// Where the log and the read models live.
    #[arg(long, env = "CLOUDBASH_DATA_DIR", default_value = "./cloudbash-data")]
    data_dir: PathBuf,
    /// Rebuild only this read model (default: all).
    #[arg(long)]
    projection: Option<String>,
    #[command(flatten)]
    stores: StoreArgs,
    /// The event table (its log table is `<name>-log`).
    #[arg(long, env = "CLOUDBASH_EVENTS_TABLE", default_value = "cloudbash-events")]
    events_table: String,
}

/// Rebuilds the chosen read models.
pub(crate) async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    match (args.stores.event_store, args.stores.read_db) {
        (EventStoreKind::Sqlite, ReadDb::Sqlite) => rebuild_embedded(args).await,
        (EventStoreKind::Dynamodb, ReadDb::Postgres) => rebuild_postgres(args).await,
        _ => anyhow::bail!("rebuild reads SQLite into SQLite, or DynamoDB into PostgreSQL"),
    }
}

/// The PostgreSQL read models from the DynamoDB log.
async fn rebuild_postgres(args: RebuildArgs) -> anyhow::Result<()> {
    let url = args.stores.database_url()?;
    let models: Vec<ReadModel> = ReadModel::ALL
        .into_iter()
        .filter(|model| args.projection.as_deref().is_none_or(|name| model.name() == name))
        .collect();
    if models.is_empty() {
        anyhow::bail!("no read model is called {:?}", args.projection.unwrap_or_default());
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store =
        Arc::new(DynamoDbEventStore::new(aws_sdk_dynamodb::Client::new(&config), Tables::named(&args.events_table)));
    // The log's order comes from its indexer: let it position everything
    // committed so far, so that the rebuild reads all of it.
    let indexer = crate::aws_host::indexer(&config, Arc::clone(&store)).await?;
    indexer.drain().await.context("positioning the log's latest events")?;
    let pool = ticketing_postgres::connect(url).await.context("connecting to PostgreSQL")?;
    ticketing_postgres::migrate(&pool).await.context("migrating the read models' schema")?;
    let position = ticketing_postgres::rebuild(&pool, &models, &*store).await.context("rebuilding")?;
    let names: Vec<&str> = models.iter().map(|model| model.name()).collect();
    // A reader that went away must not fail a finished rebuild.
    let _ = writeln!(std::io::stdout().lock(), "{} at {position}", names.join(", "));
    Ok(())
}

/// The SQLite read models from the SQLite log, one after the other.
async fn rebuild_embedded(args: RebuildArgs) -> anyhow::Result<()> {
    let store = open_store(&args.data_dir)?;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let projections = ReadModels::open(&store).context("opening the read models")?.rebuildable();
    let chosen: Vec<_> = projections
        .into_iter()
        .filter(|projection| args.projection.as_deref().is_none_or(|name| projection.name() == name))
        .collect();
    if chosen.is_empty() {
        anyhow::bail!("no read model is called {:?}", args.projection.unwrap_or_default());
    }
    for projection in chosen {
        let bar = ProgressBar::new(0).with_message(projection.name().to_owned());
        bar.set_style(
            ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} events ({per_sec})")
                .context("the progress template")?
                .progress_chars("=> "),
        );
        let position = rebuild(&log, &*projection, |position, head| {
            bar.set_length(head.0);
            bar.set_position(position.0);
        })
        .await
        .with_context(|| format!("rebuilding {}", projection.name()))?;
        bar.finish_with_message(format!("{} at {position}", projection.name()));
    }
    store.close().await;
    Ok(())
}
