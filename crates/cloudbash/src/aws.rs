//! `cloudbash aws provision`: creates what the AWS backends need on the
//! configured endpoint (a development account, or the local emulators), so
//! that `serve` and the tests can run against them. Safe to run twice:
//! whatever exists is left as it is. Production resources come from
//! `deploy/template.yaml` instead.
//!
//! AWS settings come from the standard environment (`AWS_REGION`,
//! `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_<SERVICE>`, credentials).

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;
use clap::{Args, Subcommand, ValueEnum};
use es_dynamodb::{Tables, create_tables};
use ticketing_dynamodb::create_carts_table;

/// `cloudbash aws …`.
#[derive(Debug, Args)]
pub(crate) struct AwsArgs {
    #[command(subcommand)]
    command: AwsCommand,
}

#[derive(Debug, Subcommand)]
enum AwsCommand {
    /// Creates the tables, stream or queues the chosen backends need. Takes
    /// every flag `serve` takes, so that one flag list serves both; it uses
    /// the AWS ones.
    Provision(crate::serve::ServeArgs),
}

/// The event bus between the log and the read models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Bus {
    /// The events table's stream forwarded to Kinesis (the seed's choice).
    Kinesis,
    /// The events table's stream forwarded to one SQS FIFO queue per
    /// subscriber.
    SqsFifo,
    /// The events table's stream, read directly.
    DynamodbStreams,
}

/// The backends and their names, as `serve` and `provision` take them.
#[derive(Clone, Debug, Args)]
pub(crate) struct BackendArgs {
    /// The event table (its log table is `<name>-log`).
    #[arg(long, env = "CLOUDBASH_EVENTS_TABLE", default_value = "cloudbash-events")]
    pub(crate) events_table: String,
    /// The bus between the log and the read models.
    #[arg(long, value_enum, env = "CLOUDBASH_BUS", default_value = "kinesis")]
    pub(crate) bus: Bus,
    /// The Kinesis stream, or the prefix of the SQS FIFO queues.
    #[arg(long, env = "CLOUDBASH_STREAM", default_value = "cloudbash-events")]
    pub(crate) stream: String,
    /// Shards of a new Kinesis stream.
    #[arg(long, default_value_t = 2)]
    shards: i32,
    /// Subscribers of the bus; with SQS FIFO each gets its own queue.
    /// Default: every read model `serve` feeds from the bus.
    #[arg(long, value_delimiter = ',')]
    subscribers: Option<Vec<String>>,
    /// The carts read model's table.
    #[arg(long, env = "CLOUDBASH_CARTS_TABLE", default_value = "cloudbash-carts")]
    pub(crate) carts_table: String,
}

impl BackendArgs {
    /// The bus's subscribers: as given, or every read model of `serve`.
    fn subscribers(&self) -> Vec<String> {
        self.subscribers.clone().unwrap_or_else(crate::aws_host::subscriber_names)
    }

    /// The SQS FIFO queue of one subscriber.
    pub(crate) fn queue_name(&self, subscriber: &str) -> String {
        format!("{}-{subscriber}.fifo", self.stream)
    }
}

/// Runs `cloudbash aws …`.
pub(crate) async fn run(args: AwsArgs) -> anyhow::Result<()> {
    match args.command {
        AwsCommand::Provision(serve) => provision(serve.backend_args()).await,
    }
}

async fn provision(args: &BackendArgs) -> anyhow::Result<()> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let mut out = std::io::stdout().lock();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let tables = Tables::named(&args.events_table);
    create_tables(&dynamodb, &tables).await.context("creating the log's tables")?;
    let _ = writeln!(out, "tables {}, {} and {}: ready", tables.events, tables.log, tables.index);
    create_carts_table(&dynamodb, &args.carts_table).await.context("creating the carts table")?;
    let _ = writeln!(out, "table {}: ready", args.carts_table);
    match args.bus {
        Bus::Kinesis => {
            let kinesis = aws_sdk_kinesis::Client::new(&config);
            create_stream(&kinesis, &args.stream, args.shards).await?;
            let _ = writeln!(out, "stream {}: ready", args.stream);
        }
        Bus::SqsFifo => {
            let sqs = aws_sdk_sqs::Client::new(&config);
            for subscriber in &args.subscribers() {
                let name = args.queue_name(subscriber);
                // CreateQueue with the same attributes returns the existing queue.
                sqs.create_queue()
                    .queue_name(&name)
                    .attributes(QueueAttributeName::FifoQueue, "true")
                    .send()
                    .await
                    .with_context(|| format!("creating queue {name}"))?;
                let _ = writeln!(out, "queue {name}: ready");
            }
        }
        Bus::DynamodbStreams => {
            let _ = writeln!(out, "bus: the stream of {} (nothing to create)", tables.events);
        }
    }
    Ok(())
}

async fn create_stream(kinesis: &aws_sdk_kinesis::Client, stream: &str, shards: i32) -> anyhow::Result<()> {
    let created = kinesis.create_stream().stream_name(stream).shard_count(shards).send().await;
    if let Err(error) = created
        && error.code() != Some("ResourceInUseException")
    {
        return Err(anyhow::Error::new(error).context(format!("creating stream {stream}")));
    }
    for _ in 0..600 {
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .with_context(|| format!("describing stream {stream}"))?;
        let active = summary
            .stream_description_summary()
            .is_some_and(|summary| summary.stream_status() == &aws_sdk_kinesis::types::StreamStatus::Active);
        if active {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("stream {stream} did not become active within two minutes")
}
