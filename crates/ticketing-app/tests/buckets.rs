//! A concert that sells from buckets, against the real SQLite log, with two
//! shops over one file standing in for two processes (each has its own
//! caches, so each decides on what the log says): never more sold than
//! there are, tickets moving to where buyers are, and every hold settled
//! where it is kept — released, expired, sold or closed by a cancellation.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration;
use common::*;
use es_core::{
    Aggregate, AggregateId, AppendError, AppendRequest, Appended, Clock, CommandId, CommandRecord, EventStore,
    Position, RecordedEvent, StoreError, Version,
};
use es_sqlite::SqliteEventStore;
use ticketing::{Bucket, BucketId, ConcertId, Quantity, RefusalKind, TicketTypeId};
use ticketing_app::Shop;

const BUCKETS: u16 = 4;

/// A fixture whose shop publishes with [`BUCKETS`] buckets, and a second
/// shop over the same log.
fn two_processes() -> Result<(Fixture, Arc<Shop>), Box<dyn std::error::Error + Send + Sync>> {
    let mut fixture = open()?;
    fixture.shop = Arc::new(shop_over(&fixture.store, &fixture.clock).with_buckets_per_concert(BUCKETS));
    let other = Arc::new(shop_over(&fixture.store, &fixture.clock).with_buckets_per_concert(BUCKETS));
    Ok((fixture, other))
}

/// Every bucket of the concert, as the log has it now.
async fn buckets(shop: &Shop, concert_id: ConcertId) -> Result<Vec<Bucket>, Box<dyn std::error::Error + Send + Sync>> {
    let mut all = Vec::new();
    for index in 0..BUCKETS {
        all.push(shop.buckets().refresh(BucketId::of(concert_id, index).into()).await?.state);
    }
    Ok(all)
}

/// (quantity, held, sold) of a ticket type summed over the buckets.
fn totals(buckets: &[Bucket], ticket_type_id: TicketTypeId) -> (u32, u32, u32) {
    buckets
        .iter()
        .filter_map(|bucket| bucket.stock_of(ticket_type_id))
        .fold((0, 0, 0), |(q, h, s), stock| (q + stock.quantity, h + stock.held, s + stock.sold))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buyers_in_two_processes_never_buy_more_than_there_are() -> TestResult {
    let (fixture, other) = two_processes()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 30).await?;
    let concert = fixture.shop.concerts().refresh(concert_id.into()).await?;
    assert_eq!(concert.state.buckets(), BUCKETS);

    let mut buyers = tokio::task::JoinSet::new();
    for n in 0..50 {
        let shop = Arc::clone(if n % 2 == 0 { &fixture.shop } else { &other });
        buyers.spawn(async move {
            let buyer = customer();
            shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(1)).await?;
            shop.checkout(&ctx(), buyer).await
        });
    }
    let (mut sold, mut refused) = (0, 0);
    while let Some(outcome) = buyers.join_next().await {
        match outcome? {
            Ok(_) => sold += 1,
            Err(error) => {
                assert!(is_refusal(&Err::<(), _>(error), RefusalKind::Conflict), "only sold-out refusals");
                refused += 1;
            }
        }
    }

    assert_eq!((sold, refused), (30, 20));
    assert_eq!(totals(&buckets(&fixture.shop, concert_id).await?, ticket_type_id), (30, 0, 30));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_buyer_whose_bucket_ran_dry_gets_tickets_moved_from_the_others() -> TestResult {
    let (fixture, _other) = two_processes()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 8).await?;
    let buyer = customer();

    fixture.shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(5)).await?;
    let refused = fixture.shop.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(4)).await;

    assert!(is_refusal(&refused, RefusalKind::Conflict), "3 left in all: {refused:?}");
    let all = buckets(&fixture.shop, concert_id).await?;
    assert_eq!(totals(&all, ticket_type_id), (8, 5, 0), "moves change shares, never the sum");
    let keeper = all.iter().find(|bucket| bucket.stock_of(ticket_type_id).is_some_and(|stock| stock.held == 5));
    assert!(keeper.is_some(), "one bucket keeps the whole hold: {all:?}");
    fixture.shop.checkout(&ctx(), buyer).await?;
    assert_eq!(totals(&buckets(&fixture.shop, concert_id).await?, ticket_type_id), (8, 0, 5));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cart_keeps_the_tickets_of_one_concert_in_one_bucket() -> TestResult {
    let (fixture, _other) = two_processes()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 100).await?;
    let buyer = customer();

    for _ in 0..3 {
        fixture.shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(2)).await?;
    }

    let cart = fixture.shop.carts().refresh(ticketing::CartId::of(buyer).into()).await?;
    let kept: std::collections::BTreeSet<_> = cart.state.items().iter().map(|item| item.bucket).collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept.iter().all(Option::is_some), "held in a bucket, not in the concert");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holds_in_buckets_are_released_expired_and_closed_where_they_are_kept() -> TestResult {
    let (fixture, other) = two_processes()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 20).await?;
    let (leaver, sleeper, late) = (customer(), customer(), customer());
    let left = shop.reserve(&ctx(), leaver, concert_id, ticket_type_id, quantity(2)).await?;
    shop.reserve(&ctx(), sleeper, concert_id, ticket_type_id, quantity(3)).await?;

    other.remove_cart_item(&ctx(), leaver, left.hold_id).await?;
    fixture.clock.advance(Duration::minutes(ticketing::limits::HOLD_MINUTES));
    let now = fixture.clock.now();
    let mut expired = 0;
    for index in 0..BUCKETS {
        expired += other.expire_holds(BucketId::of(concert_id, index).into(), now).await?;
    }
    assert_eq!(expired, 1);
    assert_eq!(totals(&buckets(shop, concert_id).await?, ticket_type_id), (20, 0, 0));

    shop.reserve(&ctx(), late, concert_id, ticket_type_id, quantity(1)).await?;
    shop.cancel_concert(&ctx(), concert_id).await?;
    let after = other.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(1)).await;
    assert!(is_refusal(&after, RefusalKind::Conflict), "a cancelled concert sells nothing: {after:?}");
    let checkout = other.checkout(&ctx(), late).await;
    assert!(is_refusal(&checkout, RefusalKind::Conflict), "nor checks out its holds: {checkout:?}");
    assert!(buckets(shop, concert_id).await?.iter().all(Bucket::is_closed));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_published_concert_withdraws_a_ticket_type_from_every_bucket_only_while_none_is_held() -> TestResult {
    let (fixture, _other) = two_processes()?;
    let shop = &fixture.shop;
    let venue_id = venue(shop).await?;
    let concert_id = draft(shop, venue_id).await?;
    let price = ticketing::Money::new(1_000, ticketing::Currency::new("EUR").expect("a currency"));
    let mut types = Vec::new();
    for name in ["Standing", "Balcony"] {
        let name = ticketing::Name::new(name).expect("a name");
        types.push(shop.add_ticket_type(&ctx(), concert_id, name, price, Quantity::new(10).expect("ten")).await?);
    }
    let (starts_at, ends_at) = evening(1);
    shop.schedule_concert(&ctx(), concert_id, starts_at, ends_at).await?;
    shop.publish_concert(&ctx(), concert_id).await?;
    shop.reserve(&ctx(), customer(), concert_id, types[0], quantity(1)).await?;

    let in_use = shop.remove_ticket_type(&ctx(), concert_id, types[0]).await;
    shop.remove_ticket_type(&ctx(), concert_id, types[1]).await?;

    assert!(is_refusal(&in_use, RefusalKind::Conflict), "{in_use:?}");
    let all = buckets(shop, concert_id).await?;
    assert!(all.iter().all(|bucket| bucket.stock_of(types[1]).is_none()), "withdrawn everywhere");
    assert!(all.iter().all(|bucket| bucket.stock_of(types[0]).is_some()), "the held type stays");
    let bought = shop.reserve(&ctx(), customer(), concert_id, types[1], quantity(1)).await;
    assert!(is_refusal(&bought, RefusalKind::NotFound), "{bought:?}");
    let state = shop.concerts().refresh(concert_id.into()).await?.state;
    assert!(state.decide(&ticketing::ConcertCommand::Cancel).is_ok());
    Ok(())
}

/// The SQLite log, counting the appends made through it.
struct CountingAppends {
    log: Arc<SqliteEventStore>,
    appends: AtomicUsize,
}

#[es_core::async_trait]
impl EventStore for CountingAppends {
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        self.appends.fetch_add(1, Ordering::Relaxed);
        self.log.append(request).await
    }

    async fn load(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.log.load(aggregate_id, after, limit).await
    }

    async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        self.log.read_all(after, limit).await
    }

    async fn position_before(&self, time: chrono::DateTime<chrono::Utc>) -> Result<Position, StoreError> {
        self.log.position_before(time).await
    }

    async fn stored_command(&self, command_id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        self.log.stored_command(command_id).await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.log.head().await
    }

    fn commits(&self) -> tokio::sync::watch::Receiver<Position> {
        self.log.commits()
    }
}

/// After a sale that leaves a thousand holds abandoned, one scheduled
/// sweep releases them all, the holds of fifteen carts per append.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_abandoned_holds_expire_in_one_sweep_many_per_append() -> TestResult {
    const HOLDS: usize = 1_000;
    let fixture = open()?;
    let counting = Arc::new(CountingAppends { log: Arc::clone(&fixture.store), appends: AtomicUsize::new(0) });
    let log = es_core::EventLog::new(counting.clone(), fixture.clock.clone());
    let shop = Shop::new(log, None, fixture.clock.clone(), Arc::new(ticketing_app::RandomTicketCodes))
        .with_buckets_per_concert(8);
    let (concert_id, ticket_type_id) = on_sale(&shop, HOLDS as u32).await?;
    for _ in 0..HOLDS {
        shop.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(1)).await?;
    }
    fixture.clock.advance(Duration::minutes(ticketing::limits::HOLD_MINUTES));
    let before = counting.appends.load(Ordering::Relaxed);

    let now = fixture.clock.now();
    let every_bucket = named((0..8).map(|index| BucketId::of(concert_id, index)));
    let sweep = ticketing_app::expire_due_holds(&shop, &every_bucket, now, 200).await?;

    let appends = counting.appends.load(Ordering::Relaxed) - before;
    assert_eq!((sweep.expired, sweep.failed, sweep.concerts_left), (HOLDS, 0, 0));
    assert!(appends <= HOLDS.div_ceil(15) + 8, "{appends} appends for {HOLDS} holds");
    let mut all = Vec::new();
    for index in 0..8 {
        all.push(shop.buckets().refresh(BucketId::of(concert_id, index).into()).await?.state);
    }
    assert_eq!(totals(&all, ticket_type_id), (HOLDS as u32, 0, 0), "every ticket is for sale again");
    Ok(())
}
