//! `cloudbash bench`: the event log's figures on this machine.
//!
//! Every workload runs the real command path — repository, encode, group
//! commit into SQLite with the chosen durability — in a fresh temporary
//! database:
//! - **append**: W writers on distinct aggregates, one event per command;
//! - **contended**: W writers on one aggregate, retrying conflicts;
//! - **replay**: read the whole log and fold it into an in-memory projection
//!   (decoding every event), plus the raw read rate for comparison.
//!
//! Figures are printed as a Markdown table, medians over `--runs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use es_core::memory::MemoryProjection;
use es_core::{
    Aggregate, AggregateId, AppendRequest, CommandContext, DomainEvent, EventLog, EventStore, ExpectedVersion,
    Metadata, Position, ProjectionRunner, Repository, RepositoryError, SystemClock, Version, decode_adjacent,
    encode_adjacent, limits,
};
use es_sqlite::{Durability, SqliteEventStore};
use serde::{Deserialize, Serialize};

/// Options of `cloudbash bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Writer counts for the append workload.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    writers: Vec<u32>,
    /// Commands per append run (split over the writers).
    #[arg(long, default_value_t = 60_000)]
    commands: u64,
    /// Writers fighting over one aggregate in the contended workload.
    #[arg(long, default_value_t = 16)]
    contended_writers: u32,
    /// Commands in the contended workload.
    #[arg(long, default_value_t = 2_000)]
    contended_commands: u64,
    /// Events in the log for the replay workload.
    #[arg(long, default_value_t = 1_000_000)]
    replay_events: u64,
    /// Runs per workload; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Sync mode of the log: full (durable per acknowledged append) or normal.
    #[arg(long, value_enum, default_value_t = SyncMode::Full)]
    sync: SyncMode,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SyncMode {
    Full,
    Normal,
}

impl From<SyncMode> for Durability {
    fn from(mode: SyncMode) -> Self {
        match mode {
            SyncMode::Full => Durability::Full,
            SyncMode::Normal => Durability::Normal,
        }
    }
}

/// A counter: the smallest aggregate with a rule (a cap) to check.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Counter {
    value: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum CounterEvent {
    Incremented { by: u64 },
}

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> &'static str {
        "Incremented"
    }

    fn encode(&self) -> Result<String, es_core::CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, es_core::CodecError> {
        decode_adjacent(event_type, data)
    }
}

impl Aggregate for Counter {
    const KIND: &'static str = "counter";
    type Event = CounterEvent;
    type Command = u64;
    type Error = std::convert::Infallible;

    fn decide(&self, by: &u64) -> Result<Vec<CounterEvent>, Self::Error> {
        Ok(vec![CounterEvent::Incremented { by: *by }])
    }

    fn evolve(&mut self, event: &CounterEvent) {
        match event {
            CounterEvent::Incremented { by } => self.value += by,
        }
    }
}

/// One measured run.
#[derive(Clone, Debug)]
struct Sample {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    note: String,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

fn median(mut samples: Vec<Sample>) -> (Sample, f64, f64) {
    samples.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    let low = samples.first().map_or(0.0, |sample| sample.per_second);
    let high = samples.last().map_or(0.0, |sample| sample.per_second);
    (samples[samples.len() / 2].clone(), low, high)
}

fn fresh_store(durability: Durability) -> anyhow::Result<(tempfile::TempDir, Arc<SqliteEventStore>)> {
    let dir = tempfile::Builder::new().prefix("cloudbash-bench").tempdir()?;
    let store = SqliteEventStore::open(dir.path().join("bench.db"), durability).context("opening the bench log")?;
    Ok((dir, Arc::new(store)))
}

fn repository(store: &Arc<SqliteEventStore>) -> Repository<Counter> {
    Repository::new(EventLog::new(store.clone(), Arc::new(SystemClock)))
}

/// W writers, each on its own aggregates, one event per command.
async fn append_run(durability: Durability, writers: u32, commands: u64) -> anyhow::Result<Sample> {
    let (_dir, store) = fresh_store(durability)?;
    let repository = repository(&store);
    let per_writer = commands / u64::from(writers);
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let repository = repository.clone();
            tokio::spawn(async move {
                let aggregates: Vec<AggregateId> = (0..10).map(|_| AggregateId::random()).collect();
                let context = CommandContext::default();
                let mut latencies = Vec::with_capacity(per_writer as usize);
                for n in 0..per_writer {
                    let began = Instant::now();
                    repository.execute(aggregates[n as usize % aggregates.len()], &1, &context).await?;
                    latencies.push(began.elapsed());
                }
                Ok::<_, RepositoryError<std::convert::Infallible>>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(commands as usize);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let stats = store.stats();
    Ok(Sample {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        note: sharing(stats),
    })
}

/// How many appends shared a transaction and a sync of the WAL.
fn sharing(stats: &es_sqlite::WriterStats) -> String {
    let per_commit = stats.appends() as f64 / stats.commits().max(1) as f64;
    match stats.syncs() {
        0 => format!("{per_commit:.1} appends per commit"),
        syncs => format!("{per_commit:.1} appends per commit, {:.1} per sync", stats.appends() as f64 / syncs as f64),
    }
}

/// W writers on one aggregate, each command retried on conflict.
async fn contended_run(durability: Durability, writers: u32, commands: u64) -> anyhow::Result<Sample> {
    let (_dir, store) = fresh_store(durability)?;
    let repository = repository(&store);
    let aggregate = AggregateId::random();
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let repository = repository.clone();
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let context = CommandContext::default();
                let mut latencies = Vec::new();
                let mut gave_up = 0_u64;
                while done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < commands {
                    let began = Instant::now();
                    match repository.execute(aggregate, &1, &context).await {
                        Ok(_) => latencies.push(began.elapsed()),
                        Err(RepositoryError::TooManyConflicts(_)) => gave_up += 1,
                        Err(other) => return Err(other),
                    }
                }
                Ok((latencies, gave_up))
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut gave_up = 0;
    for task in tasks {
        let (mine, failed) = task.await??;
        latencies.extend(mine);
        gave_up += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let stats = store.stats();
    let final_version = repository.refresh(aggregate).await?.version;
    anyhow::ensure!(final_version.0 == latencies.len() as u64, "acknowledged commands and stream length differ");
    Ok(Sample {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        note: format!(
            "{:.1} append attempts per command, {gave_up} gave up after {} attempts",
            stats.appends() as f64 / latencies.len().max(1) as f64,
            limits::COMMAND_ATTEMPTS_MAX
        ),
    })
}

/// Fills a log with `events` events over 10,000 aggregates.
async fn fill(store: &Arc<SqliteEventStore>, events: u64) -> anyhow::Result<()> {
    const AGGREGATES: u64 = 10_000;
    const PER_APPEND: u64 = 50;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let rounds = events / (AGGREGATES * PER_APPEND).max(1);
    let per_round_aggregates = if rounds == 0 { events / PER_APPEND } else { AGGREGATES };
    let aggregates: Vec<AggregateId> = (0..per_round_aggregates).map(|_| AggregateId::random()).collect();
    let event = log.encode(&CounterEvent::Incremented { by: 1 }, &Metadata::default())?;
    for round in 0..rounds.max(1) {
        let tasks: Vec<_> = aggregates
            .chunks(aggregates.len().div_ceil(64).max(1))
            .map(|chunk| {
                let store = Arc::clone(store);
                let chunk = chunk.to_vec();
                let event = event.clone();
                tokio::spawn(async move {
                    for aggregate in chunk {
                        let events = (0..PER_APPEND)
                            .map(|_| es_core::NewEvent { event_id: es_core::EventId::random(), ..event.clone() })
                            .collect();
                        let expected = ExpectedVersion::Exact(Version(round * PER_APPEND));
                        store.append(AppendRequest::single(aggregate, expected, events)).await?;
                    }
                    Ok::<_, es_core::AppendError>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
    }
    Ok(())
}

/// Replays the whole log: raw reads, and a fold into an in-memory projection.
async fn replay_runs(events: u64, runs: usize) -> anyhow::Result<(Vec<Sample>, Vec<Sample>)> {
    let (_dir, store) = fresh_store(Durability::Normal)?;
    fill(&store, events).await?;
    let head = store.head().await?;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let mut raw = Vec::new();
    let mut folded = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut position = Position::START;
        let mut count = 0_u64;
        loop {
            let page = store.read_all(position, limits::READ_PAGE_MAX).await?;
            let Some(last) = page.last() else { break };
            position = last.position;
            count += page.len() as u64;
        }
        let elapsed = started.elapsed();
        anyhow::ensure!(count == head.0, "raw replay read {count} of {} events", head.0);
        raw.push(Sample {
            per_second: count as f64 / elapsed.as_secs_f64(),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            note: format!("{count} events"),
        });

        let projection = Arc::new(MemoryProjection::new("totals", |totals: &mut Totals, record| {
            let CounterEvent::Incremented { by } =
                CounterEvent::from_record(record).map_err(|error| error.to_string())?;
            *totals.per_aggregate.entry(record.aggregate_id).or_default() += by;
            totals.events += 1;
            Ok(())
        }));
        let runner = ProjectionRunner::new(log.clone(), projection.clone()).with_batch_size(limits::READ_PAGE_MAX);
        let started = Instant::now();
        let reached = runner.catch_up().await?;
        let elapsed = started.elapsed();
        let applied = projection.read(|totals| totals.events);
        anyhow::ensure!(reached == head && applied == head.0, "projection replay applied {applied} of {}", head.0);
        folded.push(Sample {
            per_second: applied as f64 / elapsed.as_secs_f64(),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            note: format!("{applied} events decoded and folded"),
        });
    }
    Ok((raw, folded))
}

#[derive(Default)]
struct Totals {
    per_aggregate: std::collections::HashMap<AggregateId, u64>,
    events: u64,
}

fn row(workload: &str, samples: Vec<Sample>, unit: &str) {
    let runs = samples.len();
    let (median, low, high) = median(samples);
    let latency = if median.p50.is_zero() {
        "–".to_owned()
    } else {
        format!("{:.2} / {:.2}", median.p50.as_secs_f64() * 1e3, median.p99.as_secs_f64() * 1e3)
    };
    #[allow(clippy::print_stdout)]
    {
        println!(
            "| {workload} | {:.0} {unit} ({low:.0}–{high:.0}, {runs} runs) | {latency} | {} |",
            median.per_second, median.note
        );
    }
}

/// Runs every workload and prints the table.
pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let durability = Durability::from(args.sync);
    #[allow(clippy::print_stdout)]
    {
        println!("Event log on SQLite, synchronous={:?}; median (min–max) over runs.\n", args.sync);
        println!("| workload | throughput | p50 / p99 ms | notes |");
        println!("|---|---|---|---|");
    }
    for &writers in &args.writers {
        let mut samples = Vec::new();
        for _ in 0..args.runs {
            samples.push(append_run(durability, writers, args.commands).await?);
        }
        row(&format!("append, {writers} writers, distinct aggregates"), samples, "commands/s");
    }
    let mut samples = Vec::new();
    for _ in 0..args.runs {
        samples.push(contended_run(durability, args.contended_writers, args.contended_commands).await?);
    }
    row(&format!("contended, {} writers, one aggregate", args.contended_writers), samples, "commands/s");
    let (raw, folded) = replay_runs(args.replay_events, args.runs).await?;
    row("replay, raw read_all", raw, "events/s");
    row("replay into a projection", folded, "events/s");
    Ok(())
}
