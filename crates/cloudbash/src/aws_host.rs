//! The shop on the AWS services, in one long-running process (a container
//! host, or a development machine against the local emulators): the log in
//! DynamoDB, the bus fed from the events table's stream, the catalogue,
//! orders, attendees and sales in PostgreSQL, carts in DynamoDB.
//!
//! On Lambda, event source mappings call the forwarder and the projectors;
//! here nothing does, so this process runs them as pollers: the forwarder
//! follows the events table's stream and publishes to the bus (Kinesis or
//! SQS FIFO), and every read model follows the bus with its own poller,
//! keeping its bus positions with its rows. With `--bus dynamodb-streams`
//! the read models follow the table's stream directly and no forwarder runs.
//! The log's indexer follows the table's stream too, giving committed events
//! their positions for `read_all`, subscriptions (hold expiry, the live log)
//! and rebuilds. The stream allows two readers per shard: the indexer, and
//! the forwarder or the read models.

use std::sync::Arc;

use anyhow::Context;
use es_aws_bus::indexer::LogIndexer;
use es_aws_bus::kinesis::{KinesisPoller, KinesisPublisher, StartAt};
use es_aws_bus::publisher::Publisher;
use es_aws_bus::sink::BusSink;
use es_aws_bus::sqs::{SqsFifoPublisher, SqsPoller};
use es_aws_bus::streams::StreamsPoller;
use es_core::{CancellationToken, EventStore};
use es_dynamodb::{DynamoDbEventStore, Tables};
use ticketing_app::queries::ReadSide;
use ticketing_dynamodb::DynamoDbCarts;
use ticketing_postgres::{PostgresQueries, PostgresSink, ReadModel};
use tokio::task::JoinSet;

use crate::aws::{BackendArgs, Bus};

/// Pause between two empty receives of an SQS poller (it long-polls, so
/// this only spaces out failures).
const SQS_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The AWS backends a host composes, opened and checked.
pub(crate) struct AwsBackends {
    pub(crate) store: Arc<DynamoDbEventStore>,
    pub(crate) queries: PostgresQueries,
    sinks: Vec<Arc<dyn BusSink>>,
    carts: Arc<DynamoDbCarts>,
    config: aws_config::SdkConfig,
    args: BackendArgs,
}

/// The names of the read models fed from the bus: one SQS FIFO queue each.
pub(crate) fn subscriber_names() -> Vec<String> {
    std::iter::once(DynamoDbCarts::NAME.to_owned())
        .chain(ReadModel::ALL.iter().map(|model| model.name().to_owned()))
        .collect()
}

impl AwsBackends {
    /// Connects to the services named in `args` and brings the PostgreSQL
    /// schema up to date. Tables, stream and queues must exist (`cloudbash
    /// aws provision` or the deployment template makes them).
    pub(crate) async fn open(args: &BackendArgs, database_url: &str) -> anyhow::Result<Self> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let store = Arc::new(DynamoDbEventStore::new(dynamodb.clone(), Tables::named(&args.events_table)));
        let pool = ticketing_postgres::connect(database_url).await.context("connecting to PostgreSQL")?;
        ticketing_postgres::migrate(&pool).await.context("migrating the read models' schema")?;
        let carts = Arc::new(DynamoDbCarts::new(dynamodb, &args.carts_table));
        let queries = PostgresQueries::new(pool.clone());
        let mut sinks: Vec<Arc<dyn BusSink>> = vec![carts.clone()];
        sinks.extend(ReadModel::ALL.into_iter().map(|model| Arc::new(PostgresSink::new(pool.clone(), model)) as _));
        Ok(Self { store, queries, sinks, carts, config, args: args.clone() })
    }

    /// Every read model's port: carts from DynamoDB, the rest from
    /// PostgreSQL.
    pub(crate) fn read_side(&self) -> ReadSide {
        ReadSide::new(Arc::new(self.queries.clone()), Arc::clone(&self.carts))
    }

    /// Starts the forwarder (unless the read models read the table's stream
    /// directly) and the bus's consumers until `shutdown`: one reader of
    /// each shard for all read models on Kinesis and DynamoDB Streams (their
    /// shards allow few readers), one queue per read model on SQS.
    pub(crate) async fn spawn_bus(&self, tasks: &mut JoinSet<()>, shutdown: &CancellationToken) -> anyhow::Result<()> {
        let log: Arc<dyn EventStore> = self.store.clone();
        let streams = aws_sdk_dynamodbstreams::Client::new(&self.config);
        let stream_arn = self.events_stream_arn().await?;
        tasks.spawn(Arc::new(self.indexer().await?).run(shutdown.clone()));
        let publisher: Arc<dyn Publisher> = match self.args.bus {
            Bus::DynamodbStreams => {
                let poller = StreamsPoller::new(streams, &stream_arn, self.sinks.clone(), log);
                tasks.spawn(Arc::new(poller).run(shutdown.clone()));
                return Ok(());
            }
            Bus::Kinesis => {
                let kinesis = aws_sdk_kinesis::Client::new(&self.config);
                let poller = KinesisPoller::new(
                    kinesis.clone(),
                    &self.args.stream,
                    self.sinks.clone(),
                    log,
                    StartAt::TrimHorizon,
                );
                tasks.spawn(Arc::new(poller).run(shutdown.clone()));
                Arc::new(KinesisPublisher::new(kinesis, &self.args.stream))
            }
            Bus::SqsFifo => {
                let sqs = aws_sdk_sqs::Client::new(&self.config);
                let mut urls = Vec::new();
                for sink in &self.sinks {
                    let url = self.queue_url(&sqs, sink.name()).await?;
                    let poller = SqsPoller::new(sqs.clone(), &url, sink.clone(), log.clone());
                    tasks.spawn(follow_queue(poller, shutdown.clone()));
                    urls.push(url);
                }
                Arc::new(SqsFifoPublisher::new(sqs, urls))
            }
        };
        // The forwarder keeps its place in the stream among the carts table's checkpoints.
        let forwarder = StreamsPoller::forwarding(streams, stream_arn, publisher, self.carts.clone());
        tasks.spawn(Arc::new(forwarder).run(shutdown.clone()));
        Ok(())
    }

    async fn events_stream_arn(&self) -> anyhow::Result<String> {
        events_stream_arn(&self.store).await
    }

    async fn indexer(&self) -> anyhow::Result<StreamsPoller> {
        indexer(&self.config, Arc::clone(&self.store)).await
    }

    async fn queue_url(&self, sqs: &aws_sdk_sqs::Client, subscriber: &str) -> anyhow::Result<String> {
        let name = self.args.queue_name(subscriber);
        let found =
            sqs.get_queue_url().queue_name(&name).send().await.with_context(|| format!("finding queue {name}"))?;
        found.queue_url().map(str::to_owned).with_context(|| format!("queue {name} has no URL"))
    }
}

/// The log's indexer, reading the events table's stream.
pub(crate) async fn indexer(
    config: &aws_config::SdkConfig,
    store: Arc<DynamoDbEventStore>,
) -> anyhow::Result<StreamsPoller> {
    let streams = aws_sdk_dynamodbstreams::Client::new(config);
    let arn = events_stream_arn(&store).await?;
    let log: Arc<dyn EventStore> = store.clone();
    let indexer: Arc<dyn BusSink> = Arc::new(LogIndexer::new(store));
    Ok(StreamsPoller::new(streams, arn, vec![indexer], log).named("indexer"))
}

async fn events_stream_arn(store: &DynamoDbEventStore) -> anyhow::Result<String> {
    let table = &store.tables().events;
    let described = store
        .client()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .with_context(|| format!("describing table {table}"))?;
    described
        .table()
        .and_then(|table| table.latest_stream_arn())
        .map(str::to_owned)
        .with_context(|| format!("table {table} has no stream (provision it with `cloudbash aws provision`)"))
}

/// Consumes an SQS FIFO queue until `shutdown`.
async fn follow_queue(poller: SqsPoller, shutdown: CancellationToken) {
    loop {
        let step = tokio::select! {
            () = shutdown.cancelled() => return,
            step = poller.step(SQS_WAIT) => step,
        };
        if let Err(error) = step {
            tracing::warn!(%error, "consuming a queue failed; retrying");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(SQS_WAIT) => {}
            }
        }
    }
}
