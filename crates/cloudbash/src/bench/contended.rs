//! `contended`: many writers on a few hot aggregates — the shape of a flash
//! sale on the log alone. Within one command side, commands on one aggregate
//! take turns and conflicts cannot happen; with `--repositories R` the
//! writers are spread over R command sides with caches and turns of their
//! own, as R processes sharing the log would be, and the version checks
//! turn their races into conflicts and retries, which are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use es_core::{AggregateId, CommandContext, EventStore, Position, Repository, RepositoryError, limits};

use super::Common;
use super::report::{Latencies, Measurement, Reporter};
use super::workload::{Reserve, SeatBlock, fresh_store, seat_blocks};

/// Options of `cloudbash bench contended`.
#[derive(Debug, Args)]
pub(crate) struct ContendedArgs {
    /// Concurrent writers.
    #[arg(long, default_value_t = 64)]
    writers: u32,
    /// Hot aggregates the writers share.
    #[arg(long, default_value_t = 1)]
    hot: u32,
    /// Commands in total.
    #[arg(long, default_value_t = 20_000)]
    commands: u64,
    /// Independent command sides (caches and turns), as separate processes.
    #[arg(long, default_value_t = 1)]
    repositories: u32,
}

/// Runs the workload `--runs` times, each in a fresh log.
pub(super) async fn run(args: &ContendedArgs, common: &Common, reporter: &mut Reporter) -> anyhow::Result<()> {
    anyhow::ensure!(args.writers >= 1 && args.hot >= 1 && args.repositories >= 1, "counts must be positive");
    for run in 1..=common.runs {
        let measurement = once(args, common).await?;
        reporter.record("contended", run, measurement)?;
    }
    Ok(())
}

/// What one writer saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    gave_up: u64,
}

async fn once(args: &ContendedArgs, common: &Common) -> anyhow::Result<Measurement> {
    let (_dir, store) = fresh_store(common.sync.durability())?;
    let repositories: Vec<Repository<SeatBlock>> = (0..args.repositories).map(|_| seat_blocks(&store)).collect();
    let hot: Arc<[AggregateId]> = (0..args.hot).map(|_| AggregateId::random()).collect();
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.writers)
        .map(|writer| {
            let repository = repositories[(writer % args.repositories) as usize].clone();
            let (hot, issued, commands) = (Arc::clone(&hot), Arc::clone(&issued), args.commands);
            tokio::spawn(async move {
                let context = CommandContext::default();
                let mut tally = Tally::default();
                loop {
                    let number = issued.fetch_add(1, Ordering::Relaxed);
                    if number >= commands {
                        return Ok(tally);
                    }
                    let aggregate = hot[(number % hot.len() as u64) as usize];
                    let began = Instant::now();
                    match repository.execute(aggregate, Reserve::seats(1), &context).await {
                        Ok(_) => tally.latencies.push(began.elapsed()),
                        Err(RepositoryError::TooManyConflicts(_)) => tally.gave_up += 1,
                        Err(other) => return Err(other),
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut gave_up = 0;
    for task in tasks {
        let tally = task.await??;
        latencies.extend(tally.latencies);
        gave_up += tally.gave_up;
    }
    let elapsed = started.elapsed();
    let committed = latencies.len() as u64;
    let head = store.head().await?;
    anyhow::ensure!(head == Position(committed), "the log holds {} events, {committed} were acknowledged", head.0);
    let stats = store.stats();
    let measurement = Measurement::new(committed, elapsed, Latencies::of(&mut latencies), "command")
        .with("writers", args.writers)
        .with("hot", args.hot)
        .with("repositories", args.repositories)
        .with("appends", stats.appends())
        .with("conflicts", stats.conflicts())
        .with("gaveUp", gave_up)
        .with("attemptsMax", limits::COMMAND_ATTEMPTS_MAX);
    store.close().await;
    Ok(measurement)
}
