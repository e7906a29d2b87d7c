//! The read models under a randomized workload: a deterministic generator
//! (xorshift64*, fixed seeds) drives the real shop on a real SQLite file —
//! venues and concerts, small ticket types that sell out, publishing and
//! cancelling, reservations of any size, removals, checkouts, a clock that
//! jumps and hold-expiry sweeps, check-ins (some twice) — while the read
//! models catch up at random points in batches of random size. Afterwards
//! every read model rebuilt from the log must answer exactly as the live one
//! did, and the read models must agree with the aggregates: availability
//! with the concerts' inventory, tickets issued with tickets sold. Delivering
//! every batch twice must change nothing either.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use es_core::{
    EventLog, EventStore, ManualClock, Position, ProjectionError, ProjectionRunner, Repository, SnapshotStore, rebuild,
};
use es_sqlite::{Durability, SqliteEventStore};
use tempfile::TempDir;
use ticketing::{
    Address, Capacity, Cart, CartId, Concert, ConcertId, ConcertStatus, CustomerId, DetailsUpdate, Genre, HoldId,
    Order, OrderId, Quantity, TicketCode, TicketTypeId, VenueId, VenueProfile,
};
use ticketing_app::queries::{
    AttendeeQueries, AttendeeView, CartQueries, CartView, CatalogueQueries, ConcertSearch, ConcertStatusView,
    ConcertSummary, ConcertView, DailySales, OrderQueries, OrderView, QueryError, ReadProgress, SalesQueries,
    VenueQueries, VenueView,
};
use ticketing_app::{AppError, ConcertForm, HoldExpiry, RandomTicketCodes, Shop};
use ticketing_sqlite::{ReadModels, SqliteQueries};
use ticketing_testkit::{ctx, eur, name, start};

type TestError = Box<dyn std::error::Error + Send + Sync>;
type TestResult = Result<(), TestError>;

/// The seeds every randomized test runs with.
const SEEDS: [u64; 3] = [0x9E37_79B9_7F4A_7C15, 42, 0xC0FF_EE00_DEAD_BEEF];

/// Steps of one workload.
const STEPS: usize = 400;

/// Customers who reserve and buy.
const CUSTOMERS: usize = 20;

/// xorshift64*: small, fast and good enough to pick workload steps.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Zero is xorshift's fixed point.
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// An index into a non-empty list of `len`.
    fn index(&mut self, len: usize) -> usize {
        (self.next() % len as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { Some(&items[self.index(items.len())]) }
    }

    /// True with `percent`% probability.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

struct Fixture {
    _dir: TempDir,
    store: Arc<SqliteEventStore>,
    log: EventLog,
    clock: Arc<ManualClock>,
    shop: Shop,
    read_models: ReadModels,
    /// A second handle on the same read models, to deliver duplicates through.
    duplicates: ReadModels,
    queries: SqliteQueries,
}

fn open() -> Result<Fixture, TestError> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal)?);
    let clock = Arc::new(ManualClock::new(start()));
    let log = EventLog::new(store.clone(), clock.clone());
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    let shop = Shop::new(log.clone(), Some(snapshots), clock.clone(), Arc::new(RandomTicketCodes));
    let read_models = ReadModels::open(&store)?;
    let duplicates = ReadModels::open(&store)?;
    let queries = SqliteQueries::open(&read_models)?;
    Ok(Fixture { _dir: dir, store, log, clock, shop, read_models, duplicates, queries })
}

/// How the workload delivers batches to the read models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// Through `ProjectionRunner::catch_up`, each batch once.
    Once,
    /// Each batch applied, then again at the same checkpoint (through a
    /// second handle: refused as moved), then again after itself (past the
    /// checkpoint: only the per-row version guards stop it).
    Twice,
}

impl Fixture {
    fn now(&self) -> DateTime<Utc> {
        es_core::Clock::now(&*self.clock)
    }

    /// Brings every read model to the log's head in batches of `batch_size`.
    async fn catch_up(&self, delivery: Delivery, batch_size: u32, seed: u64) -> Result<(), TestError> {
        match delivery {
            Delivery::Once => {
                for projection in self.read_models.projections() {
                    ProjectionRunner::new(self.log.clone(), projection).with_batch_size(batch_size).catch_up().await?;
                }
            }
            Delivery::Twice => {
                let duplicates = self.duplicates.projections();
                for (projection, duplicate) in self.read_models.projections().into_iter().zip(duplicates) {
                    let mut after = projection.position().await?;
                    loop {
                        let batch = self.store.read_all(after, batch_size).await?;
                        let Some(last) = batch.last().map(|record| record.position) else { break };
                        projection.apply(after, &batch).await?;
                        let again = duplicate.apply(after, &batch).await;
                        assert!(
                            matches!(again, Err(ProjectionError::Moved { .. })),
                            "seed {seed:#x}: {} took a stale batch again: {again:?}",
                            projection.name()
                        );
                        projection.apply(last, &batch).await?;
                        assert_eq!(projection.position().await?, last, "seed {seed:#x}: {}", projection.name());
                        after = last;
                    }
                }
            }
        }
        Ok(())
    }
}

/// How many of each command went through and how many were refused.
type Tally = std::collections::BTreeMap<&'static str, (u32, u32)>;

/// A refusal is part of the game; a backend failure or a busy shop is not.
fn settle<T>(tally: &mut Tally, seed: u64, step: usize, what: &'static str, result: Result<T, AppError>) -> Option<T> {
    let counts = tally.entry(what).or_default();
    match result {
        Ok(value) => {
            counts.0 += 1;
            Some(value)
        }
        Err(error @ (AppError::Rejected { .. } | AppError::NotFound(_))) => {
            counts.1 += 1;
            if std::env::var_os("RANDOMIZED_VERBOSE").is_some() {
                eprintln!("seed {seed:#x}, step {step}: {what} refused: {error}");
            }
            None
        }
        Err(error @ (AppError::Busy | AppError::Unavailable(_) | AppError::Store(_))) => {
            panic!("seed {seed:#x}, step {step}: {what} failed: {error}")
        }
    }
}

/// Where a concert got in its life, to aim commands mostly at concerts they
/// fit (and now and then at any concert, to be refused).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    #[default]
    Created,
    Scheduled,
    Published,
    Cancelled,
}

impl World {
    /// A concert, in `stage` most of the time if one is.
    fn concert(&self, rng: &mut Rng, stage: Stage) -> Option<usize> {
        self.concert_with(rng, stage, false)
    }

    /// A concert, in `stage` (and offering tickets, if `offering`) most of
    /// the time if one is.
    fn concert_with(&self, rng: &mut Rng, stage: Stage, offering: bool) -> Option<usize> {
        let fitting: Vec<usize> = (0..self.stages.len())
            .filter(|&index| self.stages[index] == stage && (!offering || !self.concerts[index].1.is_empty()))
            .collect();
        if !fitting.is_empty() && rng.chance(85) {
            return rng.pick(&fitting).copied();
        }
        (!self.concerts.is_empty()).then(|| rng.index(self.concerts.len()))
    }
}

/// What the workload made, to pick from.
#[derive(Default)]
struct World {
    venues: Vec<VenueId>,
    /// Every concert with its ticket types, drafts and cancelled ones too.
    concerts: Vec<(ConcertId, Vec<TicketTypeId>)>,
    /// Where each concert got, as far as the workload knows.
    stages: Vec<Stage>,
    customers: Vec<CustomerId>,
    /// Reservations made, settled or not, by customer.
    holds: Vec<(CustomerId, HoldId)>,
    orders: Vec<OrderId>,
    /// Tickets checked in, to check some in again.
    checked_in: Vec<(OrderId, TicketCode)>,
}

const GENRES: [&str; 4] = ["Rock", "Jazz", "Pop", "Folk"];
const CITIES: [&str; 4] = ["Amsterdam", "Brussels", "Berlin", "Lisbon"];

async fn workload(fixture: &Fixture, seed: u64, delivery: Delivery) -> Result<World, TestError> {
    let shop = &fixture.shop;
    let mut rng = Rng::new(seed);
    let mut world = World {
        customers: (0..CUSTOMERS)
            .map(|_| CustomerId(uuid::Uuid::from_u128(u128::from(rng.next()) << 64 | 1)))
            .collect(),
        ..World::default()
    };
    let mut expiry = HoldExpiry::new();
    let mut observed = Position::START;
    let mut catch_ups = 0;
    let mut tally = Tally::new();
    for step in 0..STEPS {
        // Enough venues first, so that a deleted one does not end the game.
        let roll = if world.venues.len() < 3 { 0 } else { rng.next() % 100 };
        match roll {
            // Venues, mostly early on.
            0..=2 => {
                let number = world.venues.len();
                let profile = VenueProfile {
                    name: name(&format!("Venue {number}")),
                    address: Address::new(format!("Street {}", rng.between(1, 99))).expect("an address"),
                    city: name(CITIES[rng.index(CITIES.len())]),
                    capacity: Capacity::new(rng.between(20, 200) as u32).expect("a capacity"),
                    description: None,
                    web_url: None,
                };
                if let Some(venue_id) =
                    settle(&mut tally, seed, step, "create venue", shop.create_venue(&ctx(), profile).await)
                {
                    world.venues.push(venue_id);
                }
            }
            3 => {
                if world.venues.len() > 4
                    && rng.chance(30)
                    && let Some(&venue_id) = rng.pick(&world.venues)
                {
                    settle(&mut tally, seed, step, "delete venue", shop.delete_venue(&ctx(), venue_id).await);
                }
            }
            4..=9 => {
                let Some(&venue_id) = rng.pick(&world.venues) else { continue };
                let form = ConcertForm {
                    name: name(&format!("Concert {}", world.concerts.len())),
                    venue_id,
                    profile: ticketing::ConcertProfile {
                        genre: Some(Genre::new(GENRES[rng.index(GENRES.len())]).expect("a genre")),
                        ..Default::default()
                    },
                };
                if let Some(concert_id) =
                    settle(&mut tally, seed, step, "create concert", shop.create_concert(&ctx(), form).await)
                {
                    world.concerts.push((concert_id, Vec::new()));
                    world.stages.push(Stage::Created);
                }
            }
            17 => {
                let Some(index) = world.concert(&mut rng, Stage::Created) else { continue };
                let Some(&ticket_type_id) = rng.pick(&world.concerts[index].1) else { continue };
                let concert_id = world.concerts[index].0;
                let removed = shop.remove_ticket_type(&ctx(), concert_id, ticket_type_id).await;
                // The id stays in the world: reserving it now must be refused.
                settle(&mut tally, seed, step, "remove ticket type", removed);
            }
            18 => {
                let Some(index) = world.concert(&mut rng, Stage::Published) else { continue };
                let concert_id = world.concerts[index].0;
                let update = DetailsUpdate {
                    name: rng.chance(50).then(|| name(&format!("Concert {index} at step {step}"))),
                    profile: ticketing::ConcertProfile {
                        genre: rng.chance(50).then(|| Genre::new(GENRES[rng.index(GENRES.len())]).expect("a genre")),
                        ..Default::default()
                    },
                };
                let updated = shop.update_concert_details(&ctx(), concert_id, update).await;
                settle(&mut tally, seed, step, "update details", updated);
            }
            10..=16 => {
                let Some(index) = world.concert(&mut rng, Stage::Created) else { continue };
                let concert_id = world.concerts[index].0;
                let quantity = Quantity::new(rng.between(1, 30) as u32).expect("a quantity");
                let price = eur(rng.between(0, 50) * 100);
                let kind = name(&format!("Type {}", world.concerts[index].1.len()));
                let added = shop.add_ticket_type(&ctx(), concert_id, kind, price, quantity).await;
                if let Some(ticket_type_id) = settle(&mut tally, seed, step, "add ticket type", added) {
                    world.concerts[index].1.push(ticket_type_id);
                }
            }
            19..=24 => {
                let Some(index) = world.concert_with(&mut rng, Stage::Created, true) else { continue };
                let concert_id = world.concerts[index].0;
                // Mostly weeks ahead; sometimes within hours, so sales stop
                // during the workload.
                let starts_at = if rng.chance(20) {
                    fixture.now() + Duration::minutes(rng.between(30, 600) as i64)
                } else {
                    start() + Duration::days(rng.between(20, 60) as i64) + Duration::hours(rng.between(0, 23) as i64)
                };
                let ends_at = starts_at + Duration::hours(rng.between(1, 5) as i64);
                let scheduled = shop.schedule_concert(&ctx(), concert_id, starts_at, ends_at).await;
                if settle(&mut tally, seed, step, "schedule", scheduled).is_some()
                    && world.stages[index] == Stage::Created
                {
                    world.stages[index] = Stage::Scheduled;
                }
            }
            25..=31 => {
                let Some(index) = world.concert(&mut rng, Stage::Scheduled) else { continue };
                let concert_id = world.concerts[index].0;
                if settle(&mut tally, seed, step, "publish", shop.publish_concert(&ctx(), concert_id).await).is_some() {
                    world.stages[index] = Stage::Published;
                }
            }
            32 => {
                let Some(index) = world.concert(&mut rng, Stage::Published) else { continue };
                let concert_id = world.concerts[index].0;
                if settle(&mut tally, seed, step, "cancel", shop.cancel_concert(&ctx(), concert_id).await).is_some() {
                    world.stages[index] = Stage::Cancelled;
                }
            }
            33..=62 => {
                let Some(index) = world.concert(&mut rng, Stage::Published) else { continue };
                let (concert_id, ticket_types) = world.concerts[index].clone();
                let Some(&ticket_type_id) = rng.pick(&ticket_types) else { continue };
                let customer = world.customers[rng.index(world.customers.len())];
                let quantity = Quantity::new(rng.between(1, 12) as u32).expect("a quantity");
                let reserved = shop.reserve(&ctx(), customer, concert_id, ticket_type_id, quantity).await;
                if let Some(reservation) = settle(&mut tally, seed, step, "reserve", reserved) {
                    world.holds.push((customer, reservation.hold_id));
                }
            }
            63..=67 => {
                // Mostly a recent hold, likely still in its cart.
                let recent = &world.holds[world.holds.len().saturating_sub(3)..];
                let holds = if rng.chance(70) { recent } else { &world.holds[..] };
                let Some(&(customer, hold_id)) = rng.pick(holds) else { continue };
                settle(
                    &mut tally,
                    seed,
                    step,
                    "remove cart item",
                    shop.remove_cart_item(&ctx(), customer, hold_id).await,
                );
            }
            68..=79 => {
                // Mostly someone with something live in the cart, or nobody
                // would buy; now and then anyone, to be refused.
                let mut buyers = Vec::new();
                for &customer in &world.customers {
                    let cart = shop.carts().load(CartId::of(customer).into()).await?;
                    if cart.state.live_items(fixture.now()).next().is_some() {
                        buyers.push(customer);
                    }
                }
                let customer = match rng.pick(&buyers) {
                    Some(&customer) if rng.chance(85) => customer,
                    _ => world.customers[rng.index(world.customers.len())],
                };
                if let Some(order_id) =
                    settle(&mut tally, seed, step, "checkout", shop.checkout(&ctx(), customer).await)
                {
                    world.orders.push(order_id);
                }
            }
            80..=87 => {
                fixture.clock.advance(Duration::minutes(rng.between(1, 12) as i64));
                loop {
                    let page = fixture.store.read_all(observed, 500).await?;
                    let Some(last) = page.last() else { break };
                    observed = last.position;
                    for record in &page {
                        expiry.observe(record)?;
                    }
                }
                let swept = expiry.sweep(shop, fixture.now()).await;
                assert_eq!(swept.failed, 0, "seed {seed:#x}, step {step}: a concert's sweep failed (see the log)");
                tally.entry("holds expired").or_default().0 += swept.expired as u32;
            }
            88..=93 => {
                if world.checked_in.is_empty() || rng.chance(70) {
                    let Some(&order_id) = rng.pick(&world.orders) else { continue };
                    let order = shop.orders().load(order_id.into()).await?;
                    let codes: Vec<TicketCode> = order.state.tickets().map(|ticket| ticket.code.clone()).collect();
                    let Some(code) = rng.pick(&codes).cloned() else { continue };
                    if settle(&mut tally, seed, step, "check in", shop.check_in(&ctx(), order_id, code.clone()).await)
                        .is_some()
                    {
                        world.checked_in.push((order_id, code));
                    }
                } else if let Some((order_id, code)) = rng.pick(&world.checked_in).cloned() {
                    let again = shop.check_in(&ctx(), order_id, code).await;
                    assert!(
                        matches!(again, Err(AppError::Rejected { .. })),
                        "seed {seed:#x}, step {step}: a second check-in went through: {again:?}"
                    );
                }
            }
            _ => {
                fixture.catch_up(delivery, rng.between(1, 40) as u32, seed).await?;
                catch_ups += 1;
            }
        }
    }
    fixture.catch_up(delivery, rng.between(1, 200) as u32, seed).await?;
    eprintln!("seed {seed:#x}: {tally:?}");
    assert!(catch_ups > 0, "seed {seed:#x}: the read models caught up during the workload");
    assert!(!world.orders.is_empty(), "seed {seed:#x}: the workload sold something");
    assert_eq!(fixture.queries.position().await?, fixture.store.head().await?, "seed {seed:#x}");
    Ok(world)
}

/// Everything the read side answers about what the workload made.
#[derive(Debug, PartialEq)]
struct Answers {
    venue_pages: Vec<Vec<VenueView>>,
    venues: Vec<Option<VenueView>>,
    search_pages: Vec<Vec<ConcertSummary>>,
    concerts: Vec<Option<ConcertView>>,
    carts: Vec<CartView>,
    orders: Vec<OrderView>,
    each_order: Vec<Option<OrderView>>,
    attendees: Vec<Vec<AttendeeView>>,
    sales: Vec<Vec<DailySales>>,
}

async fn answers(fixture: &Fixture, world: &World) -> Result<Answers, QueryError> {
    let queries = &fixture.queries;
    let mut venue_pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = queries.venues(cursor, Some(3)).await?;
        venue_pages.push(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut venues = Vec::new();
    for &venue_id in &world.venues {
        venues.push(queries.venue(venue_id).await?);
    }
    let mut search_pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = queries.concerts(ConcertSearch { limit: Some(4), cursor, ..ConcertSearch::default() }).await?;
        search_pages.push(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let (mut concerts, mut attendees, mut sales) = (Vec::new(), Vec::new(), Vec::new());
    for &(concert_id, _) in &world.concerts {
        concerts.push(queries.concert(concert_id, true).await?);
        attendees.push(queries.attendees(concert_id).await?);
        sales.push(queries.sales(concert_id).await?);
    }
    let now = fixture.now();
    let mut carts = Vec::new();
    for &customer in &world.customers {
        carts.push(queries.cart(customer, now).await?);
    }
    let mut each_order = Vec::new();
    for &order_id in &world.orders {
        each_order.push(queries.order(order_id).await?);
    }
    Ok(Answers {
        venue_pages,
        venues,
        search_pages,
        concerts,
        carts,
        orders: queries.orders(None).await?,
        each_order,
        attendees,
        sales,
    })
}

/// The read models agree with the aggregates, read fresh from the log.
async fn assert_consistent_with_the_aggregates(
    fixture: &Fixture,
    world: &World,
    answers: &Answers,
    seed: u64,
) -> TestResult {
    let concerts = Repository::<Concert>::new(fixture.log.clone());
    let mut sold_total = 0_u64;
    for (&(concert_id, _), view) in world.concerts.iter().zip(&answers.concerts) {
        let concert = concerts.load(concert_id.into()).await?.state;
        let view = view.as_ref().unwrap_or_else(|| panic!("seed {seed:#x}: concert {concert_id} has no page"));
        let status = match concert.status() {
            ConcertStatus::Draft => ConcertStatusView::Draft,
            ConcertStatus::Published => ConcertStatusView::Published,
            ConcertStatus::Cancelled => ConcertStatusView::Cancelled,
        };
        assert_eq!(view.status, status, "seed {seed:#x}: status of concert {concert_id}");
        let name = concert.details().map(|details| details.name.as_str().to_owned());
        assert_eq!(Some(view.name.clone()), name, "seed {seed:#x}: name of concert {concert_id}");
        let expected: Vec<_> = concert.ticket_types().iter().map(|tt| (tt.id, tt.quantity.get())).collect();
        let shown: Vec<_> = view.ticket_types.iter().map(|tt| (tt.id, tt.quantity)).collect();
        assert_eq!(shown, expected, "seed {seed:#x}: ticket types of concert {concert_id}");
        for (ticket_type, shown) in concert.ticket_types().iter().zip(&view.ticket_types) {
            let quantity = ticket_type.quantity.get();
            assert!(
                ticket_type.held + ticket_type.sold <= quantity,
                "seed {seed:#x}: oversold ticket type {} of concert {concert_id}: {ticket_type:?}",
                ticket_type.id
            );
            assert_eq!(
                shown.available,
                quantity - ticket_type.held - ticket_type.sold,
                "seed {seed:#x}: availability of ticket type {} of concert {concert_id}: {ticket_type:?}",
                ticket_type.id
            );
            sold_total += u64::from(ticket_type.sold);
        }
        let held: u32 = concert.holds().values().map(|hold| hold.quantity.get()).sum();
        let held_by_types: u32 = concert.ticket_types().iter().map(|tt| tt.held).sum();
        assert_eq!(held, held_by_types, "seed {seed:#x}: holds of concert {concert_id}");
    }
    let sold_by_types: u64 = sold_total;
    let tickets_in_orders: u64 = answers.orders.iter().map(|order| order.tickets.len() as u64).sum();
    assert_eq!(tickets_in_orders, sold_by_types, "seed {seed:#x}: tickets issued vs tickets sold");
    let attendees: u64 = answers.attendees.iter().map(|list| list.len() as u64).sum();
    assert_eq!(attendees, sold_by_types, "seed {seed:#x}: attendees vs tickets sold");
    let sales: u64 = answers.sales.iter().flatten().map(|day| day.tickets_sold).sum();
    assert_eq!(sales, sold_by_types, "seed {seed:#x}: daily sales vs tickets sold");
    let ids: BTreeSet<OrderId> = answers.orders.iter().map(|order| order.id).collect();
    assert_eq!(ids, world.orders.iter().copied().collect(), "seed {seed:#x}: every order is listed");

    let orders = Repository::<Order>::new(fixture.log.clone());
    for (&order_id, view) in world.orders.iter().zip(&answers.each_order) {
        let order = orders.load(order_id.into()).await?.state;
        let view = view.as_ref().unwrap_or_else(|| panic!("seed {seed:#x}: order {order_id} is not shown"));
        let codes: Vec<String> = order.tickets().map(|ticket| ticket.code.to_string()).collect();
        let shown: Vec<String> = view.tickets.iter().map(|ticket| ticket.code.clone()).collect();
        assert_eq!(shown, codes, "seed {seed:#x}: tickets of order {order_id}");
    }
    let checked_in: usize = answers.attendees.iter().flatten().filter(|a| a.checked_in_at.is_some()).count();
    assert_eq!(checked_in, world.checked_in.len(), "seed {seed:#x}: check-ins");

    let carts = Repository::<Cart>::new(fixture.log.clone());
    let now = fixture.now();
    for (&customer, view) in world.customers.iter().zip(&answers.carts) {
        let cart = carts.load(CartId::of(customer).into()).await?.state;
        let live: Vec<HoldId> = cart.live_items(now).map(|item| item.item_id).collect();
        let shown: Vec<HoldId> = view.items.iter().map(|item| item.id).collect();
        assert_eq!(shown, live, "seed {seed:#x}: cart of customer {customer}");
    }
    Ok(())
}

async fn rebuilding_agrees(delivery: Delivery) -> TestResult {
    for seed in SEEDS {
        let fixture = open()?;
        let world = workload(&fixture, seed, delivery).await?;
        let live = answers(&fixture, &world).await?;
        assert!(live.orders.len() > 1 && !live.search_pages[0].is_empty(), "seed {seed:#x}: too little to compare");
        assert_consistent_with_the_aggregates(&fixture, &world, &live, seed).await?;
        let head = fixture.store.head().await?;
        for projection in fixture.read_models.rebuildable() {
            let rebuilt = rebuild(&fixture.log, &*projection, |_, _| {}).await?;
            assert_eq!(rebuilt, head, "seed {seed:#x}: {} rebuilt to the head", projection.name());
        }
        let rebuilt = answers(&fixture, &world).await?;
        assert_answers_equal(&live, &rebuilt, seed);
        assert_eq!(fixture.queries.position().await?, head, "seed {seed:#x}");
    }
    Ok(())
}

/// Field by field, so that a failure names the read model that differs.
fn assert_answers_equal(live: &Answers, rebuilt: &Answers, seed: u64) {
    assert_eq!(live.venue_pages, rebuilt.venue_pages, "seed {seed:#x}: venue pages");
    assert_eq!(live.venues, rebuilt.venues, "seed {seed:#x}: venues");
    assert_eq!(live.search_pages, rebuilt.search_pages, "seed {seed:#x}: search pages");
    assert_eq!(live.concerts, rebuilt.concerts, "seed {seed:#x}: concert pages");
    assert_eq!(live.carts, rebuilt.carts, "seed {seed:#x}: carts");
    assert_eq!(live.orders, rebuilt.orders, "seed {seed:#x}: orders");
    assert_eq!(live.each_order, rebuilt.each_order, "seed {seed:#x}: each order");
    assert_eq!(live.attendees, rebuilt.attendees, "seed {seed:#x}: attendees");
    assert_eq!(live.sales, rebuilt.sales, "seed {seed:#x}: sales");
    assert_eq!(live, rebuilt, "seed {seed:#x}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_randomized_workload_rebuilt_read_models_answer_as_the_live_ones_and_agree_with_the_aggregates()
-> TestResult {
    rebuilding_agrees(Delivery::Once).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivering_every_batch_of_a_randomized_workload_twice_changes_no_answer() -> TestResult {
    rebuilding_agrees(Delivery::Twice).await
}
