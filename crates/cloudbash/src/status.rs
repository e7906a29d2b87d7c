//! `cloudbash status`: how far each read model has followed the log, for the
//! person on call. Per read model it prints its position, how many events it
//! is behind the log's head, for how long (the age of the oldest event it
//! has not applied), and its last error.
//!
//! It reads the stores as they are and changes nothing, so it can be run
//! beside a `serve` on the same data directory, or on the directory of a
//! stopped one: the embedded files are opened read-only
//! (`es_sqlite::Inspection`), with no schema applied and no read model
//! built. A read model's last error exists only inside the process running
//! it (`ProjectionStatus`), so read from files it is unknown; with `--url`
//! the figures come from a running process instead, errors included.
//!
//! On the AWS backends (`--event-store dynamodb --read-db postgres`) the
//! read models follow the bus per aggregate and have no position in the
//! log: `status/aws.rs` says what is measured there instead.

mod aws;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use es_core::Position;
use es_sqlite::{DATABASE_FILE, Inspection};
use serde::{Deserialize, Deserializer, Serialize};
use ticketing_sqlite::READ_MODEL_NAMES;

use crate::aws::BackendArgs;
use crate::serve::{EventStoreKind, ReadDb, StoreArgs};

/// How long `--url` waits for the process to answer.
const URL_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of `cloudbash status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Where the log and the read models live.
    #[arg(long, env = "CLOUDBASH_DATA_DIR", default_value = "./cloudbash-data")]
    data_dir: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Ask the running process at this address (`http://host:port`, its `/status`) instead of reading the stores:
    /// its answer includes each read model's last error.
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    stores: StoreArgs,
    #[command(flatten)]
    aws: BackendArgs,
}

/// What `status` found, and what `/status` of a running process answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    /// Where the figures come from; a running process does not say (it is the process).
    #[serde(default)]
    pub(crate) source: Source,
    /// The position of the log's last event.
    pub(crate) head: u64,
    pub(crate) read_models: Vec<ReadModelStatus>,
}

/// One read model's place behind the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReadModelStatus {
    pub(crate) name: String,
    /// The position of the last event applied; `null` where the read model has no place in the log's order.
    #[serde(default)]
    pub(crate) position: Option<u64>,
    /// Events of the log it has not applied.
    pub(crate) lag_events: u64,
    /// How long ago the oldest of them was recorded (0 when caught up).
    pub(crate) lag_seconds: f64,
    /// Its last failure: `null` when none, absent when not known (read from the stores, not from the process).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub(crate) last_error: Option<Option<String>>,
    /// What the figures mean, where that is not plain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// Where a [`Status`] was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Source {
    /// The embedded log and read models' files.
    Files,
    /// A running process's `/status`.
    #[default]
    Process,
    /// The DynamoDB log's index and the PostgreSQL read models.
    Aws,
}

impl Source {
    fn described(self) -> &'static str {
        match self {
            Source::Files => "read from the files",
            Source::Process => "reported by the running process",
            Source::Aws => "read from the DynamoDB log's index and PostgreSQL",
        }
    }

    /// What the last error column says when the error is not known.
    fn unknown_error(self) -> &'static str {
        match self {
            Source::Files => "unknown (read from files)",
            Source::Process => "unknown (not reported)",
            Source::Aws => "unknown (read from the stores)",
        }
    }
}

/// A present JSON value, even `null`, is `Some`: absent is the other `None`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Prints the status of the chosen backends, or of the process at `--url`.
pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let status = match (&args.url, args.stores.event_store, args.stores.read_db) {
        (Some(url), _, _) => from_process(url).await?,
        (None, EventStoreKind::Sqlite, ReadDb::Sqlite) => from_files(&args.data_dir).await?,
        (None, EventStoreKind::Dynamodb, ReadDb::Postgres) => {
            aws::status(&args.aws, args.stores.database_url()?, Utc::now()).await?
        }
        _ => anyhow::bail!("status reads the embedded backends, or DynamoDB with PostgreSQL"),
    };
    let text = if args.json { serde_json::to_string_pretty(&status)? + "\n" } else { render(&status) };
    // A reader that went away is no reason to fail.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// The status of the embedded log and read models in `data_dir`, read without writing.
async fn from_files(data_dir: &Path) -> anyhow::Result<Status> {
    let log = data_dir.join(DATABASE_FILE);
    let now = Utc::now();
    tokio::task::spawn_blocking(move || read_files(&log, now)).await.context("reading the files")?
}

fn read_files(log: &Path, now: DateTime<Utc>) -> anyhow::Result<Status> {
    let inspection = Inspection::open(log).with_context(|| format!("opening {} read-only", log.display()))?;
    // Checkpoints first: the head read after them is at or past each.
    let checkpoints = inspection.checkpoints().context("reading the read models' checkpoints")?;
    let head = inspection.head().context("reading the log's head")?;
    let mut read_models = Vec::with_capacity(READ_MODEL_NAMES.len());
    for name in READ_MODEL_NAMES {
        let found = checkpoints.iter().find(|checkpoint| checkpoint.name == name);
        let position = found.map_or(Position::START, |checkpoint| checkpoint.position);
        let oldest = if position < head { inspection.created_after(position)? } else { None };
        read_models.push(ReadModelStatus {
            name: name.to_owned(),
            position: Some(position.0),
            lag_events: lag_events(head.0, position.0),
            lag_seconds: lag_seconds(now, oldest),
            last_error: None,
            note: found.is_none().then(|| "not in the read models' file yet: serve builds it from the log".to_owned()),
        });
    }
    Ok(Status { source: Source::Files, head: head.0, read_models })
}

/// The status a running process reports at `url` (its `/status`).
async fn from_process(url: &str) -> anyhow::Result<Status> {
    let address = status_url(url);
    let client = reqwest::Client::builder().timeout(URL_TIMEOUT).build()?;
    let response = client.get(&address).send().await.with_context(|| format!("asking {address}"))?;
    let response = response.error_for_status().with_context(|| format!("asking {address}"))?;
    let mut status: Status = response.json().await.with_context(|| format!("reading the answer of {address}"))?;
    status.source = Source::Process;
    Ok(status)
}

/// Where a process at `url` answers its status: `url` itself if it names `/status`, else `/status` under it.
fn status_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/status") { url.to_owned() } else { format!("{url}/status") }
}

/// Events between a read model at `position` and the log's `head`.
pub(crate) fn lag_events(head: u64, position: u64) -> u64 {
    head.saturating_sub(position)
}

/// Seconds since `oldest_unapplied` was recorded (0 without one, and for a
/// time after `now`, which a writer's clock ahead of this one can give).
pub(crate) fn lag_seconds(now: DateTime<Utc>, oldest_unapplied: Option<DateTime<Utc>>) -> f64 {
    let millis = oldest_unapplied.map_or(0, |recorded| (now - recorded).num_milliseconds().max(0));
    // Milliseconds below 2^53 convert exactly.
    millis as f64 / 1_000.0
}

/// The status as a table for people.
pub(crate) fn render(status: &Status) -> String {
    let header = ["READ MODEL", "POSITION", "LAG (EVENTS)", "LAG (SECONDS)", "LAST ERROR"];
    let rows: Vec<[String; 5]> = status
        .read_models
        .iter()
        .map(|model| {
            [
                model.name.clone(),
                model.position.map_or_else(|| "-".to_owned(), |position| position.to_string()),
                model.lag_events.to_string(),
                format!("{:.1}", model.lag_seconds),
                match &model.last_error {
                    Some(Some(error)) => error.clone(),
                    Some(None) => "none".to_owned(),
                    None => status.source.unknown_error().to_owned(),
                },
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| rows.iter().map(|row| row[column].len()).chain([header[column].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: [&str; 5]| {
        let (name, position, events, seconds, error) = (cells[0], cells[1], cells[2], cells[3], cells[4]);
        format!(
            "{name:<w0$}  {position:>w1$}  {events:>w2$}  {seconds:>w3$}  {error}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )
    };
    let mut text = format!("log head: {} ({})\n", status.head, status.source.described());
    text.push_str(&line(header));
    for row in &rows {
        text.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    for model in &status.read_models {
        if let Some(note) = &model.note {
            text.push_str(&format!("{}: {note}\n", model.name));
        }
    }
    text
}

#[cfg(test)]
mod tests;
