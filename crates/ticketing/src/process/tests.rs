//! The helpers, and one whole purchase run through every aggregate the way
//! the application layer will run it (without a store).

use es_core::Aggregate;

use super::*;
use crate::cart::{CartEvent, CartItem};
use crate::concert::{Concert, ConcertEvent, HoldRequest};
use crate::order::Order;
use crate::scenario::fixtures::{at, code, eur, id, name, quantity};
use crate::values::Capacity;

fn apply<A: Aggregate>(state: &mut A, command: &A::Command) -> Vec<A::Event> {
    let events = state.decide(command).unwrap_or_else(|error| panic!("refused: {error}"));
    for event in &events {
        state.evolve(event);
    }
    events
}

fn item(n: u128, concert: u128, ticket_type: u128, count: u32, price: u64, expires: i64) -> CartItem {
    CartItem {
        item_id: id(n),
        concert_id: id(concert),
        ticket_type_id: id(ticket_type),
        quantity: quantity(count),
        unit_price: eur(price),
        expires_at: at(expires),
        bucket: None,
    }
}

fn cart_with(items: &[CartItem]) -> Cart {
    let mut cart = Cart::default();
    for item in items {
        let CartItem { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, bucket } = *item;
        cart.evolve(&CartEvent::ItemAdded {
            item_id,
            concert_id,
            ticket_type_id,
            quantity,
            unit_price,
            expires_at,
            bucket,
        });
    }
    cart
}

fn on_sale_concert() -> Concert {
    let mut concert = Concert::default();
    let history = [
        ConcertEvent::Created {
            name: name("Night of the Bash"),
            venue_id: id(7),
            venue_capacity: Capacity::new(100).expect("valid"),
            profile: crate::ConcertProfile::default(),
        },
        ConcertEvent::TicketTypeAdded {
            ticket_type_id: id(101),
            name: name("Regular"),
            price: eur(2_500),
            quantity: quantity(50),
        },
        ConcertEvent::Scheduled { starts_at: at(1_000), ends_at: at(1_200) },
        ConcertEvent::Published { published_at: at(0), buckets: 0 },
    ];
    for event in history {
        concert.evolve(&event);
    }
    concert
}

#[test]
fn expired_holds_names_each_run_out_hold_with_its_cart() {
    let mut concert = on_sale_concert();
    for (n, now) in [(1_u128, 0), (2, 5), (3, 10)] {
        let request = HoldRequest {
            cart_id: id(n + 50),
            hold_id: id(n),
            ticket_type_id: id(101),
            quantity: quantity(1),
            now: at(now),
            expires_at: at(now + 15),
        };
        apply(&mut concert, &ConcertCommand::HoldTickets(request));
    }
    assert_eq!(expired_holds(concert.holds(), at(14)), vec![]);
    assert_eq!(
        expired_holds(concert.holds(), at(20)),
        vec![
            ExpiredHold { hold_id: id(1), cart_id: id(51), order_id: None },
            ExpiredHold { hold_id: id(2), cart_id: id(52), order_id: None }
        ]
    );
}

#[test]
fn expired_items_names_each_run_out_item_with_its_concert() {
    let cart = cart_with(&[item(1, 1, 101, 1, 100, 15), item(2, 2, 102, 1, 100, 30)]);
    assert_eq!(expired_items(&cart, at(20)), vec![(id(1), id(1))]);
    assert_eq!(expired_items(&cart, at(0)), vec![]);
}

#[test]
fn a_checkout_plan_groups_holds_per_concert_and_merges_lines_of_one_type_and_price() {
    let cart = cart_with(&[
        item(1, 2, 201, 2, 1_000, 15),
        item(2, 1, 101, 1, 500, 15),
        item(3, 2, 201, 3, 1_000, 15),
        item(4, 2, 202, 1, 4_000, 15),
    ]);
    let plan = plan_checkout(&cart, id(5), id(9), at(10)).expect("a live cart");
    assert_eq!(
        plan.sales,
        vec![
            StockSale { keeper: Keeper::Concert(id(1)), hold_ids: vec![id(2)] },
            StockSale { keeper: Keeper::Concert(id(2)), hold_ids: vec![id(1), id(3), id(4)] },
        ]
    );
    let lines: Vec<_> = plan.lines.iter().map(|line| (line.ticket_type_id, line.quantity.get())).collect();
    assert_eq!(lines, vec![(id(101), 1), (id(201), 5), (id(202), 1)]);
    assert_eq!(plan.tickets_needed(), 7);
    assert_eq!(plan.total, eur(9_500));
}

#[test]
fn a_checkout_plan_sells_each_hold_where_it_is_kept() {
    let in_bucket = |n, bucket| CartItem { bucket: Some(bucket), ..item(n, 1, 101, 1, 100, 15) };
    let cart = cart_with(&[in_bucket(1, 3), item(2, 1, 101, 1, 100, 15), in_bucket(3, 0), in_bucket(4, 3)]);

    let plan = plan_checkout(&cart, id(5), id(9), at(10)).expect("a live cart");

    assert_eq!(
        plan.sales,
        vec![
            StockSale { keeper: Keeper::Concert(id(1)), hold_ids: vec![id(2)] },
            StockSale { keeper: Keeper::Bucket(id(1), 0), hold_ids: vec![id(3)] },
            StockSale { keeper: Keeper::Bucket(id(1), 3), hold_ids: vec![id(1), id(4)] },
        ]
    );
    let bucket = Keeper::Bucket(id(1), 3);
    assert_eq!(bucket.aggregate_id(), crate::BucketId::of(id(1), 3).into());
    assert_eq!(bucket.concert_id(), id(1));
    assert_eq!(Keeper::Concert(id(1)).aggregate_id(), es_core::AggregateId(uuid::Uuid::from_u128(1)));
}

#[test]
fn a_checkout_plan_refuses_what_the_cart_refuses() {
    assert_eq!(plan_checkout(&Cart::default(), id(5), id(9), at(0)), Err(CartError::Empty));
    let cart = cart_with(&[item(1, 1, 101, 1, 100, 15)]);
    assert_eq!(
        plan_checkout(&cart, id(5), id(9), at(15)),
        Err(CartError::ItemExpired { item_id: id(1), expires_at: at(15) })
    );
}

#[test]
fn the_order_command_needs_exactly_one_code_per_ticket() {
    let cart = cart_with(&[item(1, 1, 101, 2, 100, 15)]);
    let plan = plan_checkout(&cart, id(5), id(9), at(0)).expect("a live cart");
    assert_eq!(plan.order_command(vec![code(1)], test_paid(), None), Err(TicketCodeCount { needed: 2, given: 1 }));
    assert!(plan.order_command(vec![code(1), code(2)], test_paid(), None).is_ok());
}

fn test_paid() -> PaymentTerms {
    PaymentTerms::PaidAtCheckout { provider: "test".to_owned() }
}

/// A concert holding 3 and 2 tickets for customer 5's cart, and that cart.
fn held_for_a_cart() -> (Concert, Cart) {
    let mut concert = on_sale_concert();
    let mut cart = Cart::default();
    let cart_id = CartId::of(id(5));
    let price = concert.ticket_type(id(101)).map(|ticket_type| ticket_type.price).expect("exists");
    for (n, count) in [(1_u128, 3_u32), (2, 2)] {
        let request = HoldRequest {
            cart_id,
            hold_id: id(n),
            ticket_type_id: id(101),
            quantity: quantity(count),
            now: at(1),
            expires_at: at(1 + crate::limits::HOLD_MINUTES),
        };
        apply(&mut concert, &ConcertCommand::HoldTickets(request));
        let item = item(n, 1, 101, count, price.amount, 1 + crate::limits::HOLD_MINUTES);
        apply(&mut cart, &CartCommand::AddItem { item: CartItem { concert_id: id(0), ..item }, now: at(1) });
    }
    (concert, cart)
}

#[test]
fn a_whole_purchase_holds_checks_out_sells_and_issues_tickets() {
    let (mut concert, mut cart) = held_for_a_cart();
    let plan = plan_checkout(&cart, id(5), id(9), at(5)).expect("a live cart");
    let codes: Vec<_> = (0..plan.tickets_needed()).map(code).collect();
    let order_command = plan.order_command(codes, test_paid(), None).expect("enough codes");

    apply(&mut cart, &plan.cart_command());
    for sale in &plan.sales {
        apply(&mut concert, &plan.concert_command(sale, &test_paid()));
    }
    let mut order = Order::default();
    apply(&mut order, &order_command);

    assert!(cart.items().is_empty());
    let regular = concert.ticket_type(id(101)).expect("exists");
    assert_eq!((regular.held, regular.sold), (0, 5));
    assert_eq!(order.tickets().count(), 5);
    assert_eq!(order.placed().map(|placed| placed.total), Some(eur(12_500)));
}

#[test]
fn a_purchase_awaiting_payment_keeps_its_tickets_held_until_it_is_paid() {
    let (mut concert, mut cart) = held_for_a_cart();
    // Checked out a minute before the cart's holds would run out.
    let plan = plan_checkout(&cart, id(5), id(9), at(15)).expect("a live cart");
    let due = at(15 + crate::limits::PAYMENT_MINUTES);
    let terms = PaymentTerms::Due { provider: "stripe".to_owned(), due, holds: plan.order_holds() };
    let codes: Vec<_> = (0..plan.tickets_needed()).map(code).collect();
    let order_command = plan.order_command(codes, terms.clone(), None).expect("enough codes");

    apply(&mut cart, &plan.cart_command());
    for sale in &plan.sales {
        apply(&mut concert, &plan.concert_command(sale, &terms));
    }
    let mut order = Order::default();
    apply(&mut order, &order_command);

    let regular = concert.ticket_type(id(101)).expect("exists");
    assert_eq!((regular.held, regular.sold), (5, 0), "held for the order, not sold");
    assert!(concert.holds().values().all(|hold| hold.order_id == Some(id(9)) && hold.expires_at == due));
    assert_eq!(plan.order_holds(), vec![OrderHolds { concert_id: id(0), bucket: None, hold_ids: vec![id(1), id(2)] }]);
    // The hold's own time has passed, the order's has not: nothing expires.
    assert!(expired_holds(concert.holds(), at(1 + crate::limits::HOLD_MINUTES)).is_empty());
    let expired = expired_holds(concert.holds(), due);
    assert!(expired.iter().all(|hold| hold.order_id == Some(id(9))) && expired.len() == 2);

    // Paid a minute late, before the sweep: the kept holds are still sold.
    let sell = ConcertCommand::SellHeldTickets {
        hold_ids: vec![id(1), id(2)],
        order_id: id(9),
        now: due + chrono::TimeDelta::minutes(1),
    };
    apply(&mut concert, &sell);
    let regular = concert.ticket_type(id(101)).expect("exists");
    assert_eq!((regular.held, regular.sold), (0, 5));
}

#[test]
fn holds_kept_for_one_order_are_not_sold_to_another() {
    let (mut concert, _) = held_for_a_cart();
    let until = at(5 + crate::limits::PAYMENT_MINUTES);
    apply(&mut concert, &ConcertCommand::AwaitPayment { hold_ids: vec![id(1)], order_id: id(9), until, now: at(5) });

    let other = ConcertCommand::SellHeldTickets { hold_ids: vec![id(1)], order_id: id(10), now: at(6) };
    assert_eq!(concert.decide(&other), Err(crate::ConcertError::HoldNotFound(id(1))));
    let again = ConcertCommand::AwaitPayment { hold_ids: vec![id(1)], order_id: id(10), until, now: at(6) };
    assert_eq!(concert.decide(&again), Err(crate::ConcertError::HoldNotFound(id(1))));
    let too_long = ConcertCommand::AwaitPayment {
        hold_ids: vec![id(2)],
        order_id: id(9),
        until: at(6 + crate::limits::PAYMENT_MINUTES),
        now: at(5),
    };
    assert_eq!(concert.decide(&too_long), Err(crate::ConcertError::HoldTooLong));
}
