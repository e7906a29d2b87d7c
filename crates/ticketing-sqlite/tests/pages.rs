//! The lists SQLite pages in its store (orders, a concert's attendees)
//! against `Queries`' default pages, which read the whole list and page it
//! in memory (what a backend without its own paging answers): the same
//! pages with the same cursors, page after page, for every page size, with
//! orders placed at the same instant told apart by id. Either way the pages
//! add up to the whole list, once, in its order.

use std::sync::Arc;

use es_core::{EventLog, ManualClock, ProjectionRunner, SnapshotStore, async_trait};
use es_sqlite::{Durability, SqliteEventStore};
use tempfile::TempDir;
use ticketing::{ConcertId, CustomerId, OrderId, TicketCode};
use ticketing_app::queries::{AttendeeQueries, AttendeeView, OrderQueries, OrderView, Page, QueryError};
use ticketing_app::{RandomTicketCodes, Shop};
use ticketing_sqlite::{ReadModels, SqliteQueries};
use ticketing_testkit::{all_pages, ctx, quantity, start};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// SQLite's orders and attendees without its own paging: every paged list comes from the ports' defaults.
struct Unpaged(SqliteQueries);

#[async_trait]
impl OrderQueries for Unpaged {
    async fn orders(&self, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError> {
        self.0.orders(customer).await
    }
    async fn order(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        self.0.order(id).await
    }
    async fn ticket_order(&self, code: &TicketCode) -> Result<Option<OrderId>, QueryError> {
        self.0.ticket_order(code).await
    }
}

#[async_trait]
impl AttendeeQueries for Unpaged {
    async fn attendees(&self, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError> {
        self.0.attendees(concert_id).await
    }
}

struct Fixture {
    _dir: TempDir,
    shop: Shop,
    clock: Arc<ManualClock>,
    paged: SqliteQueries,
    unpaged: Unpaged,
    log: EventLog,
    read_models: ReadModels,
}

fn open() -> Result<Fixture, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal)?);
    let clock = Arc::new(ManualClock::new(start()));
    let log = EventLog::new(store.clone(), clock.clone());
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    let shop = Shop::new(log.clone(), Some(snapshots), clock.clone(), Arc::new(RandomTicketCodes));
    let read_models = ReadModels::open(&store)?;
    let paged = SqliteQueries::open(&read_models)?;
    let unpaged = Unpaged(SqliteQueries::open(&read_models)?);
    Ok(Fixture { _dir: dir, shop, clock, paged, unpaged, log, read_models })
}

impl Fixture {
    async fn catch_up(&self) -> TestResult {
        for projection in self.read_models.projections() {
            ProjectionRunner::new(self.log.clone(), projection).catch_up().await?;
        }
        Ok(())
    }
}

fn joined<T: Clone>(pages: &[Page<T>]) -> Vec<T> {
    pages.iter().flat_map(|page| page.items.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_and_attendees_page_in_the_store_as_the_defaults_page_in_memory() -> TestResult {
    let fixture = open()?;
    let story = ticketing_testkit::tell(&fixture.shop, &fixture.clock).await?;
    // Five orders placed at one instant: only their ids order them.
    for _ in 0..5 {
        let buyer = CustomerId(uuid::Uuid::now_v7());
        fixture.shop.reserve(&ctx(), buyer, story.crabs.0, story.crabs.1, quantity(2)).await?;
        fixture.shop.checkout(&ctx(), buyer).await?;
    }
    fixture.catch_up().await?;
    let (paged, unpaged) = (&fixture.paged, &fixture.unpaged);
    let everyone = paged.orders(None).await?;
    let attendees = paged.attendees(story.crabs.0).await?;
    assert_eq!((everyone.len(), attendees.len()), (7, 14), "the story and five more orders");

    for limit in [1, 2, 3, 100] {
        let limit = Some(limit);
        let orders = all_pages(|cursor| paged.orders_page(None, cursor, limit)).await?;
        let in_memory = all_pages(|cursor| unpaged.orders_page(None, cursor, limit)).await?;
        assert_eq!(orders, in_memory, "orders, {limit:?} a page");
        assert_eq!(joined(&orders), everyone, "orders, {limit:?} a page");

        let buyer = Some(story.buyer);
        let mine = all_pages(|cursor| paged.orders_page(buyer, cursor, limit)).await?;
        assert_eq!(mine, all_pages(|cursor| unpaged.orders_page(buyer, cursor, limit)).await?);
        assert_eq!(joined(&mine), paged.orders(buyer).await?, "a customer's orders, {limit:?} a page");

        let crabs = story.crabs.0;
        let holders = all_pages(|cursor| paged.attendees_page(crabs, cursor, limit)).await?;
        assert_eq!(holders, all_pages(|cursor| unpaged.attendees_page(crabs, cursor, limit)).await?);
        assert_eq!(joined(&holders), attendees, "attendees, {limit:?} a page");
    }
    let first = paged.orders_page(None, None, Some(2)).await?;
    assert_eq!(first.items.len(), 2);
    let empty = paged.attendees_page(story.draft, None, None).await?;
    assert_eq!(empty, Page { items: Vec::new(), next_cursor: None });
    for (orders, attendees) in
        [(paged as &dyn OrderQueries, paged as &dyn AttendeeQueries), (unpaged as _, unpaged as _)]
    {
        let forged = orders.orders_page(None, Some("not hex".to_owned()), None).await;
        assert!(matches!(forged, Err(QueryError::InvalidCursor)), "{forged:?}");
        let forged = attendees.attendees_page(story.crabs.0, Some("7c".to_owned()), None).await;
        assert!(matches!(forged, Err(QueryError::InvalidCursor)), "{forged:?}");
    }
    Ok(())
}
