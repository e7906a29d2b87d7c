//! What the PostgreSQL read-model tests share: a fresh database per test on
//! the throwaway server at `CLOUDBASH_TEST_DATABASE_URL`, the real shop on
//! an embedded SQLite log with its SQLite read models (the reference the
//! PostgreSQL ones must answer like), a bus that delivers shuffled and
//! repeated batches, and every answer of the read side's ports, collected to
//! compare two backends.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use es_aws_bus::sink::{BusSink, Checkpoint, apply_delivery};
use es_core::{EventLog, EventStore, ManualClock, Position, ProjectionRunner, RecordedEvent, SnapshotStore, limits};
use es_sqlite::{Durability, SqliteEventStore};
use sqlx_postgres::{PgPool, PgPoolOptions};
use tempfile::TempDir;
use ticketing::{ConcertId, CustomerId, OrderId, TicketCode, VenueId};
use ticketing_app::queries::{
    AttendeeView, CartView, CatalogueQueries, ConcertSearch, ConcertSummary, ConcertView, DailySales, DraftSummary,
    OrderView, Page, QueryError, ReadSide, VenueView,
};
use ticketing_app::{RandomTicketCodes, Shop};
use ticketing_postgres::{PostgresQueries, PostgresReadModels};
use ticketing_sqlite::{ReadModels, SqliteQueries};

pub type TestError = Box<dyn std::error::Error + Send + Sync>;
pub type TestResult = Result<(), TestError>;

/// Connections of one test's pool: tests run in parallel on one server.
const TEST_POOL_CONNECTIONS_MAX: u32 = 4;

/// A fresh, empty database on the test server, migrated, for one test.
/// Fails (never skips) without a server to use.
pub async fn read_models() -> PostgresReadModels {
    let url = ticketing_testkit::services::fresh_database("read_models").await;
    let pool = PgPoolOptions::new()
        .max_connections(TEST_POOL_CONNECTIONS_MAX)
        .connect(&url)
        .await
        .expect("connects to the test's database");
    PostgresReadModels::open(pool.clone()).await.expect("migrates");
    // Opening twice is fine: the migration is applied once.
    PostgresReadModels::open(pool).await.expect("migrates again")
}

/// The pool of `read_models`, for looking at rows directly.
pub fn pool(read_models: &PostgresReadModels) -> &PgPool {
    read_models.pool()
}

pub use ticketing_testkit::start;

/// The real shop on an embedded SQLite log, with the embedded mode's read
/// models over it.
pub struct Embedded {
    _dir: TempDir,
    pub store: Arc<SqliteEventStore>,
    pub log: EventLog,
    pub clock: Arc<ManualClock>,
    pub shop: Shop,
    pub read_models: ReadModels,
    pub queries: Arc<SqliteQueries>,
}

pub fn embedded() -> Result<Embedded, TestError> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal)?);
    let clock = Arc::new(ManualClock::new(start()));
    let log = EventLog::new(store.clone(), clock.clone());
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    let shop = Shop::new(log.clone(), Some(snapshots), clock.clone(), Arc::new(RandomTicketCodes));
    let read_models = ReadModels::open(&store)?;
    let queries = Arc::new(SqliteQueries::open(&read_models)?);
    Ok(Embedded { _dir: dir, store, log, clock, shop, read_models, queries })
}

impl Embedded {
    pub fn now(&self) -> DateTime<Utc> {
        es_core::Clock::now(&*self.clock)
    }

    /// Brings the SQLite read models to the log's head.
    pub async fn catch_up(&self) -> Result<(), TestError> {
        for projection in self.read_models.projections() {
            ProjectionRunner::new(self.log.clone(), projection).catch_up().await?;
        }
        Ok(())
    }

    /// Every event of the log after `after`.
    pub async fn events_after(&self, mut after: Position) -> Result<Vec<RecordedEvent>, TestError> {
        let mut events = Vec::new();
        loop {
            let page = self.store.read_all(after, limits::READ_PAGE_MAX).await?;
            let Some(last) = page.last() else { break };
            after = last.position;
            events.extend(page);
        }
        Ok(events)
    }

    /// Every read model from SQLite: the reference.
    pub fn read_side(&self) -> ReadSide {
        ReadSide::of(Arc::clone(&self.queries))
    }

    /// The read models of `postgres`, with carts as the SQLite read models
    /// show them (carts are not under test here).
    pub fn beside(&self, postgres: &PostgresQueries) -> ReadSide {
        ReadSide::new(Arc::new(postgres.clone()), Arc::clone(&self.queries))
    }
}

/// xorshift64*: small, fast and good enough to shuffle deliveries.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Zero is xorshift's fixed point.
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// An index into a non-empty list of `len`.
    pub fn index(&mut self, len: usize) -> usize {
        (self.next() % len as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { Some(&items[self.index(items.len())]) }
    }

    /// True with `percent`% probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let other = self.index(last + 1);
            items.swap(last, other);
        }
    }
}

/// How many batches the bus has delivered, to number checkpoints.
pub struct Bus {
    pub key: String,
    pub delivered: u64,
}

impl Bus {
    pub fn new(key: &str) -> Self {
        Self { key: key.to_owned(), delivered: 0 }
    }

    /// Delivers `events` to every sink the way a careless bus would: each
    /// event at least once, a quarter of them twice, in a random order, in
    /// batches of random size, by two consumers at once, each batch with a
    /// checkpoint. `sink::apply_delivery` fills the gaps from `log`.
    pub async fn deliver(
        &mut self,
        sinks: &[Arc<dyn BusSink>],
        log: &dyn EventStore,
        events: &[RecordedEvent],
        rng: &mut Rng,
    ) -> Result<(), TestError> {
        let mut delivery: Vec<RecordedEvent> = events.to_vec();
        delivery.extend(events.iter().filter(|_| rng.chance(25)).cloned());
        rng.shuffle(&mut delivery);
        let mut batches: Vec<Vec<RecordedEvent>> = Vec::new();
        while !delivery.is_empty() {
            let size = (rng.between(1, 25) as usize).min(delivery.len());
            batches.push(delivery.drain(..size).collect());
        }
        let mut left = Vec::new();
        let mut right = Vec::new();
        for batch in batches {
            self.delivered += 1;
            let checkpoint = Checkpoint { key: self.key.clone(), value: self.delivered.to_string() };
            if rng.chance(50) { left.push((batch, checkpoint)) } else { right.push((batch, checkpoint)) }
        }
        let (left, right) = tokio::join!(consume(sinks, log, left), consume(sinks, log, right));
        left?;
        right?;
        Ok(())
    }
}

async fn consume(
    sinks: &[Arc<dyn BusSink>],
    log: &dyn EventStore,
    batches: Vec<(Vec<RecordedEvent>, Checkpoint)>,
) -> Result<(), TestError> {
    for (batch, checkpoint) in batches {
        for sink in sinks {
            apply_delivery(&**sink, log, batch.clone(), Some(&checkpoint)).await?;
        }
    }
    Ok(())
}

/// What to ask the read models about.
#[derive(Clone, Debug, Default)]
pub struct Subjects {
    pub venues: Vec<VenueId>,
    pub concerts: Vec<ConcertId>,
    pub customers: Vec<CustomerId>,
    pub orders: Vec<OrderId>,
    pub searches: Vec<ConcertSearch>,
    /// The time carts are shown at.
    pub now: DateTime<Utc>,
}

/// Everything the read side answers about the subjects.
#[derive(Debug, PartialEq)]
pub struct Answers {
    pub venue_pages: Vec<Vec<Page<VenueView>>>,
    pub venues: Vec<Option<VenueView>>,
    pub searches: Vec<Vec<Page<ConcertSummary>>>,
    pub drafts: Vec<Vec<Page<DraftSummary>>>,
    pub concerts: Vec<(Option<ConcertView>, Option<ConcertView>)>,
    pub carts: Vec<CartView>,
    pub orders: Vec<OrderView>,
    pub orders_by_customer: Vec<Vec<OrderView>>,
    pub each_order: Vec<Option<OrderView>>,
    pub ticket_orders: Vec<(String, Option<OrderId>)>,
    pub attendees: Vec<Vec<AttendeeView>>,
    pub sales: Vec<Vec<DailySales>>,
}

/// Every page of a search, following the cursors.
pub async fn all_pages(
    queries: &dyn CatalogueQueries,
    search: &ConcertSearch,
) -> Result<Vec<Page<ConcertSummary>>, QueryError> {
    let first = search.cursor.clone();
    every_page(first, |cursor| queries.concerts(ConcertSearch { cursor, ..search.clone() })).await
}

/// The page at `first` and every one after it, following the cursors.
async fn every_page<T, Answer>(
    first: Option<String>,
    mut fetch: impl FnMut(Option<String>) -> Answer,
) -> Result<Vec<Page<T>>, QueryError>
where
    Answer: std::future::Future<Output = Result<Page<T>, QueryError>>,
{
    let mut pages = Vec::new();
    let mut cursor = first;
    loop {
        let page = fetch(cursor).await?;
        cursor = page.next_cursor.clone();
        pages.push(page);
        if cursor.is_none() {
            return Ok(pages);
        }
    }
}

pub async fn answers(read: &ReadSide, subjects: &Subjects) -> Result<Answers, QueryError> {
    let (mut venue_pages, mut drafts) = (Vec::new(), Vec::new());
    for limit in [None, Some(1), Some(3)] {
        venue_pages.push(every_page(None, |cursor| read.venues().venues(cursor, limit)).await?);
        drafts.push(every_page(None, |cursor| read.catalogue().drafts(cursor, limit)).await?);
    }
    let mut venues = Vec::new();
    for &venue_id in &subjects.venues {
        venues.push(read.venues().venue(venue_id).await?);
    }
    let mut searches = Vec::new();
    for search in &subjects.searches {
        searches.push(all_pages(read.catalogue().as_ref(), search).await?);
    }
    let (mut concerts, mut attendees, mut sales) = (Vec::new(), Vec::new(), Vec::new());
    for &concert_id in &subjects.concerts {
        concerts.push((
            read.catalogue().concert(concert_id, true).await?,
            read.catalogue().concert(concert_id, false).await?,
        ));
        attendees.push(read.attendees().attendees(concert_id).await?);
        sales.push(read.sales().sales(concert_id).await?);
    }
    let mut ticket_orders = Vec::new();
    let codes = attendees.iter().flatten().map(|attendee: &AttendeeView| attendee.ticket_code.clone());
    for code in codes.chain(["ZZZZZZZZZZZZZZZZZZZZ".to_owned()]) {
        let order = read.orders().ticket_order(&TicketCode::new(code.clone()).map_err(QueryError::store)?).await?;
        ticket_orders.push((code, order));
    }
    let (mut carts, mut orders_by_customer) = (Vec::new(), Vec::new());
    for &customer in &subjects.customers {
        carts.push(read.carts().cart(customer, subjects.now).await?);
        orders_by_customer.push(read.orders().orders(Some(customer)).await?);
    }
    let mut each_order = Vec::new();
    for &order_id in &subjects.orders {
        each_order.push(read.orders().order(order_id).await?);
    }
    Ok(Answers {
        venue_pages,
        venues,
        searches,
        drafts,
        concerts,
        carts,
        orders: read.orders().orders(None).await?,
        orders_by_customer,
        each_order,
        ticket_orders,
        attendees,
        sales,
    })
}

/// Field by field, so that a failure names the read model that differs.
pub fn assert_answers_equal(expected: &Answers, actual: &Answers, context: &str) {
    assert_eq!(expected.venue_pages, actual.venue_pages, "{context}: venue pages");
    assert_eq!(expected.venues, actual.venues, "{context}: venues");
    for (index, (expected, actual)) in expected.searches.iter().zip(&actual.searches).enumerate() {
        assert_eq!(expected, actual, "{context}: search {index}");
    }
    assert_eq!(expected.drafts, actual.drafts, "{context}: drafts");
    assert_eq!(expected.concerts, actual.concerts, "{context}: concert pages");
    assert_eq!(expected.carts, actual.carts, "{context}: carts");
    assert_eq!(expected.orders, actual.orders, "{context}: orders");
    assert_eq!(expected.orders_by_customer, actual.orders_by_customer, "{context}: orders by customer");
    assert_eq!(expected.each_order, actual.each_order, "{context}: each order");
    assert_eq!(expected.ticket_orders, actual.ticket_orders, "{context}: ticket orders");
    assert_eq!(expected.attendees, actual.attendees, "{context}: attendees");
    assert_eq!(expected.sales, actual.sales, "{context}: sales");
    assert_eq!(expected, actual, "{context}");
}

/// Searches that exercise every filter, paging and case folding, given
/// some words that occur in names, places and genres.
pub fn searches(names: &[&str], places: &[&str], genres: &[&str], days: &[DateTime<Utc>]) -> Vec<ConcertSearch> {
    let all = ConcertSearch::default();
    let mut searches = vec![all.clone()];
    for limit in [1, 2, 4] {
        searches.push(ConcertSearch { limit: Some(limit), ..all.clone() });
    }
    for name in names {
        searches.push(ConcertSearch { q: Some((*name).to_owned()), ..all.clone() });
        searches.push(ConcertSearch { q: Some(name.to_uppercase()), limit: Some(1), ..all.clone() });
    }
    for place in places {
        searches.push(ConcertSearch { location: Some((*place).to_owned()), ..all.clone() });
        searches.push(ConcertSearch { location: Some(place.to_lowercase()), limit: Some(2), ..all.clone() });
    }
    for genre in genres {
        searches.push(ConcertSearch { genre: Some((*genre).to_owned()), ..all.clone() });
        searches.push(ConcertSearch { genre: Some(genre.to_uppercase()), ..all.clone() });
    }
    for (index, &day) in days.iter().enumerate() {
        searches.push(ConcertSearch { from: Some(day), ..all.clone() });
        searches.push(ConcertSearch { to: Some(day), limit: Some(2), ..all.clone() });
        if let Some(&later) = days.get(index + 1) {
            let (from, to) = if later < day { (later, day) } else { (day, later) };
            searches.push(ConcertSearch { from: Some(from), to: Some(to), ..all.clone() });
        }
    }
    // Wildcards are literal, the empty text matches everything.
    for odd in ["%", "_", "\\", ""] {
        searches.push(ConcertSearch { q: Some(odd.to_owned()), ..all.clone() });
        searches.push(ConcertSearch { location: Some(odd.to_owned()), ..all.clone() });
    }
    if let (Some(name), Some(place), Some(genre)) = (names.first(), places.first(), genres.first()) {
        searches.push(ConcertSearch {
            q: Some((*name).to_owned()),
            location: Some((*place).to_owned()),
            genre: Some((*genre).to_owned()),
            limit: Some(1),
            ..all.clone()
        });
    }
    searches
}
