//! The command handlers against the real SQLite backend, with a manual clock:
//! the whole purchase story, a sell-out race, hold expiry, double booking,
//! idempotent retries and stale refusals. These are the guarantees the HTTP
//! layer relies on, so they are tested end to end rather than with mocks.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use es_core::{CommandContext, CommandId, EventLog, Position, Repository};
use ticketing::{Concert, ConcertId, RefusalKind, VenueId};
use ticketing_app::idempotency::{Fingerprint, for_request};
use ticketing_app::{AppError, CONCERTS_PER_CART_MAX, HoldExpiry, Shop, expire_due_holds};

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_story_from_venue_to_check_in() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 100).await?;
    let buyer = customer();

    let reservation = shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(3)).await?;
    assert_eq!(reservation.expires_at, start() + Duration::minutes(ticketing::limits::HOLD_MINUTES));
    let order_id = shop.checkout(&ctx(), buyer).await?;

    let order = shop.orders().load(order_id.into()).await?;
    let codes: Vec<_> = order.state.tickets().map(|ticket| ticket.code.clone()).collect();
    assert_eq!(codes.len(), 3);
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 3, "codes are distinct");
    let placed = order.state.placed().ok_or("the order is placed")?;
    assert_eq!(placed.customer_id, buyer);
    assert_eq!(placed.total.amount, 7_500);

    let concert = shop.concerts().load(concert_id.into()).await?;
    let ticket_type = concert.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
    assert_eq!((ticket_type.held, ticket_type.sold), (0, 3));
    assert!(shop.carts().load(ticketing::CartId::of(buyer).into()).await?.state.items().is_empty());

    shop.check_in(&ctx(), order_id, codes[0].clone()).await?;
    let again = shop.check_in(&ctx(), order_id, codes[0].clone()).await;
    assert!(is_refusal(&again, RefusalKind::Conflict), "second check-in: {again:?}");
    Ok(())
}

/// The codes of an order's tickets for `concert_id`.
async fn codes_for(
    shop: &Shop,
    order_id: ticketing::OrderId,
    concert_id: ConcertId,
) -> Result<Vec<ticketing::TicketCode>, Box<dyn std::error::Error + Send + Sync>> {
    let order = shop.orders().refresh(order_id.into()).await?;
    let tickets = order.state.tickets().filter(|ticket| ticket.line.concert_id == concert_id);
    Ok(tickets.map(|ticket| ticket.code.clone()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_is_checked_in_only_at_the_door_of_its_own_concert() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (here, here_type) = on_sale(shop, 10).await?;
    let (elsewhere, elsewhere_type) = on_sale(shop, 10).await?;
    let buyer = customer();
    shop.reserve(&ctx(), buyer, here, here_type, quantity(1)).await?;
    shop.reserve(&ctx(), buyer, elsewhere, elsewhere_type, quantity(1)).await?;
    let order_id = shop.checkout(&ctx(), buyer).await?;
    let here_code = codes_for(shop, order_id, here).await?.remove(0);
    let elsewhere_code = codes_for(shop, order_id, elsewhere).await?.remove(0);

    let wrong_door = shop.check_in_at_door(&ctx(), here, order_id, elsewhere_code.clone()).await;
    assert!(is_refusal(&wrong_door, RefusalKind::Invalid), "{wrong_door:?}");
    let message = wrong_door.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains(&format!("is for concert {elsewhere}, not for concert {here}")), "{message}");
    let unknown_door =
        shop.check_in_at_door(&ctx(), ConcertId(uuid::Uuid::now_v7()), order_id, here_code.clone()).await;
    assert!(is_refusal(&unknown_door, RefusalKind::NotFound), "{unknown_door:?}");

    shop.check_in_at_door(&ctx(), here, order_id, here_code.clone()).await?;
    shop.check_in_at_door(&ctx(), elsewhere, order_id, elsewhere_code).await?;
    let again = shop.check_in_at_door(&ctx(), here, order_id, here_code).await;
    assert!(is_refusal(&again, RefusalKind::Conflict), "{again:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_ticket_of_a_cancelled_concert_is_checked_in_even_where_the_cancellation_is_not_cached() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 10).await?;
    let buyer = customer();
    fixture.shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(2)).await?;
    let order_id = fixture.shop.checkout(&ctx(), buyer).await?;
    let codes = codes_for(&fixture.shop, order_id, concert_id).await?;

    // The door's process caches the concert while it is on; another process cancels it.
    let door = shop_over(&fixture.store, &fixture.clock);
    door.concerts().load(concert_id.into()).await?;
    door.orders().load(order_id.into()).await?;
    fixture.shop.cancel_concert(&ctx(), concert_id).await?;

    let at_door = door.check_in_at_door(&ctx(), concert_id, order_id, codes[0].clone()).await;
    assert!(is_refusal(&at_door, RefusalKind::Conflict), "{at_door:?}");
    let message = at_door.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("which is cancelled"), "{message}");
    let anywhere = door.check_in(&ctx(), order_id, codes[1].clone()).await;
    assert!(is_refusal(&anywhere, RefusalKind::Conflict), "{anywhere:?}");
    let order = fixture.shop.orders().refresh(order_id.into()).await?;
    assert!(order.state.tickets().all(|ticket| ticket.checked_in_at.is_none()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_holds_a_bounded_number_of_tickets_across_all_concerts() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let max = ticketing::limits::TICKETS_HELD_PER_CUSTOMER_MAX;
    let per_concert = ticketing::limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX;
    let buyer = customer();
    let mut held = 0;
    while held < max {
        let (concert_id, ticket_type_id) = on_sale(shop, per_concert).await?;
        let count = per_concert.min(max - held);
        shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(count)).await?;
        held += count;
    }
    let (one_more, one_more_type) = on_sale(shop, per_concert).await?;

    let refused = shop.reserve(&ctx(), buyer, one_more, one_more_type, quantity(1)).await;

    assert!(is_refusal(&refused, RefusalKind::Invalid), "{refused:?}");
    let message = refused.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains(&format!("at most {max} tickets at once")), "{message}");
    let concert = shop.concerts().refresh(one_more.into()).await?;
    let ticket_type = concert.state.ticket_type(one_more_type).ok_or("the ticket type exists")?;
    assert_eq!(ticket_type.held, 0, "the refused reservation holds nothing");
    // Another customer is not affected, and checking out frees the allowance.
    shop.reserve(&ctx(), customer(), one_more, one_more_type, quantity(1)).await?;
    shop.checkout(&ctx(), buyer).await?;
    shop.reserve(&ctx(), buyer, one_more, one_more_type, quantity(1)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_hundred_buyers_race_for_fifty_tickets() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 50).await?;

    let mut tasks = Vec::new();
    for _ in 0..200 {
        let shop = Arc::clone(&fixture.shop);
        tasks.push(tokio::spawn(async move {
            let buyer = customer();
            shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(1)).await?;
            shop.checkout(&ctx(), buyer).await
        }));
    }
    let (mut orders, mut sold_out, mut other) = (0, 0, Vec::new());
    for task in tasks {
        match task.await? {
            Ok(_) => orders += 1,
            Err(AppError::Rejected { kind: RefusalKind::Conflict, .. }) => sold_out += 1,
            Err(error) => other.push(error.to_string()),
        }
    }
    assert_eq!((orders, sold_out), (50, 150), "unexpected errors: {other:?}");
    assert!(other.is_empty(), "unexpected errors: {other:?}");

    // The log alone tells the same story.
    let log = fixture.shop.log();
    let (mut after, mut placed) = (Position(0), 0);
    loop {
        let page = log.read_all(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        placed += page.iter().filter(|record| record.event_type == "OrderPlaced").count();
    }
    assert_eq!(placed, 50);
    let replayed = Repository::<Concert>::new(EventLog::new(fixture.store.clone(), fixture.clock.clone()))
        .refresh(concert_id.into())
        .await?;
    let ticket_type = replayed.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
    assert_eq!((ticket_type.held, ticket_type.sold), (0, 50));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_holds_free_their_tickets_and_block_the_checkout() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let buyer = customer();
    let reservation = shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(4)).await?;

    // Not yet due: nothing happens.
    assert_eq!(shop.expire_holds(concert_id.into(), es_core::Clock::now(fixture.clock.as_ref())).await?, 0);

    fixture.clock.advance(Duration::minutes(16));
    assert_eq!(shop.expire_holds(concert_id.into(), es_core::Clock::now(fixture.clock.as_ref())).await?, 1);

    let concert = shop.concerts().load(concert_id.into()).await?;
    let ticket_type = concert.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
    assert_eq!(ticket_type.available(), 10);
    assert!(concert.state.holds().is_empty());
    let cart = shop.carts().load(ticketing::CartId::of(buyer).into()).await?;
    assert!(cart.state.item(reservation.hold_id).is_none(), "the cart item expired");

    let checkout = shop.checkout(&ctx(), buyer).await;
    assert!(is_refusal(&checkout, RefusalKind::Conflict), "checkout: {checkout:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_concerts_cannot_both_book_a_venue() -> TestResult {
    let fixture = open()?;
    let venue_id = venue(&fixture.shop).await?;
    let first = draft(&fixture.shop, venue_id).await?;
    let second = draft(&fixture.shop, venue_id).await?;
    let (starts_at, ends_at) = evening(3);

    let schedule = |concert_id: ConcertId, offset: i64| {
        let shop = Arc::clone(&fixture.shop);
        tokio::spawn(async move {
            let starts_at = starts_at + Duration::minutes(offset);
            shop.schedule_concert(&ctx(), concert_id, starts_at, ends_at + Duration::minutes(offset)).await
        })
    };
    let (one, two) = (schedule(first, 0), schedule(second, 30));
    let results = [one.await?, two.await?];
    let booked = results.iter().filter(|result| result.is_ok()).count();
    let refused = results.iter().filter(|result| is_refusal(result, RefusalKind::Conflict)).count();
    assert_eq!((booked, refused), (1, 1), "{results:?}");

    let venue = fixture.shop.venues().refresh(venue_id.into()).await?;
    assert_eq!(venue.state.bookings().len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeated_command_id_holds_tickets_once() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let buyer = customer();
    let context = CommandContext { command_id: Some(CommandId::random()), ..CommandContext::default() };

    let first = shop.reserve(&context, buyer, concert_id, ticket_type_id, quantity(2)).await?;
    let second = shop.reserve(&context, buyer, concert_id, ticket_type_id, quantity(2)).await?;
    assert_eq!(first, second);

    let concert = shop.concerts().refresh(concert_id.into()).await?;
    assert_eq!(concert.state.holds().len(), 1);
    let ticket_type = concert.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
    assert_eq!(ticket_type.held, 2);
    assert_eq!(shop.carts().refresh(ticketing::CartId::of(buyer).into()).await?.state.items().len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_id_repeated_for_another_request_is_refused_and_acts_once() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let buyer = customer();
    let context = CommandContext { command_id: Some(CommandId::random()), ..CommandContext::default() };
    let (two, three) = (Fingerprint(uuid::Uuid::from_u128(2)), Fingerprint(uuid::Uuid::from_u128(3)));
    let reserve = |count: u32| shop.reserve(&context, buyer, concert_id, ticket_type_id, quantity(count));

    let first = for_request(two, reserve(2)).await?;
    let other = for_request(three, reserve(3)).await;
    let again = for_request(two, reserve(2)).await?;

    assert!(is_refusal(&other, RefusalKind::Invalid), "{other:?}");
    assert_eq!(again, first);
    let concert = shop.concerts().refresh(concert_id.into()).await?;
    let ticket_type = concert.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
    assert_eq!(ticket_type.held, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cart_takes_tickets_of_as_many_concerts_as_one_checkout_can_buy() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let buyer = customer();
    let mut concerts = Vec::new();
    for _ in 0..=CONCERTS_PER_CART_MAX {
        concerts.push(on_sale(shop, 10).await?);
    }
    let (last, allowed) = concerts.split_last().ok_or("concerts were made")?;
    for &(concert_id, ticket_type_id) in allowed {
        shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(1)).await?;
    }

    let one_more = shop.reserve(&ctx(), buyer, last.0, last.1, quantity(1)).await;
    let same_concert_again = shop.reserve(&ctx(), buyer, allowed[0].0, allowed[0].1, quantity(1)).await;

    assert!(is_refusal(&one_more, RefusalKind::Invalid), "{one_more:?}");
    let message = one_more.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains(&format!("at most {CONCERTS_PER_CART_MAX} concerts")), "{message}");
    assert!(same_concert_again.is_ok(), "a concert already in the cart takes more: {same_concert_again:?}");
    let order_id = shop.checkout(&ctx(), buyer).await?;
    let order = shop.orders().refresh(order_id.into()).await?;
    assert_eq!(order.state.tickets().count(), CONCERTS_PER_CART_MAX + 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refusal_on_a_stale_cache_is_checked_against_the_log() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id) = on_sale(&fixture.shop, 2).await?;
    let other_process = shop_over(&fixture.store, &fixture.clock);

    // The other process sees the concert sold out and caches that state.
    let first = customer();
    let reservation = fixture.shop.reserve(&ctx(), first, concert_id, ticket_type_id, quantity(2)).await?;
    let late = other_process.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(1)).await;
    assert!(is_refusal(&late, RefusalKind::Conflict), "sold out: {late:?}");

    // This process frees the tickets; the other's cache does not know.
    fixture.shop.remove_cart_item(&ctx(), first, reservation.hold_id).await?;
    other_process.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(1)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concert_needs_a_live_venue() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let unknown = draft(shop, VenueId(uuid::Uuid::now_v7())).await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");

    let venue_id = venue(shop).await?;
    shop.delete_venue(&ctx(), venue_id).await?;
    let deleted = draft(shop, venue_id).await;
    assert!(is_refusal(&deleted, RefusalKind::Conflict), "{deleted:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_concert_frees_its_venue() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let venue_id = venue(shop).await?;
    let first = draft(shop, venue_id).await?;
    let second = draft(shop, venue_id).await?;
    let (starts_at, ends_at) = evening(5);
    shop.schedule_concert(&ctx(), first, starts_at, ends_at).await?;
    let clash = shop.schedule_concert(&ctx(), second, starts_at, ends_at).await;
    assert!(is_refusal(&clash, RefusalKind::Conflict), "{clash:?}");

    shop.cancel_concert(&ctx(), first).await?;
    shop.schedule_concert(&ctx(), second, starts_at, ends_at).await?;
    // A draft never scheduled can be cancelled too: its venue has nothing to release.
    let third = draft(shop, venue_id).await?;
    shop.cancel_concert(&ctx(), third).await?;
    Ok(())
}

/// Feeds the whole log to the expiry process, as it does when it starts.
async fn observe_log(expiry: &mut HoldExpiry, shop: &Shop) -> TestResult {
    for record in &whole_log(shop).await? {
        expiry.observe(record)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_expiry_process_releases_only_holds_that_ran_out_and_were_not_sold() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let (forgetful, buyer) = (customer(), customer());
    shop.reserve(&ctx(), forgetful, concert_id, ticket_type_id, quantity(3)).await?;
    shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(2)).await?;
    shop.checkout(&ctx(), buyer).await?;

    let mut expiry = HoldExpiry::new();
    observe_log(&mut expiry, shop).await?;
    assert_eq!(expiry.live_holds(), 1, "the sold hold is settled, the forgotten one is live");
    let due = expiry.next_due().ok_or("a hold is due")?;
    assert_eq!(due, start() + Duration::minutes(15));

    assert_eq!(expiry.sweep(shop, due - Duration::milliseconds(1)).await.expired, 0, "nothing runs out early");
    assert_eq!(expiry.sweep(shop, due).await.expired, 1);
    observe_log(&mut expiry, shop).await?;
    assert_eq!(expiry.live_holds(), 0);
    assert_eq!(expiry.next_due(), None);

    let concert = shop.concerts().refresh(concert_id.into()).await?;
    let ticket_type = concert.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
    assert_eq!((ticket_type.held, ticket_type.sold, ticket_type.available()), (0, 2, 8));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_running_expiry_process_frees_tickets_once_the_clock_passes_the_hold() -> TestResult {
    let fixture = open()?;
    let shop = Arc::clone(&fixture.shop);
    let (concert_id, ticket_type_id) = on_sale(&shop, 5).await?;
    shop.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(5)).await?;

    let shutdown = es_core::CancellationToken::new();
    let clock: Arc<dyn es_core::Clock> = fixture.clock.clone();
    let process = tokio::spawn(HoldExpiry::new().run(Arc::clone(&shop), shop.log().clone(), clock, shutdown.clone()));
    fixture.clock.advance(Duration::minutes(15));

    let available = async {
        loop {
            let concert = shop.concerts().refresh(concert_id.into()).await?;
            let ticket_type = concert.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
            if ticket_type.available() == 5 {
                return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), available).await??;
    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), process).await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_sweep_expires_the_holds_of_the_concerts_it_is_told_of_a_bounded_number_at_a_time() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let mut concerts = Vec::new();
    for _ in 0..3 {
        let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
        shop.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(1)).await?;
        shop.reserve(&ctx(), customer(), concert_id, ticket_type_id, quantity(2)).await?;
        concerts.push(concert_id);
    }
    let due = start() + Duration::minutes(15);

    let early = expire_due_holds(shop, &named(concerts.clone()), due - Duration::milliseconds(1), 2).await?;
    assert_eq!((early.expired, early.failed), (0, 0), "nothing has run out before its time");
    let first = expire_due_holds(shop, &named(concerts.clone()), due, 2).await?;
    assert_eq!((first.expired, first.failed, first.concerts_left), (4, 0, 1), "two concerts, two holds each");
    let second = expire_due_holds(shop, &named(concerts[2..].to_vec()), due, 2).await?;
    assert_eq!((second.expired, second.concerts_left), (2, 0), "the next run does the rest");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_id_of_another_kind_of_aggregate_is_not_found_rather_than_a_failure() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let buyer = customer();
    shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(1)).await?;

    // The buyer's id is their cart's stream; as a venue it names nothing.
    let created = draft(shop, VenueId(buyer.as_uuid())).await;

    assert!(matches!(created, Err(AppError::NotFound(ref what)) if what == "venue"), "{created:?}");
    Ok(())
}
