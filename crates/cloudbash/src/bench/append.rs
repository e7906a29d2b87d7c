//! `append` and `append-batch`: the write path of the log at its busiest.
//! N aggregates receive M events each from W writers; every command loads
//! its aggregate (a cache hit after the first), decides, and appends with
//! its expected version through group commit. `append` writes one event per
//! command, `append-batch` ten, which shows what batching buys per event.

use std::time::{Duration, Instant};

use clap::Args;
use es_core::{AggregateId, CommandContext, EventStore, Position, RepositoryError};

use super::Common;
use super::report::{Latencies, Measurement, Reporter};
use super::workload::{BlockFull, Reserve, fresh_store, seat_blocks};

/// Options of `cloudbash bench append`.
#[derive(Debug, Args)]
pub(crate) struct AppendArgs {
    /// Aggregates written to.
    #[arg(long, default_value_t = 10_000)]
    aggregates: u32,
    /// Events each aggregate receives.
    #[arg(long, default_value_t = 10)]
    events_per_aggregate: u32,
    /// Concurrent writers; each owns an equal share of the aggregates.
    #[arg(long, default_value_t = 64)]
    writers: u32,
}

/// Options of `cloudbash bench append-batch`.
#[derive(Debug, Args)]
pub(crate) struct AppendBatchArgs {
    #[command(flatten)]
    append: AppendArgs,
    /// Events per command.
    #[arg(long, default_value_t = 10)]
    events_per_command: u32,
}

/// Either form, as one workload.
#[derive(Debug)]
pub(super) struct Workload {
    scenario: &'static str,
    aggregates: u32,
    events_per_aggregate: u32,
    writers: u32,
    events_per_command: u32,
}

impl From<AppendArgs> for Workload {
    fn from(args: AppendArgs) -> Self {
        Self {
            scenario: "append",
            aggregates: args.aggregates,
            events_per_aggregate: args.events_per_aggregate,
            writers: args.writers,
            events_per_command: 1,
        }
    }
}

impl From<AppendBatchArgs> for Workload {
    fn from(args: AppendBatchArgs) -> Self {
        Self { scenario: "append-batch", events_per_command: args.events_per_command, ..Self::from(args.append) }
    }
}

/// Runs the workload `--runs` times, each in a fresh log.
pub(super) async fn run(workload: &Workload, common: &Common, reporter: &mut Reporter) -> anyhow::Result<()> {
    anyhow::ensure!(workload.writers >= 1 && workload.aggregates >= 1, "--writers and --aggregates must be positive");
    anyhow::ensure!(
        workload.events_per_command >= 1 && workload.events_per_aggregate.is_multiple_of(workload.events_per_command),
        "--events-per-aggregate must be a multiple of --events-per-command"
    );
    for run in 1..=common.runs {
        let measurement = once(workload, common).await?;
        reporter.record(workload.scenario, run, measurement)?;
    }
    Ok(())
}

async fn once(workload: &Workload, common: &Common) -> anyhow::Result<Measurement> {
    let (_dir, store) = fresh_store(common.sync.durability())?;
    let repository = seat_blocks(&store);
    let aggregates: Vec<AggregateId> = (0..workload.aggregates).map(|_| AggregateId::random()).collect();
    let commands_per_aggregate = workload.events_per_aggregate / workload.events_per_command;
    let started = Instant::now();
    let tasks: Vec<_> = (0..workload.writers)
        .map(|writer| {
            let mine: Vec<AggregateId> =
                aggregates.iter().skip(writer as usize).step_by(workload.writers as usize).copied().collect();
            let repository = repository.clone();
            let seats = workload.events_per_command;
            tokio::spawn(async move {
                let context = CommandContext::default();
                let mut latencies = Vec::with_capacity(mine.len() * commands_per_aggregate as usize);
                // Round after round over its own aggregates, so that consecutive
                // commands of one writer touch different streams.
                for _ in 0..commands_per_aggregate {
                    for aggregate in &mine {
                        let began = Instant::now();
                        repository.execute(*aggregate, Reserve::seats(seats), &context).await?;
                        latencies.push(began.elapsed());
                    }
                }
                Ok::<_, RepositoryError<BlockFull>>(latencies)
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    let events = u64::from(workload.aggregates) * u64::from(workload.events_per_aggregate);
    let head = store.head().await?;
    anyhow::ensure!(head == Position(events), "the log holds {} events, not the {events} acknowledged", head.0);
    let stats = store.stats();
    let commits = stats.commits().max(1) as f64;
    let measurement = Measurement::new(latencies.len() as u64, elapsed, Latencies::of(&mut latencies), "command")
        .with("aggregates", workload.aggregates)
        .with("eventsPerAggregate", workload.events_per_aggregate)
        .with("eventsPerCommand", workload.events_per_command)
        .with("writers", workload.writers)
        .with("events", events)
        .with("eventsPerSec", (super::report::per_second(events, elapsed)).round())
        .with("appendsPerCommit", (stats.appends() as f64 / commits * 10.0).round() / 10.0)
        .with("syncs", stats.syncs());
    store.close().await;
    Ok(measurement)
}
