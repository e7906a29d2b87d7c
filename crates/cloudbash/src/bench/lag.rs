//! `lag`: how long after a commit the shop's read models show it. Buyers
//! reserve and check out at a fixed rate of events per second (open loop:
//! each purchase starts on schedule, whether or not earlier ones are done),
//! through the real command side, while one `ProjectionRunner` per read
//! model (the seven of `cloudbash serve`) keeps the SQLite read models
//! current. A commit is visible once every read model's checkpoint has
//! passed it — what the API's read-your-writes wait needs.
//!
//! The clock starts when the append is acknowledged (durable), as a client
//! would see it, and stops when the last runner's published position
//! reaches the commit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

use chrono::{DateTime, Utc};
use clap::Args;
use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, CancellationToken, Clock, CommandContext, CommandId,
    CommandRecord, Commit, EventLog, EventStore, Position, ProjectionRunner, RecordedEvent, SnapshotStore, StoreError,
    SystemClock, Version, async_trait,
};
use es_sqlite::SqliteEventStore;
use ticketing::{
    Address, Capacity, ConcertId, Currency, CustomerId, Money, Name, Quantity, TicketTypeId, VenueProfile,
};
use ticketing_app::{ConcertForm, RandomTicketCodes, Shop};
use ticketing_sqlite::ReadModels;
use tokio::sync::watch;

use super::Common;
use super::report::{Latencies, Measurement, Reporter, millis};
use super::workload::fresh_store;

/// Options of `cloudbash bench lag`.
#[derive(Debug, Args)]
pub(crate) struct LagArgs {
    /// Events appended per second.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// How long to append.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
}

/// Events of one purchase: a hold and a cart item, then the cart checked
/// out, the tickets sold and the order placed.
const EVENTS_PER_PURCHASE: u32 = 5;

/// Longest wait for the read models to show the last commit after the load.
const DRAIN_WAIT_MAX: Duration = Duration::from_secs(30);

/// Runs the workload `--runs` times, each in a fresh shop.
pub(super) async fn run(args: &LagArgs, common: &Common, reporter: &mut Reporter) -> anyhow::Result<()> {
    anyhow::ensure!(args.rate >= EVENTS_PER_PURCHASE, "--rate must be at least {EVENTS_PER_PURCHASE} events/s");
    anyhow::ensure!(args.seconds > 0.0, "--seconds must be positive");
    for run in 1..=common.runs {
        let measurement = once(args, common).await?;
        reporter.record("lag", run, measurement)?;
    }
    Ok(())
}

async fn once(args: &LagArgs, common: &Common) -> anyhow::Result<Measurement> {
    let (_dir, sqlite) = fresh_store(common.sync.durability())?;
    let store = Arc::new(TimedStore { inner: Arc::clone(&sqlite), acknowledged: Mutex::new(Vec::new()) });
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let log = EventLog::new(store.clone(), Arc::clone(&clock));
    let snapshots: Arc<dyn SnapshotStore> = sqlite.clone();
    let shop = Arc::new(Shop::new(log.clone(), Some(snapshots), clock, Arc::new(RandomTicketCodes)));
    let (concert_id, ticket_type_id) = concert_on_sale(&shop).await?;

    let shutdown = CancellationToken::new();
    let read_models = ReadModels::open(&sqlite).context("opening the read models")?;
    let mut statuses = Vec::new();
    let mut runners = tokio::task::JoinSet::new();
    for projection in read_models.projections() {
        let runner = ProjectionRunner::new(log.clone(), projection);
        statuses.push(runner.status());
        runners.spawn(runner.run(shutdown.clone()));
    }
    let visible = Arc::new(Mutex::new(Vec::new()));
    let watcher = tokio::spawn(watch_visibility(statuses, Arc::clone(&visible), shutdown.clone()));
    let seeded = sqlite.head().await?;
    wait_visible(&visible, seeded).await?;
    store.forget();

    let purchases = (f64::from(args.rate) * args.seconds / f64::from(EVENTS_PER_PURCHASE)).round() as u64;
    let interval = Duration::from_secs_f64(f64::from(EVENTS_PER_PURCHASE) / f64::from(args.rate));
    let started = tokio::time::Instant::now();
    let mut buyers = tokio::task::JoinSet::new();
    for number in 0..purchases {
        tokio::time::sleep_until(started + interval.mul_f64(number as f64)).await;
        let shop = Arc::clone(&shop);
        buyers.spawn(async move {
            let customer = CustomerId(uuid::Uuid::now_v7());
            let context = CommandContext::default();
            let began = Instant::now();
            shop.reserve(&context, customer, concert_id, ticket_type_id, Quantity::new(1)?).await?;
            shop.checkout(&context, customer).await?;
            Ok::<_, anyhow::Error>(began.elapsed())
        });
    }
    let mut purchase_latencies = Vec::new();
    while let Some(done) = buyers.join_next().await {
        purchase_latencies.push(done??);
    }
    let elapsed = started.elapsed();
    let head = sqlite.head().await?;
    wait_visible(&visible, head).await?;
    shutdown.cancel();
    let _ = watcher.await;
    while runners.join_next().await.is_some() {}

    let acknowledged = store.take();
    let visible = visible.lock().map_err(|_| anyhow::anyhow!("a visibility watcher panicked"))?.clone();
    let mut lags: Vec<Duration> = acknowledged
        .iter()
        .map(|(position, at)| {
            let first = visible.partition_point(|(shown, _)| shown < position);
            visible.get(first).map_or(DRAIN_WAIT_MAX, |(_, shown_at)| shown_at.saturating_duration_since(*at))
        })
        .collect();
    let events = head.0 - seeded.0;
    let purchase = Latencies::of(&mut purchase_latencies);
    let measurement =
        Measurement::new(events, elapsed, Latencies::of(&mut lags), "commit to visible in every read model")
            .with("rate", args.rate)
            .with("targetSeconds", args.seconds)
            .with("commits", acknowledged.len() as u64)
            .with("purchases", purchases)
            .with("readModels", read_models.projections().len() as u64)
            .with("purchaseP99Ms", millis(purchase.p99()));
    sqlite.close().await;
    Ok(measurement)
}

/// Waits until every read model shows `position`.
async fn wait_visible(visible: &Mutex<Vec<(Position, Instant)>>, position: Position) -> anyhow::Result<()> {
    let deadline = Instant::now() + DRAIN_WAIT_MAX;
    loop {
        let shown =
            visible.lock().map_err(|_| anyhow::anyhow!("a visibility watcher panicked"))?.last().map(|last| last.0);
        if shown.unwrap_or_default() >= position {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "the read models did not reach position {} in time", position.0);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Records when the lowest position over all read models moves, and where to.
async fn watch_visibility(
    statuses: Vec<watch::Receiver<es_core::ProjectionStatus>>,
    visible: Arc<Mutex<Vec<(Position, Instant)>>>,
    shutdown: CancellationToken,
) {
    let (changes, mut changed) = tokio::sync::mpsc::unbounded_channel();
    let count = statuses.len();
    for (index, mut status) in statuses.into_iter().enumerate() {
        let changes = changes.clone();
        tokio::spawn(async move {
            loop {
                let position = status.borrow_and_update().position;
                if changes.send((index, position, Instant::now())).is_err() || status.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    let mut positions = vec![Position::START; count];
    let mut lowest = Position::START;
    loop {
        let (index, position, at) = tokio::select! {
            () = shutdown.cancelled() => return,
            next = changed.recv() => match next {
                Some(next) => next,
                None => return,
            },
        };
        positions[index] = positions[index].max(position);
        let now_lowest = positions.iter().copied().min().unwrap_or_default();
        if now_lowest > lowest {
            lowest = now_lowest;
            if let Ok(mut visible) = visible.lock() {
                visible.push((lowest, at));
            }
        }
    }
}

/// The log as the shop sees it, noting when each commit was acknowledged.
struct TimedStore {
    inner: Arc<SqliteEventStore>,
    acknowledged: Mutex<Vec<(Position, Instant)>>,
}

impl TimedStore {
    fn forget(&self) {
        if let Ok(mut acknowledged) = self.acknowledged.lock() {
            acknowledged.clear();
        }
    }

    fn take(&self) -> Vec<(Position, Instant)> {
        self.acknowledged.lock().map(|mut acknowledged| std::mem::take(&mut *acknowledged)).unwrap_or_default()
    }
}

#[async_trait]
impl EventStore for TimedStore {
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        let appended = self.inner.append(request).await;
        // SQLite positions at commit; a commit without a position is not timed.
        if let Ok(Appended::Committed(Commit { position: Some(position), .. })) = &appended {
            let at = Instant::now();
            if let Ok(mut acknowledged) = self.acknowledged.lock() {
                acknowledged.push((*position, at));
            }
        }
        appended
    }

    async fn load(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.load(aggregate_id, after, limit).await
    }

    async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }

    async fn position_before(&self, time: DateTime<Utc>) -> Result<Position, StoreError> {
        self.inner.position_before(time).await
    }

    async fn stored_command(&self, command_id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        self.inner.stored_command(command_id).await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.inner.head().await
    }

    fn commits(&self) -> watch::Receiver<Position> {
        self.inner.commits()
    }
}

/// A venue and a published concert with one ticket type of the largest
/// quantity a venue allows, so that no run sells out.
pub(super) async fn concert_on_sale(shop: &Shop) -> anyhow::Result<(ConcertId, TicketTypeId)> {
    let context = CommandContext::default();
    let capacity = ticketing::limits::VENUE_CAPACITY_MAX;
    let profile = VenueProfile {
        name: Name::new("Lag Hall")?,
        address: Address::new("Main Street 1")?,
        city: Name::new("Utrecht")?,
        capacity: Capacity::new(capacity)?,
        description: None,
        web_url: None,
    };
    let venue_id = shop.create_venue(&context, profile).await?;
    let form = ConcertForm { name: Name::new("Lag")?, venue_id, profile: ticketing::ConcertProfile::default() };
    let concert_id = shop.create_concert(&context, form).await?;
    let price = Money::new(2_500, Currency::new("EUR")?);
    let ticket_type_id =
        shop.add_ticket_type(&context, concert_id, Name::new("Standing")?, price, Quantity::new(capacity)?).await?;
    let starts_at = Utc::now() + chrono::Duration::days(30);
    shop.schedule_concert(&context, concert_id, starts_at, starts_at + chrono::Duration::hours(3)).await?;
    shop.publish_concert(&context, concert_id).await?;
    Ok((concert_id, ticket_type_id))
}
