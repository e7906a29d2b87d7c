//! `replay`: how fast a projection is rebuilt from the whole log — every
//! event read in commit order, decoded into its domain type and folded into
//! an in-memory projection by the same runner that keeps read models
//! current. The raw read rate (rows into records, no decoding) is reported
//! beside it, to show what the fold adds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use es_core::memory::MemoryProjection;
use es_core::{
    AggregateId, AppendRequest, DomainEvent, EventId, EventLog, EventStore, ExpectedVersion, Metadata, NewEvent,
    Position, ProjectionRunner, SystemClock, Version, limits,
};
use es_sqlite::{Durability, SqliteEventStore};

use super::Common;
use super::report::{Latencies, Measurement, Reporter, per_second};
use super::workload::{Reserve, SeatBlock, SeatEvent, fresh_store};

/// Options of `cloudbash bench replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Events in the log.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Aggregates the events are spread over.
    #[arg(long, default_value_t = 10_000)]
    aggregates: u64,
}

/// Events per append while filling the log.
const FILL_EVENTS_PER_APPEND: u64 = 50;

/// Fills one log, then replays it `--runs` times.
pub(super) async fn run(args: &ReplayArgs, common: &Common, reporter: &mut Reporter) -> anyhow::Result<()> {
    anyhow::ensure!(args.aggregates >= 1, "--aggregates must be positive");
    // Replay reads; how the log was synced when written does not matter.
    let (_dir, store) = fresh_store(Durability::Normal)?;
    fill(&store, args.events, args.aggregates).await?;
    let head = store.head().await?;
    anyhow::ensure!(head == Position(args.events), "the log holds {} events, not {}", head.0, args.events);
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    for run in 1..=common.runs {
        let (raw_per_second, mut pages) = raw_read(&store, head).await?;
        let projection = Arc::new(MemoryProjection::new("seats", |totals: &mut Totals, record| {
            let SeatEvent::SeatReserved { seat, .. } =
                SeatEvent::from_record(record).map_err(|error| error.to_string())?;
            *totals.per_aggregate.entry(record.aggregate_id).or_default() += 1;
            totals.last_seat = totals.last_seat.max(seat);
            totals.events += 1;
            Ok(())
        }));
        let runner = ProjectionRunner::new(log.clone(), projection.clone()).with_batch_size(limits::READ_PAGE_MAX);
        let started = Instant::now();
        let reached = runner.catch_up().await?;
        let elapsed = started.elapsed();
        let (applied, aggregates) = projection.read(|totals| (totals.events, totals.per_aggregate.len()));
        anyhow::ensure!(reached == head && applied == head.0, "the replay applied {applied} of {} events", head.0);
        let measurement = Measurement::new(applied, elapsed, Latencies::of(&mut pages), "raw read of one page")
            .with("events", applied)
            .with("aggregates", aggregates as u64)
            .with("pageEvents", limits::READ_PAGE_MAX)
            .with("rawEventsPerSec", raw_per_second.round())
            .with("sync", "n/a");
        reporter.record("replay", run, measurement)?;
    }
    store.close().await;
    Ok(())
}

#[derive(Default)]
struct Totals {
    per_aggregate: HashMap<AggregateId, u64>,
    last_seat: u32,
    events: u64,
}

/// Reads the whole log without decoding; the rate and each page's latency.
async fn raw_read(store: &SqliteEventStore, head: Position) -> anyhow::Result<(f64, Vec<std::time::Duration>)> {
    let mut pages = Vec::new();
    let mut position = Position::START;
    let mut count = 0_u64;
    let started = Instant::now();
    loop {
        let began = Instant::now();
        let page = store.read_all(position, limits::READ_PAGE_MAX).await?;
        let Some(last) = page.last() else { break };
        pages.push(began.elapsed());
        position = last.position;
        count += page.len() as u64;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(count == head.0, "the raw read found {count} of {} events", head.0);
    Ok((per_second(count, elapsed), pages))
}

/// Appends `events` seat reservations spread evenly over `aggregates`
/// aggregates, by 64 writers that each own a share of the aggregates.
pub(super) async fn fill(store: &Arc<SqliteEventStore>, events: u64, aggregates: u64) -> anyhow::Result<()> {
    const WRITERS: u64 = 64;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let samples: Arc<[NewEvent]> =
        es_core::Aggregate::decide(&SeatBlock::default(), &Reserve::seats(FILL_EVENTS_PER_APPEND as u32))?
            .iter()
            .map(|event| log.encode(event, &Metadata::default()))
            .collect::<Result<_, _>>()?;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS.min(aggregates) {
        // Aggregate `i` receives `events / aggregates` events, one more for the first remainder.
        let mine: Vec<(AggregateId, u64)> = (writer..aggregates)
            .step_by(WRITERS as usize)
            .map(|index| (AggregateId::random(), events / aggregates + u64::from(index < events % aggregates)))
            .collect();
        let (store, samples) = (Arc::clone(store), Arc::clone(&samples));
        writers.spawn(async move {
            let mut written = vec![0_u64; mine.len()];
            loop {
                let mut progressed = false;
                for ((aggregate, total), done) in mine.iter().zip(written.iter_mut()) {
                    let count = (total - *done).min(FILL_EVENTS_PER_APPEND);
                    if count == 0 {
                        continue;
                    }
                    let batch = samples[..count as usize]
                        .iter()
                        .map(|sample| NewEvent { event_id: EventId::random(), ..sample.clone() })
                        .collect();
                    let expected = ExpectedVersion::Exact(Version(*done));
                    store.append(AppendRequest::single(*aggregate, expected, batch)).await?;
                    *done += count;
                    progressed = true;
                }
                if !progressed {
                    return Ok::<_, es_core::AppendError>(());
                }
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    Ok(())
}
