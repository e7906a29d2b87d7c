//! The read models of the AWS configuration under a randomized workload: a
//! deterministic generator (xorshift64*, fixed seeds) drives the real shop
//! on an embedded log — venues and concerts, small ticket types that sell
//! out, publishing and cancelling, reservations, removals, checkouts, a
//! clock that jumps and hold-expiry sweeps, check-ins (some twice) — and at
//! random points the bus delivers what is new, shuffled, partly twice, in
//! batches of random size, by two consumers at once, to every PostgreSQL
//! read model and to the carts in DynamoDB (the emulator at
//! `AWS_ENDPOINT_URL_DYNAMODB`). Each time, every query must answer as the
//! embedded mode's SQLite read models do for the same log; at the end, so
//! must the PostgreSQL read models rebuilt from the log.

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::{Bus, Embedded, Rng, Subjects, TestError, TestResult, answers, assert_answers_equal, embedded, start};
use es_aws_bus::sink::BusSink;
use es_core::{EventStore, Position};
use ticketing::{
    Address, Capacity, CartId, ConcertId, CustomerId, DetailsUpdate, Genre, HoldId, OrderId, Quantity, TicketCode,
    TicketTypeId, VenueId, VenueProfile,
};
use ticketing_app::queries::ReadSide;
use ticketing_app::{AppError, ConcertForm, HoldExpiry};
use ticketing_dynamodb::{DynamoDbCarts, create_carts_table};
use ticketing_postgres::{PostgresQueries, PostgresReadModels};
use ticketing_testkit::{ctx, eur, name};

/// The seeds every randomized test runs with.
const SEEDS: [u64; 3] = [0x9E37_79B9_7F4A_7C15, 42, 0xC0FF_EE00_DEAD_BEEF];

/// Steps of one workload.
const STEPS: usize = 400;

/// Customers who reserve and buy.
const CUSTOMERS: usize = 16;

const GENRES: [&str; 4] = ["Rock", "Jazz", "Pop", "Folk"];
const CITIES: [&str; 4] = ["Amsterdam", "Brussels", "Berlin", "Lisbon"];

/// The carts read model of the AWS configuration, on the emulator.
async fn dynamodb_carts() -> DynamoDbCarts {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "AWS_ENDPOINT_URL_DYNAMODB must point at the local emulator (got {endpoint:?}); run the tests through \
         scripts/test.sh, or `. scripts/services.sh` first"
    );
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("carts-{}", uuid::Uuid::new_v4().simple());
    create_carts_table(&client, &table).await.expect("carts table");
    DynamoDbCarts::new(client, table)
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

impl World {
    /// A concert, in `stage` (and offering tickets, if `offering`) most of
    /// the time if one is.
    fn concert(&self, rng: &mut Rng, stage: Stage, offering: bool) -> Option<usize> {
        let fitting: Vec<usize> = (0..self.stages.len())
            .filter(|&index| self.stages[index] == stage && (!offering || !self.concerts[index].1.is_empty()))
            .collect();
        if !fitting.is_empty() && rng.chance(85) {
            return rng.pick(&fitting).copied();
        }
        (!self.concerts.is_empty()).then(|| rng.index(self.concerts.len()))
    }

    fn subjects(&self, embedded: &Embedded) -> Subjects {
        let days: Vec<_> = [3_i64, 25, 40, 61].iter().map(|&days| start() + Duration::days(days)).collect();
        Subjects {
            venues: self.venues.clone(),
            concerts: self.concerts.iter().map(|(concert_id, _)| *concert_id).collect(),
            customers: self.customers.clone(),
            orders: self.orders.clone(),
            searches: common::searches(&["Concert 1", "venue 2", "at step"], &["ber", "Street 1"], &GENRES, &days),
            now: embedded.now(),
        }
    }
}

/// A refusal is part of the game; a backend failure or a busy shop is not.
fn settle<T>(seed: u64, step: usize, what: &str, result: Result<T, AppError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(AppError::Rejected { .. } | AppError::NotFound(_)) => None,
        Err(error @ (AppError::Busy | AppError::Unavailable(_) | AppError::Store(_))) => {
            panic!("seed {seed:#x}, step {step}: {what} failed: {error}")
        }
    }
}

/// Both sides of the comparison and the bus between them.
struct Game {
    embedded: Embedded,
    read_models: PostgresReadModels,
    sinks: Vec<Arc<dyn BusSink>>,
    queries: PostgresQueries,
    /// The AWS configuration's read side: PostgreSQL, with carts in DynamoDB.
    read: ReadSide,
    bus: Bus,
    delivered: Position,
    rng: Rng,
    seed: u64,
}

impl Game {
    async fn new(seed: u64) -> Result<Self, TestError> {
        let embedded = embedded()?;
        let read_models = common::read_models().await;
        let carts = dynamodb_carts().await;
        let mut sinks = read_models.sinks();
        sinks.push(Arc::new(carts.clone()) as Arc<dyn BusSink>);
        let queries = read_models.queries();
        let read = ReadSide::new(Arc::new(queries.clone()), Arc::new(carts));
        let bus = Bus::new(&format!("kinesis/seed-{seed:x}/shard-0"));
        Ok(Self {
            embedded,
            read_models,
            sinks,
            queries,
            read,
            bus,
            delivered: Position::START,
            rng: Rng::new(seed),
            seed,
        })
    }

    /// Delivers what is new in the log, then holds both sides to the same
    /// answers.
    async fn deliver_and_compare(&mut self, world: &World, step: usize) -> TestResult {
        let events = self.embedded.events_after(self.delivered).await?;
        if let Some(last) = events.last() {
            self.delivered = last.position;
        }
        self.bus.deliver(&self.sinks, &*self.embedded.store, &events, &mut self.rng).await?;
        self.embedded.catch_up().await?;
        let subjects = world.subjects(&self.embedded);
        let expected = answers(&self.embedded.read_side(), &subjects).await?;
        let actual = answers(&self.read, &subjects).await?;
        assert_answers_equal(&expected, &actual, &format!("seed {:#x}, step {step}", self.seed));
        Ok(())
    }
}

async fn workload(game: &mut Game) -> Result<World, TestError> {
    let seed = game.seed;
    let mut rng = Rng::new(seed ^ 0x5555);
    let mut world = World {
        customers: (0..CUSTOMERS)
            .map(|_| CustomerId(uuid::Uuid::from_u128(u128::from(rng.next()) << 64 | 1)))
            .collect(),
        ..World::default()
    };
    let mut expiry = HoldExpiry::new();
    let mut observed = Position::START;
    let mut comparisons = 0;
    for step in 0..STEPS {
        let shop = &game.embedded.shop;
        let roll = if world.venues.len() < 3 { 0 } else { rng.next() % 100 };
        match roll {
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
                if let Some(venue_id) = settle(seed, step, "create venue", shop.create_venue(&ctx(), profile).await) {
                    world.venues.push(venue_id);
                }
            }
            3 => {
                if world.venues.len() > 4
                    && rng.chance(30)
                    && let Some(&venue_id) = rng.pick(&world.venues)
                {
                    settle(seed, step, "delete venue", shop.delete_venue(&ctx(), venue_id).await);
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
                if let Some(concert_id) = settle(seed, step, "create concert", shop.create_concert(&ctx(), form).await)
                {
                    world.concerts.push((concert_id, Vec::new()));
                    world.stages.push(Stage::Created);
                }
            }
            10..=16 => {
                let Some(index) = world.concert(&mut rng, Stage::Created, false) else { continue };
                let concert_id = world.concerts[index].0;
                let quantity = Quantity::new(rng.between(1, 30) as u32).expect("a quantity");
                let price = eur(rng.between(0, 50) * 100);
                let kind = name(&format!("Type {}", world.concerts[index].1.len()));
                let added = shop.add_ticket_type(&ctx(), concert_id, kind, price, quantity).await;
                if let Some(ticket_type_id) = settle(seed, step, "add ticket type", added) {
                    world.concerts[index].1.push(ticket_type_id);
                }
            }
            17 => {
                let Some(index) = world.concert(&mut rng, Stage::Created, true) else { continue };
                let (concert_id, ticket_types) = world.concerts[index].clone();
                let Some(&ticket_type_id) = rng.pick(&ticket_types) else { continue };
                // The id stays in the world: reserving it now must be refused.
                settle(
                    seed,
                    step,
                    "remove ticket type",
                    shop.remove_ticket_type(&ctx(), concert_id, ticket_type_id).await,
                );
            }
            18 => {
                let Some(index) = world.concert(&mut rng, Stage::Published, false) else { continue };
                let concert_id = world.concerts[index].0;
                let update = DetailsUpdate {
                    name: rng.chance(50).then(|| name(&format!("Concert {index} at step {step}"))),
                    profile: ticketing::ConcertProfile {
                        genre: rng.chance(50).then(|| Genre::new(GENRES[rng.index(GENRES.len())]).expect("a genre")),
                        ..Default::default()
                    },
                };
                settle(seed, step, "update details", shop.update_concert_details(&ctx(), concert_id, update).await);
            }
            19..=24 => {
                let Some(index) = world.concert(&mut rng, Stage::Created, true) else { continue };
                let concert_id = world.concerts[index].0;
                // Mostly weeks ahead; sometimes within hours, so sales stop
                // during the workload.
                let starts_at = if rng.chance(20) {
                    game.embedded.now() + Duration::minutes(rng.between(30, 600) as i64)
                } else {
                    start() + Duration::days(rng.between(20, 60) as i64) + Duration::hours(rng.between(0, 23) as i64)
                };
                let ends_at = starts_at + Duration::hours(rng.between(1, 5) as i64);
                let scheduled = shop.schedule_concert(&ctx(), concert_id, starts_at, ends_at).await;
                if settle(seed, step, "schedule", scheduled).is_some() && world.stages[index] == Stage::Created {
                    world.stages[index] = Stage::Scheduled;
                }
            }
            25..=31 => {
                let Some(index) = world.concert(&mut rng, Stage::Scheduled, false) else { continue };
                let concert_id = world.concerts[index].0;
                if settle(seed, step, "publish", shop.publish_concert(&ctx(), concert_id).await).is_some() {
                    world.stages[index] = Stage::Published;
                }
            }
            32 => {
                let Some(index) = world.concert(&mut rng, Stage::Published, false) else { continue };
                let concert_id = world.concerts[index].0;
                if settle(seed, step, "cancel", shop.cancel_concert(&ctx(), concert_id).await).is_some() {
                    world.stages[index] = Stage::Cancelled;
                }
            }
            33..=62 => {
                let Some(index) = world.concert(&mut rng, Stage::Published, true) else { continue };
                let (concert_id, ticket_types) = world.concerts[index].clone();
                let Some(&ticket_type_id) = rng.pick(&ticket_types) else { continue };
                let customer = world.customers[rng.index(world.customers.len())];
                let quantity = Quantity::new(rng.between(1, 12) as u32).expect("a quantity");
                let reserved = shop.reserve(&ctx(), customer, concert_id, ticket_type_id, quantity).await;
                if let Some(reservation) = settle(seed, step, "reserve", reserved) {
                    world.holds.push((customer, reservation.hold_id));
                }
            }
            63..=67 => {
                let recent = &world.holds[world.holds.len().saturating_sub(3)..];
                let holds = if rng.chance(70) { recent } else { &world.holds[..] };
                let Some(&(customer, hold_id)) = rng.pick(holds) else { continue };
                settle(seed, step, "remove cart item", shop.remove_cart_item(&ctx(), customer, hold_id).await);
            }
            68..=79 => {
                let mut buyers = Vec::new();
                for &customer in &world.customers {
                    let cart = shop.carts().load(CartId::of(customer).into()).await?;
                    if cart.state.live_items(game.embedded.now()).next().is_some() {
                        buyers.push(customer);
                    }
                }
                let customer = match rng.pick(&buyers) {
                    Some(&customer) if rng.chance(85) => customer,
                    _ => world.customers[rng.index(world.customers.len())],
                };
                if let Some(order_id) = settle(seed, step, "checkout", shop.checkout(&ctx(), customer).await) {
                    world.orders.push(order_id);
                }
            }
            80..=87 => {
                game.embedded.clock.advance(Duration::minutes(rng.between(1, 12) as i64));
                for record in game.embedded.events_after(observed).await? {
                    observed = record.position;
                    expiry.observe(&record)?;
                }
                let swept = expiry.sweep(shop, game.embedded.now()).await;
                assert_eq!(swept.failed, 0, "seed {seed:#x}, step {step}: a concert's sweep failed (see the log)");
            }
            88..=93 => {
                if world.checked_in.is_empty() || rng.chance(70) {
                    let Some(&order_id) = rng.pick(&world.orders) else { continue };
                    let order = shop.orders().load(order_id.into()).await?;
                    let codes: Vec<TicketCode> = order.state.tickets().map(|ticket| ticket.code.clone()).collect();
                    let Some(code) = rng.pick(&codes).cloned() else { continue };
                    if settle(seed, step, "check in", shop.check_in(&ctx(), order_id, code.clone()).await).is_some() {
                        world.checked_in.push((order_id, code));
                    }
                } else if let Some((order_id, code)) = rng.pick(&world.checked_in).cloned() {
                    settle(seed, step, "check in again", shop.check_in(&ctx(), order_id, code).await);
                }
            }
            _ => {
                game.deliver_and_compare(&world, step).await?;
                comparisons += 1;
            }
        }
    }
    game.deliver_and_compare(&world, STEPS).await?;
    assert!(comparisons > 0, "seed {seed:#x}: the read models were compared during the workload");
    assert!(!world.orders.is_empty(), "seed {seed:#x}: the workload sold something");
    Ok(world)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_careless_bus_feeds_read_models_that_answer_as_the_embedded_ones_and_rebuild_alike() -> TestResult {
    for seed in SEEDS {
        let mut game = Game::new(seed).await?;
        let world = workload(&mut game).await?;
        let subjects = world.subjects(&game.embedded);
        let live = answers(&game.read, &subjects).await?;
        let events = game.embedded.store.head().await?;
        let published = live.searches[0].iter().map(|page| page.items.len()).sum::<usize>();
        eprintln!("seed {seed:#x}: {} events, {} orders, {published} published concerts", events.0, live.orders.len());
        assert!(live.orders.len() > 1 && !live.searches[0][0].items.is_empty(), "seed {seed:#x}: too little");
        let head = game.embedded.store.head().await?;
        assert_eq!(game.read_models.rebuild_all(&*game.embedded.store).await?, head, "seed {seed:#x}");
        let rebuilt = answers(&game.read, &subjects).await?;
        assert_answers_equal(&live, &rebuilt, &format!("seed {seed:#x}, rebuilt"));
        for &order_id in &world.orders {
            let newest = game.embedded.store.load(order_id.into(), es_core::Version::INITIAL, 100).await?;
            let newest = newest.last().map(|event| event.aggregate_version);
            assert_eq!(game.queries.applied_version(order_id.into()).await?, newest, "seed {seed:#x}: {order_id}");
        }
    }
    Ok(())
}
