//! `cloudbash rebuild`: builds read models again from the whole log, beside
//! the live ones, and swaps them in when done — a running server keeps
//! serving the old tables until the swap and then continues on the new ones.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use es_core::{EventLog, SystemClock, rebuild};
use indicatif::{ProgressBar, ProgressStyle};
use ticketing_sqlite::ReadModels;

use crate::host::open_store;

/// Options of `cloudbash rebuild`.
#[derive(Debug, Args)]
pub(crate) struct RebuildArgs {
    /// Where the log and the read models live.
    #[arg(long, env = "CLOUDBASH_DATA_DIR", default_value = "./cloudbash-data")]
    data_dir: PathBuf,
    /// Rebuild only this read model (default: all).
    #[arg(long)]
    projection: Option<String>,
}

/// Rebuilds the chosen read models, one after the other.
pub(crate) async fn run(args: RebuildArgs) -> anyhow::Result<()> {
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
