//! The read models against the real command side on a real SQLite file:
//! the shop's handlers write the log, the projections catch up, and the
//! queries must show what happened — searches, drafts hidden, availability,
//! carts, orders, check-ins, daily sales — and must not change when a batch
//! is delivered twice or when every read model is rebuilt from the log.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use es_core::{EventLog, EventStore, ManualClock, Position, ProjectionRunner, SnapshotStore, limits, rebuild};
use es_sqlite::{Durability, SqliteEventStore};
use tempfile::TempDir;
use ticketing_app::queries::{
    AttendeeQueries, AttendeeView, CartQueries, CartView, CatalogueQueries, ConcertSearch, ConcertStatusView,
    ConcertSummary, ConcertView, DailySales, OrderQueries, OrderView, Page, QueryError, ReadProgress, SalesQueries,
    VenueQueries, VenueView,
};
use ticketing_app::{RandomTicketCodes, Shop};
use ticketing_sqlite::{ReadModels, SqliteQueries};
use ticketing_testkit::{Story, StoryError, eur, evening, start};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

struct Fixture {
    _dir: TempDir,
    store: Arc<SqliteEventStore>,
    log: EventLog,
    clock: Arc<ManualClock>,
    shop: Shop,
    read_models: ReadModels,
    queries: SqliteQueries,
}

fn open() -> Result<Fixture, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal)?);
    let clock = Arc::new(ManualClock::new(start()));
    let log = EventLog::new(store.clone(), clock.clone());
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    let shop = Shop::new(log.clone(), Some(snapshots), clock.clone(), Arc::new(RandomTicketCodes));
    let read_models = ReadModels::open(&store)?;
    let queries = SqliteQueries::open(&read_models)?;
    Ok(Fixture { _dir: dir, store, log, clock, shop, read_models, queries })
}

impl Fixture {
    async fn catch_up(&self) -> Result<Position, Box<dyn std::error::Error + Send + Sync>> {
        let mut lowest = None;
        for projection in self.read_models.projections() {
            let position = ProjectionRunner::new(self.log.clone(), projection).catch_up().await?;
            lowest = Some(lowest.map_or(position, |lowest: Position| lowest.min(position)));
        }
        Ok(lowest.unwrap_or(Position::START))
    }
}

async fn story(fixture: &Fixture) -> Result<Story, StoryError> {
    ticketing_testkit::tell(&fixture.shop, &fixture.clock).await
}

fn names(page: &Page<ConcertSummary>) -> Vec<&str> {
    page.items.iter().map(|concert| concert.name.as_str()).collect()
}

async fn search(queries: &SqliteQueries, search: ConcertSearch) -> Result<Vec<String>, QueryError> {
    Ok(names(&queries.concerts(search).await?).into_iter().map(str::to_owned).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_matches_names_places_dates_and_genres_of_published_concerts_only() -> TestResult {
    let fixture = open()?;
    story(&fixture).await?;
    fixture.catch_up().await?;
    let queries = &fixture.queries;
    let all = ConcertSearch::default();

    assert_eq!(search(queries, all.clone()).await?, ["Night of the Crabs", "Jazz Brunch"], "the draft is hidden");
    let by = |q: &str| ConcertSearch { q: Some(q.into()), ..all.clone() };
    assert_eq!(search(queries, by("CRAB")).await?, ["Night of the Crabs"]);
    assert_eq!(search(queries, by("ancienne")).await?, ["Jazz Brunch"], "q matches the venue's name");
    assert!(search(queries, by("secret")).await?.is_empty(), "q finds no draft");
    let at = |place: &str| ConcertSearch { location: Some(place.into()), ..all.clone() };
    assert_eq!(search(queries, at("brussels")).await?, ["Jazz Brunch"]);
    assert_eq!(search(queries, at("weteringschans")).await?, ["Night of the Crabs"], "location matches the address");
    let (first_start, _) = evening(1);
    let (second_start, _) = evening(10);
    let until_first = ConcertSearch { to: Some(first_start), ..all.clone() };
    assert_eq!(search(queries, until_first).await?, ["Night of the Crabs"], "to is inclusive");
    let from_second = ConcertSearch { from: Some(second_start), ..all.clone() };
    assert_eq!(search(queries, from_second).await?, ["Jazz Brunch"], "from is inclusive");
    let between = ConcertSearch { from: Some(evening(2).0), to: Some(evening(9).0), ..all.clone() };
    assert!(search(queries, between).await?.is_empty());
    let jazz = ConcertSearch { genre: Some("JAZZ".into()), ..all.clone() };
    assert_eq!(search(queries, jazz).await?, ["Jazz Brunch"]);
    let partial_genre = ConcertSearch { genre: Some("Ja".into()), ..all.clone() };
    assert!(search(queries, partial_genre).await?.is_empty(), "genre matches exactly");

    let first = queries.concerts(ConcertSearch { limit: Some(1), ..all.clone() }).await?;
    assert_eq!(names(&first), ["Night of the Crabs"]);
    assert_eq!(first.items[0].venue.city, "Amsterdam");
    let cursor = first.next_cursor.clone().ok_or("a first page of one has a next cursor")?;
    let second = queries.concerts(ConcertSearch { limit: Some(1), cursor: Some(cursor), ..all.clone() }).await?;
    assert_eq!(names(&second), ["Jazz Brunch"]);
    assert_eq!(second.next_cursor, None, "the last page has no cursor");
    let invalid = queries.concerts(ConcertSearch { cursor: Some("not hex".into()), ..all.clone() }).await;
    assert!(matches!(invalid, Err(QueryError::InvalidCursor)), "{invalid:?}");
    let venues = queries.venues(None, Some(1)).await?;
    assert_eq!(venues.items.iter().map(|venue| venue.name.as_str()).collect::<Vec<_>>(), ["Ancienne Belgique"]);
    let rest = queries.venues(venues.next_cursor, None).await?;
    assert_eq!(rest.items.iter().map(|venue| venue.city.as_str()).collect::<Vec<_>>(), ["Amsterdam"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concerts_carts_orders_attendees_and_sales_show_what_happened() -> TestResult {
    let fixture = open()?;
    let story = story(&fixture).await?;
    let position = fixture.catch_up().await?;
    let queries = &fixture.queries;
    assert_eq!(queries.position().await?, position);
    assert_eq!(position, fixture.store.head().await?);

    assert_eq!(queries.concert(story.draft, false).await?, None, "drafts are hidden from buyers");
    let draft = queries.concert(story.draft, true).await?.ok_or("organisers see drafts")?;
    assert_eq!(draft.status, ConcertStatusView::Draft);

    let crabs = queries.concert(story.crabs.0, false).await?.ok_or("a published concert")?;
    assert_eq!(crabs.status, ConcertStatusView::Published);
    assert_eq!(crabs.venue.name, "Paradiso");
    assert_eq!(crabs.ticket_types.len(), 1);
    assert_eq!(crabs.ticket_types[0].price, eur(2_500));
    assert_eq!(crabs.ticket_types[0].available, 100 - 3 - 1 - 4, "sold and held tickets are not available");
    let jazz = queries.concert(story.jazz.0, false).await?.ok_or("a published concert")?;
    assert_eq!(jazz.ticket_types[0].available, 98);

    let now = fixture.clock_now();
    let cart = queries.cart(story.browser, now).await?;
    assert_eq!(cart.items.len(), 1);
    assert_eq!((cart.items[0].concert_id, cart.items[0].quantity), (story.crabs.0, 4));
    assert_eq!(cart.total, Some(eur(10_000)));
    let later = queries.cart(story.browser, now + Duration::minutes(ticketing::limits::HOLD_MINUTES)).await?;
    assert_eq!(later, CartView { items: vec![], total: None }, "an expired item is not shown");
    assert_eq!(queries.cart(story.buyer, now).await?.items.len(), 0, "checkout empties the cart");

    let order = queries.order(story.first_order).await?.ok_or("the order")?;
    assert_eq!(order.customer_id, story.buyer);
    assert_eq!(order.total, eur(3 * 2_500 + 2 * 4_000));
    assert_eq!(order.tickets.len(), 5);
    assert_eq!(order.placed_at, start());
    let mine = queries.orders(Some(story.buyer)).await?;
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[1].id, story.first_order, "newest first");
    assert!(queries.orders(Some(story.browser)).await?.is_empty());
    assert_eq!(queries.orders(None).await?.len(), 2);

    let attendees = queries.attendees(story.crabs.0).await?;
    assert_eq!(attendees.len(), 4);
    let checked_in: Vec<_> = attendees.iter().filter_map(|attendee| attendee.checked_in_at).collect();
    assert_eq!(checked_in, [story.checked_in_at]);
    for attendee in &attendees {
        let code = ticketing::TicketCode::new(attendee.ticket_code.clone())?;
        assert_eq!(queries.ticket_order(&code).await?, Some(attendee.order_id), "the door finds the ticket's order");
    }
    let unknown = ticketing::TicketCode::new("ZZZZZZZZZZZZZZZZZZZZ")?;
    assert_eq!(queries.ticket_order(&unknown).await?, None);

    let day = |d: u32| NaiveDate::from_ymd_opt(2030, 1, d).expect("a day");
    assert_eq!(queries.sales(story.crabs.0).await?, [sold(day(1), 3, eur(7_500)), sold(day(2), 1, eur(2_500))]);
    assert_eq!(queries.sales(story.jazz.0).await?, [sold(day(1), 2, eur(8_000))]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_concerts_refunds_leave_the_door_and_show_in_the_sales() -> TestResult {
    let fixture = open()?;
    let story = story(&fixture).await?;
    let refunded_at = ticketing_testkit::cancel_jazz(&fixture.shop, &fixture.clock, &story).await?;
    fixture.catch_up().await?;
    let queries = &fixture.queries;

    assert_eq!(queries.sales(story.jazz.0).await?, ticketing_testkit::jazz_sales_after_refund(refunded_at));
    assert!(queries.attendees(story.jazz.0).await?.is_empty(), "paid back: nobody holds a jazz ticket");
    assert_eq!(queries.attendees(story.crabs.0).await?.len(), 4, "the other concert's holders stay");
    let order = queries.order(story.first_order).await?.ok_or("the order")?;
    assert_eq!((order.status, order.tickets.len()), (ticketing::OrderStatus::Paid, 3), "its crabs tickets stay");
    Ok(())
}

/// A day's sales with nothing paid back.
fn sold(day: NaiveDate, tickets_sold: u64, revenue: ticketing::Money) -> DailySales {
    DailySales { day, tickets_sold, revenue, tickets_refunded: 0, refunded: eur(0) }
}

impl Fixture {
    fn clock_now(&self) -> DateTime<Utc> {
        es_core::Clock::now(&*self.clock)
    }
}

/// Everything the queries answer about the story.
#[derive(Debug, PartialEq)]
struct Answers {
    venues: Page<VenueView>,
    concerts: Page<ConcertSummary>,
    pages: Vec<Option<ConcertView>>,
    carts: Vec<CartView>,
    orders: Vec<OrderView>,
    attendees: Vec<AttendeeView>,
    sales: Vec<Vec<DailySales>>,
}

async fn answers(fixture: &Fixture, story: &Story) -> Result<Answers, QueryError> {
    let queries = &fixture.queries;
    let now = fixture.clock_now();
    let mut pages = Vec::new();
    for id in [story.crabs.0, story.jazz.0, story.draft] {
        pages.push(queries.concert(id, true).await?);
    }
    Ok(Answers {
        venues: queries.venues(None, None).await?,
        concerts: queries.concerts(ConcertSearch::default()).await?,
        pages,
        carts: vec![queries.cart(story.buyer, now).await?, queries.cart(story.browser, now).await?],
        orders: queries.orders(None).await?,
        attendees: queries.attendees(story.crabs.0).await?,
        sales: vec![queries.sales(story.crabs.0).await?, queries.sales(story.jazz.0).await?],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delivering_every_event_again_changes_no_answer() -> TestResult {
    let fixture = open()?;
    let story = story(&fixture).await?;
    let head = fixture.catch_up().await?;
    let before = answers(&fixture, &story).await?;

    // Past the checkpoint's compare-and-set: the whole log again, as a batch
    // read after the current position. Only the version guards stop it.
    let mut everything = Vec::new();
    let mut after = Position::START;
    loop {
        let page = fixture.store.read_all(after, limits::READ_PAGE_MAX).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        everything.extend(page);
    }
    assert_eq!(after, head);
    for projection in fixture.read_models.projections() {
        projection.apply(head, &everything).await?;
    }
    assert_eq!(answers(&fixture, &story).await?, before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilding_every_read_model_gives_the_same_answers() -> TestResult {
    let fixture = open()?;
    let story = story(&fixture).await?;
    let head = fixture.catch_up().await?;
    let before = answers(&fixture, &story).await?;
    assert!(!before.orders.is_empty() && before.carts[1].total.is_some(), "the story left something to compare");
    for projection in fixture.read_models.rebuildable() {
        assert_eq!(rebuild(&fixture.log, &*projection, |_, _| {}).await?, head);
    }
    assert_eq!(answers(&fixture, &story).await?, before);
    assert_eq!(fixture.queries.position().await?, head);
    Ok(())
}

fn raw(event_type: &str, data: &str) -> es_core::NewEvent {
    es_core::NewEvent {
        event_id: es_core::EventId::random(),
        event_type: event_type.into(),
        schema_version: 1,
        data: data.into(),
        created: start(),
        metadata: es_core::Metadata::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_event_types_are_skipped_but_a_known_type_that_does_not_decode_fails_the_batch() -> TestResult {
    use es_core::{AggregateId, AppendRequest, ExpectedVersion, ProjectionError};
    let fixture = open()?;
    let stranger = AggregateId::random();
    let request = AppendRequest::single(stranger, ExpectedVersion::Any, vec![raw("NewsletterSent", "{}")]);
    fixture.store.append(request).await?;
    let head = fixture.catch_up().await?;
    assert_eq!(fixture.queries.position().await?, head, "an unknown type moves every checkpoint");

    let broken = AggregateId::random();
    let request = AppendRequest::single(broken, ExpectedVersion::Any, vec![raw("VenueCreated", r#"{"name":1}"#)]);
    fixture.store.append(request).await?;
    for projection in fixture.read_models.projections() {
        let result = ProjectionRunner::new(fixture.log.clone(), projection.clone()).catch_up().await;
        if projection.name() == ticketing_sqlite::VENUES || projection.name() == ticketing_sqlite::CATALOGUE {
            assert!(matches!(result, Err(ProjectionError::Apply { .. })), "{}: {result:?}", projection.name());
            assert_eq!(projection.position().await?, head, "the failed batch moved the checkpoint");
        } else {
            assert!(result.is_ok(), "{} does not read venues: {result:?}", projection.name());
        }
    }
    Ok(())
}
