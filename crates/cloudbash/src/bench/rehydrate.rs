//! `rehydrate`: what a cold load of an aggregate costs — no state in the
//! process, so the repository reads the log (and its snapshot, when
//! snapshots are on, as they are in `cloudbash serve`) — for a concert with
//! 10 events and one with 100,000 (a sold-out flash sale). Command latency
//! must not grow with stream length; this shows whether it does.
//!
//! Each load uses a fresh repository, so nothing is cached in the process;
//! SQLite's and the operating system's page caches stay warm, as they are
//! in a running server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use es_core::{
    Aggregate, AggregateId, AppendRequest, EventLog, EventStore, ExpectedVersion, Metadata, NewEvent, Repository,
    Snapshot, SnapshotStore, SystemClock, Version, limits,
};
use es_sqlite::{Durability, SqliteEventStore};
use ticketing::{
    Capacity, CartId, Concert, ConcertCommand, ConcertId, Currency, HoldId, HoldRequest, Money, Name, NewConcert,
    OrderId, Quantity, TicketTypeId, VenueId,
};

use clap::Args;
use uuid::Uuid;

use super::Common;
use super::report::{Latencies, Measurement, Reporter, millis};
use super::workload::fresh_store;

/// Options of `cloudbash bench rehydrate`.
#[derive(Debug, Args)]
pub(crate) struct RehydrateArgs {
    /// Events of the short concert.
    #[arg(long, default_value_t = 10)]
    short_events: u64,
    /// Events of the long concert.
    #[arg(long, default_value_t = 100_000)]
    long_events: u64,
    /// Cold loads per concert and snapshot setting.
    #[arg(long, default_value_t = 1_000)]
    loads: u32,
}

/// Events a concert has before its first hold: created, a ticket type,
/// scheduled, published.
const SETUP_EVENTS: u64 = 4;

/// Loads of one variant stop after this long, once [`LOADS_MIN`] are taken.
const VARIANT_SECONDS_MAX: Duration = Duration::from_secs(5);

/// Loads taken whatever the time, so that the 99th percentile means something.
const LOADS_MIN: usize = 100;

/// Writes both concerts once, then measures `--runs` times.
pub(super) async fn run(args: &RehydrateArgs, common: &Common, reporter: &mut Reporter) -> anyhow::Result<()> {
    anyhow::ensure!(args.short_events >= SETUP_EVENTS && args.long_events >= SETUP_EVENTS, "a concert needs 4 events");
    anyhow::ensure!(args.loads >= 1, "--loads must be positive");
    let (_dir, store) = fresh_store(Durability::Normal)?;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let short = write_concert(&store, &log, args.short_events).await?;
    let long = write_concert(&store, &log, args.long_events).await?;
    for run in 1..=common.runs {
        for snapshots in [true, false] {
            let mut short_p99 = Duration::ZERO;
            for (concert, events) in [(short, args.short_events), (long, args.long_events)] {
                let (measurement, p99) = measure(&store, &log, concert, snapshots, args.loads).await?;
                let mut measurement = measurement
                    .with("variant", format!("{events} events, snapshots {}", if snapshots { "on" } else { "off" }))
                    .with("events", events)
                    .with("snapshots", if snapshots { "on" } else { "off" })
                    .with("snapshotEvery", limits::SNAPSHOT_EVERY_EVENTS)
                    .with("sync", "n/a");
                if events == args.short_events {
                    short_p99 = p99;
                } else {
                    let ratio = millis(p99) / millis(short_p99).max(0.001);
                    measurement = measurement.with("p99RatioToShort", (ratio * 100.0).round() / 100.0);
                }
                reporter.record("rehydrate", run, measurement)?;
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn measure(
    store: &Arc<SqliteEventStore>,
    log: &EventLog,
    concert: ConcertId,
    snapshots: bool,
    loads: u32,
) -> anyhow::Result<(Measurement, Duration)> {
    let mut latencies = Vec::with_capacity(loads as usize);
    let mut version = Version::INITIAL;
    let started = Instant::now();
    for _ in 0..loads {
        // Without snapshots a long stream takes a while; enough loads for a
        // p99 are taken within the budget.
        if latencies.len() >= LOADS_MIN && started.elapsed() > VARIANT_SECONDS_MAX {
            break;
        }
        let repository: Repository<Concert> = if snapshots {
            Repository::with_snapshots(log.clone(), store.clone())
        } else {
            Repository::new(log.clone())
        };
        let began = Instant::now();
        let loaded = repository.load(concert.into()).await?;
        latencies.push(began.elapsed());
        version = loaded.version;
    }
    let elapsed = started.elapsed();
    let count = latencies.len() as u64;
    let latencies = Latencies::of(&mut latencies);
    let measurement = Measurement::new(count, elapsed, latencies, "cold load").with("version", version.0);
    Ok((measurement, latencies.p99()))
}

/// A published concert whose stream has exactly `events` events: after the
/// setup, tickets are held and sold one by one, as in a flash sale. Its
/// latest snapshot lags the head by up to [`limits::SNAPSHOT_EVERY_EVENTS`]
/// events, the most a repository lets it lag.
async fn write_concert(store: &Arc<SqliteEventStore>, log: &EventLog, events: u64) -> anyhow::Result<ConcertId> {
    let concert_id = ConcertId::from(AggregateId::random());
    let now = Utc::now();
    let mut state = Concert::default();
    let mut pending: Vec<NewEvent> = Vec::new();
    let mut version = Version::INITIAL;
    let snapshot_at = (events.saturating_sub(1) / limits::SNAPSHOT_EVERY_EVENTS) * limits::SNAPSHOT_EVERY_EVENTS;
    let mut script = Script::new(now, events)?;
    while version.0 + (pending.len() as u64) < events {
        let command = script.next_command();
        for event in state.decide(&command).context("the scripted command is accepted")? {
            state.evolve(&event);
            pending.push(log.encode(&event, &Metadata::default())?);
            let written = version.0 + pending.len() as u64;
            if pending.len() == limits::EVENTS_PER_APPEND_MAX || written == events || written == snapshot_at {
                let batch = std::mem::take(&mut pending);
                store.append(AppendRequest::single(concert_id.into(), ExpectedVersion::Exact(version), batch)).await?;
                version = Version(written);
            }
            if written == snapshot_at && snapshot_at > 0 {
                let snapshot = Snapshot {
                    aggregate_id: concert_id.into(),
                    kind: Concert::KIND.to_owned(),
                    version,
                    shape_version: Concert::SHAPE_VERSION,
                    state: serde_json::to_string(&state)?,
                };
                store.save_snapshot(snapshot).await?;
            }
        }
    }
    anyhow::ensure!(version.0 == events, "wrote {} events instead of {events}", version.0);
    Ok(concert_id)
}

/// The commands of a concert's life, one at a time.
struct Script {
    now: DateTime<Utc>,
    ticket_type_id: TicketTypeId,
    name: Name,
    capacity: Capacity,
    price: Money,
    quantity: Quantity,
    one: Quantity,
    step: u64,
    hold: Option<HoldId>,
}

impl Script {
    fn new(now: DateTime<Utc>, events: u64) -> anyhow::Result<Self> {
        // One ticket sold per two events; the quantity must cover them all.
        let quantity = u32::try_from(events / 2 + 1)?.min(ticketing::limits::VENUE_CAPACITY_MAX);
        Ok(Self {
            now,
            ticket_type_id: TicketTypeId(Uuid::now_v7()),
            name: Name::new("Rehydration")?,
            capacity: Capacity::new(quantity)?,
            price: Money::new(2_500, Currency::new("EUR")?),
            quantity: Quantity::new(quantity)?,
            one: Quantity::new(1)?,
            step: 0,
            hold: None,
        })
    }

    fn next_command(&mut self) -> ConcertCommand {
        self.step += 1;
        let now = self.now;
        let starts_at = now + chrono::Duration::days(365);
        match self.step {
            1 => ConcertCommand::Create(NewConcert {
                name: self.name.clone(),
                venue_id: VenueId(Uuid::now_v7()),
                venue_capacity: self.capacity,
                profile: ticketing::ConcertProfile::default(),
            }),
            2 => ConcertCommand::AddTicketType {
                ticket_type_id: self.ticket_type_id,
                name: self.name.clone(),
                price: self.price,
                quantity: self.quantity,
            },
            3 => ConcertCommand::Schedule { starts_at, ends_at: starts_at + chrono::Duration::hours(3), now },
            4 => ConcertCommand::Publish { now, buckets: 0 },
            _ => match self.hold.take() {
                Some(hold_id) => {
                    ConcertCommand::SellHeldTickets { hold_ids: vec![hold_id], order_id: OrderId(Uuid::now_v7()), now }
                }
                None => {
                    let hold_id = HoldId(Uuid::now_v7());
                    self.hold = Some(hold_id);
                    ConcertCommand::HoldTickets(HoldRequest {
                        cart_id: CartId(Uuid::now_v7()),
                        hold_id,
                        ticket_type_id: self.ticket_type_id,
                        quantity: self.one,
                        now,
                        expires_at: now + chrono::Duration::minutes(ticketing::limits::HOLD_MINUTES),
                    })
                }
            },
        }
    }
}
