//! Reservations and checkouts on one concert share appends (the kernel's
//! runner, `es_core::Runner`), with or without an `Idempotency-Key`:
//! many buyers at once are decided one after the other and appended
//! together. These tests hold that sharing to the rules every command
//! keeps alone: never more tickets held and sold than exist, at any version
//! of the concert; every buyer answered with their own result; a round
//! decided on a stale cache (another process wrote) decided again; a
//! refusal confirmed on the log, where it may turn into a sale.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use es_core::{CommandContext, CommandId, DomainEvent, EventLog, ManualClock, Position, SnapshotStore};
use es_sqlite::{Durability, SqliteEventStore};
use tempfile::TempDir;
use ticketing::{
    Address, Capacity, ConcertEvent, ConcertId, Currency, CustomerId, Money, Name, Quantity, RefusalKind, TicketTypeId,
    VenueProfile,
};
use ticketing_app::idempotency::{Fingerprint, for_request};
use ticketing_app::{AppError, ConcertForm, RandomTicketCodes, Shop};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

struct Fixture {
    _dir: TempDir,
    store: Arc<SqliteEventStore>,
    clock: Arc<ManualClock>,
    shop: Arc<Shop>,
}

fn open() -> Result<Fixture, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal)?);
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2030, 1, 1, 10, 0, 0).single().ok_or("a valid time")?;
    let clock = Arc::new(ManualClock::new(start));
    let shop = Arc::new(shop_over(&store, &clock));
    Ok(Fixture { _dir: dir, store, clock, shop })
}

/// A second "process" over the same file: caches, turns and lanes of its own.
fn shop_over(store: &Arc<SqliteEventStore>, clock: &Arc<ManualClock>) -> Shop {
    let log = EventLog::new(store.clone(), clock.clone());
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    Shop::new(log, Some(snapshots), clock.clone(), Arc::new(RandomTicketCodes))
}

fn ctx() -> CommandContext {
    CommandContext::default()
}

fn one() -> Quantity {
    Quantity::new(1).expect("one is a quantity")
}

async fn on_sale(
    shop: &Shop,
    quantity: u32,
) -> Result<(ConcertId, TicketTypeId), Box<dyn std::error::Error + Send + Sync>> {
    let profile = VenueProfile {
        name: Name::new("Paradiso")?,
        address: Address::new("Weteringschans 6")?,
        city: Name::new("Amsterdam")?,
        capacity: Capacity::new(10_000)?,
        description: None,
        web_url: None,
    };
    let venue_id = shop.create_venue(&ctx(), profile).await?;
    let form = ConcertForm { name: Name::new("Rush")?, venue_id, profile: ticketing::ConcertProfile::default() };
    let concert_id = shop.create_concert(&ctx(), form).await?;
    let price = Money::new(2_500, Currency::new("EUR")?);
    let ticket_type_id =
        shop.add_ticket_type(&ctx(), concert_id, Name::new("Standing")?, price, Quantity::new(quantity)?).await?;
    let starts_at = Utc.with_ymd_and_hms(2030, 2, 1, 20, 0, 0).single().ok_or("a valid time")?;
    shop.schedule_concert(&ctx(), concert_id, starts_at, starts_at + Duration::hours(3)).await?;
    shop.publish_concert(&ctx(), concert_id).await?;
    Ok((concert_id, ticket_type_id))
}

/// Folds the concert's stream from the log: the largest `held + sold` at
/// any version, and `sold` at the end.
async fn audit(
    fixture: &Fixture,
    concert_id: ConcertId,
) -> Result<(u32, u32), Box<dyn std::error::Error + Send + Sync>> {
    let (mut held, mut sold, mut most) = (0_u32, 0_u32, 0_u32);
    let mut after = Position::START;
    loop {
        let page = fixture.shop.log().read_all(after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for record in page.iter().filter(|record| record.aggregate_id == concert_id.into()) {
            match ConcertEvent::from_record(record)? {
                ConcertEvent::TicketsHeld { quantity, .. } => held += quantity.get(),
                ConcertEvent::HoldReleased { quantity, .. } | ConcertEvent::HoldExpired { quantity, .. } => {
                    held -= quantity.get();
                }
                ConcertEvent::TicketsSold { holds, .. } => {
                    for hold in holds {
                        held -= hold.quantity.get();
                        sold += hold.quantity.get();
                    }
                }
                _ => {}
            }
            most = most.max(held + sold);
        }
    }
    Ok((most, sold))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_hundred_buyers_share_appends_and_exactly_the_tickets_that_exist_are_sold() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 100).await?;
    let appends_before = fixture.store.stats().appends();

    let buyers: Vec<_> = (0..300)
        .map(|_| {
            let shop = Arc::clone(&fixture.shop);
            tokio::spawn(async move {
                let buyer = CustomerId(uuid::Uuid::now_v7());
                let reservation = shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, one()).await?;
                let order_id = shop.checkout(&ctx(), buyer).await?;
                Ok::<_, AppError>((buyer, reservation.hold_id, order_id))
            })
        })
        .collect();
    let (mut bought, mut sold_out) = (Vec::new(), 0);
    for buyer in buyers {
        match buyer.await? {
            Ok(purchase) => bought.push(purchase),
            Err(AppError::Rejected { kind: RefusalKind::Conflict, .. }) => sold_out += 1,
            Err(other) => return Err(other.into()),
        }
    }
    assert_eq!((bought.len(), sold_out), (100, 200));

    // Each buyer got their own order, holding their own ticket.
    for (buyer, _, order_id) in &bought {
        let order = fixture.shop.orders().refresh((*order_id).into()).await?;
        let placed = order.state.placed().ok_or("the order is placed")?;
        assert_eq!(placed.customer_id, *buyer);
        assert_eq!(order.state.tickets().count(), 1);
    }
    let (most, sold) = audit(&fixture, concert_id).await?;
    assert_eq!(sold, 100);
    assert!(most <= 100, "held + sold reached {most} at some version");
    let appends = fixture.store.stats().appends() - appends_before;
    assert!(appends < 200, "200 commands that changed something took {appends} appends: nothing was shared");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_round_decided_on_a_stale_cache_is_decided_again_and_sells_nothing_twice() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 30).await?;
    // This process caches the concert; another process then sells behind its back.
    fixture.shop.reserve(&ctx(), CustomerId(uuid::Uuid::now_v7()), concert_id, ticket_type_id, one()).await?;
    let other_process = shop_over(&fixture.store, &fixture.clock);
    for _ in 0..10 {
        let buyer = CustomerId(uuid::Uuid::now_v7());
        other_process.reserve(&ctx(), buyer, concert_id, ticket_type_id, one()).await?;
        other_process.checkout(&ctx(), buyer).await?;
    }

    let buyers: Vec<_> = (0..40)
        .map(|_| {
            let shop = Arc::clone(&fixture.shop);
            tokio::spawn(async move {
                let buyer = CustomerId(uuid::Uuid::now_v7());
                shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, one()).await
            })
        })
        .collect();
    let mut held = 0;
    for buyer in buyers {
        match buyer.await? {
            Ok(_) => held += 1,
            Err(AppError::Rejected { kind: RefusalKind::Conflict, .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    assert_eq!(held, 19, "30 tickets: 1 held and 10 sold before, 19 left");
    let (most, sold) = audit(&fixture, concert_id).await?;
    assert_eq!(sold, 10);
    assert!(most <= 30, "held + sold reached {most} at some version");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refusal_in_a_shared_round_is_confirmed_on_the_log_where_it_can_turn_into_a_sale() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 2).await?;
    let first = CustomerId(uuid::Uuid::now_v7());
    let reservation = fixture.shop.reserve(&ctx(), first, concert_id, ticket_type_id, Quantity::new(2)?).await?;
    // Another process frees both tickets; this process still caches the concert as sold out.
    let other_process = shop_over(&fixture.store, &fixture.clock);
    other_process.remove_cart_item(&ctx(), first, reservation.hold_id).await?;

    let buyers: Vec<_> = (0..5)
        .map(|_| {
            let shop = Arc::clone(&fixture.shop);
            tokio::spawn(async move {
                shop.reserve(&ctx(), CustomerId(uuid::Uuid::now_v7()), concert_id, ticket_type_id, one()).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for buyer in buyers {
        outcomes.push(buyer.await?);
    }
    let held = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(AppError::Rejected { kind: RefusalKind::Conflict, .. })))
        .count();
    assert_eq!((held, refused), (2, 3), "{outcomes:?}");
    let (most, _) = audit(&fixture, concert_id).await?;
    assert!(most <= 2, "held + sold reached {most} at some version");
    Ok(())
}

/// A command with an `Idempotency-Key` as the web edge runs it: its id and
/// the request's fingerprint.
async fn keyed<F: std::future::Future>(
    key: CommandId,
    request: u128,
    work: impl FnOnce(CommandContext) -> F,
) -> F::Output {
    let context = CommandContext { command_id: Some(key), ..CommandContext::default() };
    for_request(Fingerprint(uuid::Uuid::from_u128(request)), work(context)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buyers_with_idempotency_keys_share_appends_and_each_retry_gets_its_first_result() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 100).await?;
    let appends_before = fixture.store.stats().appends();

    let buyers: Vec<_> = (0..200_u128)
        .map(|n| {
            let shop = Arc::clone(&fixture.shop);
            tokio::spawn(async move {
                let buyer = CustomerId(uuid::Uuid::now_v7());
                let (reserve_key, checkout_key) = (CommandId::random(), CommandId::random());
                let reserving = |context| {
                    let shop = Arc::clone(&shop);
                    async move { shop.reserve(&context, buyer, concert_id, ticket_type_id, one()).await }
                };
                keyed(reserve_key, 2 * n, reserving).await?;
                let checking_out = |context| {
                    let shop = Arc::clone(&shop);
                    async move { shop.checkout(&context, buyer).await }
                };
                let order_id = keyed(checkout_key, 2 * n + 1, checking_out).await?;
                Ok::<_, AppError>((buyer, checkout_key, 2 * n + 1, order_id))
            })
        })
        .collect();
    let mut bought = Vec::new();
    for buyer in buyers {
        match buyer.await? {
            Ok(purchase) => bought.push(purchase),
            Err(AppError::Rejected { kind: RefusalKind::Conflict, .. }) => {}
            Err(other) => return Err(other.into()),
        }
    }
    assert_eq!(bought.len(), 100, "exactly the tickets that exist are sold");
    let appends = fixture.store.stats().appends() - appends_before;
    assert!(appends < 200, "200 keyed commands that changed something took {appends} appends: nothing was shared");

    // Every retry with the same key and request answers the first order and
    // writes nothing; the key on another request is refused.
    let before_retries = fixture.store.stats().appends();
    for (buyer, key, request, order_id) in &bought {
        let shop = Arc::clone(&fixture.shop);
        let again = keyed(*key, *request, |context| async move { shop.checkout(&context, *buyer).await }).await?;
        assert_eq!(again, *order_id);
    }
    assert_eq!(fixture.store.stats().appends(), before_retries, "retries write nothing");
    let (buyer, key, _, _) = bought[0];
    let shop = Arc::clone(&fixture.shop);
    let reused = keyed(key, u128::MAX, |context| async move { shop.checkout(&context, buyer).await }).await;
    assert!(matches!(reused, Err(AppError::Rejected { kind: RefusalKind::Invalid, .. })), "{reused:?}");
    let (most, sold) = audit(&fixture, concert_id).await?;
    assert_eq!((sold, most <= 100), (100, true), "held + sold reached {most}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_many_times_at_once_reserves_once_and_answers_every_try_alike() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 100).await?;
    let buyer = CustomerId(uuid::Uuid::now_v7());
    let key = CommandId::random();

    let tries: Vec<_> = (0..20)
        .map(|_| {
            let shop = Arc::clone(&fixture.shop);
            tokio::spawn(keyed(key, 7, move |context| async move {
                shop.reserve(&context, buyer, concert_id, ticket_type_id, one()).await
            }))
        })
        .collect();
    let mut holds = Vec::new();
    for try_ in tries {
        holds.push(try_.await??.hold_id);
    }
    holds.dedup();
    assert_eq!(holds.len(), 1, "every try answers the one reservation");
    let cart = fixture.shop.carts().refresh(ticketing::CartId::of(buyer).into()).await?;
    assert_eq!(cart.state.items().len(), 1, "one item in the cart");
    let (most, _) = audit(&fixture, concert_id).await?;
    assert_eq!(most, 1, "one ticket held");
    Ok(())
}
