//! Given/when/then scenarios for every rule and refusal of a cart, and the
//! JSON snapshot of every event.

use super::*;
use crate::RefusalKind;
use crate::scenario::Given;
use crate::scenario::fixtures::{at, eur, id, quantity, usd};

/// The history of one cart, typed so that an empty history needs no annotation.
fn given(history: impl IntoIterator<Item = CartEvent>) -> Given<Cart> {
    crate::scenario::given(history)
}

fn item(n: u128, concert: u128, count: u32, expires: i64) -> CartItem {
    CartItem {
        item_id: id(n),
        concert_id: id(concert),
        ticket_type_id: id(100 + concert),
        quantity: quantity(count),
        unit_price: eur(2_500),
        expires_at: at(expires),
        bucket: None,
    }
}

fn added(item: CartItem) -> CartEvent {
    let CartItem { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, bucket } = item;
    CartEvent::ItemAdded { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, bucket }
}

fn add(item: CartItem, now: i64) -> CartCommand {
    CartCommand::AddItem { item, now: at(now) }
}

#[test]
fn an_item_is_added_to_an_empty_cart() {
    let cart = given([]).when(add(item(1, 1, 2, 15), 0)).then([added(item(1, 1, 2, 15))]);
    assert_eq!(cart.items(), &[item(1, 1, 2, 15)]);
    assert_eq!(cart.total(at(0)), Some(eur(5_000)));
}

#[test]
fn an_item_id_is_used_once() {
    given([added(item(1, 1, 2, 15))]).when(add(item(1, 2, 1, 15), 0)).then_refused(CartError::ItemExists(id(1)));
}

#[test]
fn an_item_whose_hold_has_run_out_is_not_added() {
    given([]).when(add(item(1, 1, 2, 15), 15)).then_refused(CartError::ItemExpiresInThePast);
}

#[test]
fn a_cart_holds_at_most_ten_tickets_of_one_concert_among_its_live_items() {
    let history = || [added(item(1, 1, 6, 15)), added(item(2, 1, 3, 15))];
    given(history()).when(add(item(3, 1, 1, 15), 0)).then([added(item(3, 1, 1, 15))]);
    given(history()).when(add(item(3, 1, 2, 15), 0)).then_refused(CartError::TooManyTicketsForConcert {
        concert_id: id(1),
        in_cart: 9,
        requested: 2,
    });
    // Another concert has its own allowance.
    given(history()).when(add(item(3, 2, 10, 15), 0)).then([added(item(3, 2, 10, 15))]);
}

#[test]
fn expired_items_do_not_count_towards_the_per_concert_limit() {
    given([added(item(1, 1, 10, 15))]).when(add(item(2, 1, 10, 30), 15)).then([added(item(2, 1, 10, 30))]);
}

#[test]
fn a_customer_holds_at_most_twenty_tickets_across_all_concerts() {
    assert_eq!(limits::TICKETS_HELD_PER_CUSTOMER_MAX, 20);
    let history = || [added(item(1, 1, 10, 15)), added(item(2, 2, 8, 15))];
    given(history()).when(add(item(3, 3, 2, 15), 0)).then([added(item(3, 3, 2, 15))]);
    given(history())
        .when(add(item(3, 3, 3, 15), 0))
        .then_refused(CartError::TooManyTicketsHeld { held: 18, requested: 3 });
    // Many concerts, few tickets each: the cap still counts them all.
    let spread: Vec<CartEvent> = (1..=10).map(|n| added(item(n, n, 2, 15))).collect();
    given(spread)
        .when(add(item(11, 11, 1, 15), 0))
        .then_refused(CartError::TooManyTicketsHeld { held: 20, requested: 1 });
}

#[test]
fn expired_items_are_not_held_any_more() {
    given([added(item(1, 1, 10, 15)), added(item(2, 2, 10, 15))])
        .when(add(item(3, 3, 10, 30), 15))
        .then([added(item(3, 3, 10, 30))]);
}

#[test]
fn a_cart_holds_a_bounded_number_of_items() {
    let history: Vec<CartEvent> =
        (0..limits::CART_ITEMS_MAX as u128).map(|n| added(item(n + 1, n + 1, 1, 15))).collect();
    given(history).when(add(item(99, 99, 1, 15), 0)).then_refused(CartError::TooManyItems);
}

#[test]
fn a_cart_holds_one_currency_and_bounded_prices() {
    let in_dollars = CartItem { unit_price: usd(100), ..item(2, 2, 1, 15) };
    given([added(item(1, 1, 1, 15))])
        .when(add(in_dollars, 0))
        .then_refused(CartError::CurrencyMismatch { expected: eur(0).currency, actual: usd(0).currency });
    let too_dear = CartItem { unit_price: eur(limits::TICKET_PRICE_MINOR_UNITS_MAX + 1), ..item(1, 1, 1, 15) };
    given([]).when(add(too_dear, 0)).then_refused(CartError::PriceTooHigh);
}

#[test]
fn free_tickets_go_in_a_cart() {
    let free = CartItem { unit_price: eur(0), ..item(1, 1, 2, 15) };
    let cart = given([]).when(add(free, 0)).then([added(free)]);
    assert_eq!(cart.total(at(0)), Some(eur(0)));
}

#[test]
fn an_item_is_removed() {
    let cart = given([added(item(1, 1, 2, 15)), added(item(2, 2, 1, 15))])
        .when(CartCommand::RemoveItem { item_id: id(1) })
        .then([CartEvent::ItemRemoved { item_id: id(1) }]);
    assert_eq!(cart.items(), &[item(2, 2, 1, 15)]);
}

#[test]
fn removing_or_expiring_an_unknown_item_is_refused() {
    given([]).when(CartCommand::RemoveItem { item_id: id(1) }).then_refused(CartError::ItemNotFound(id(1)));
    given([added(item(1, 1, 2, 15)), CartEvent::ItemRemoved { item_id: id(1) }])
        .when(CartCommand::ExpireItem { item_id: id(1), now: at(20) })
        .then_refused(CartError::ItemNotFound(id(1)));
}

#[test]
fn an_item_expires_only_once_its_hold_has_run_out() {
    given([added(item(1, 1, 2, 15))])
        .when(CartCommand::ExpireItem { item_id: id(1), now: at(14) })
        .then_refused(CartError::ItemNotExpired { item_id: id(1), expires_at: at(15) });
    let cart = given([added(item(1, 1, 2, 15))])
        .when(CartCommand::ExpireItem { item_id: id(1), now: at(15) })
        .then([CartEvent::ItemExpired { item_id: id(1) }]);
    assert!(cart.items().is_empty());
}

#[test]
fn live_items_and_the_total_leave_expired_items_out() {
    let cart = given([added(item(1, 1, 2, 15)), added(item(2, 2, 1, 30))]).state();
    assert_eq!(cart.live_items(at(20)).map(|item| item.item_id).collect::<Vec<_>>(), vec![id(2)]);
    assert_eq!(cart.total(at(0)), Some(eur(7_500)));
    assert_eq!(cart.total(at(20)), Some(eur(2_500)));
    assert_eq!(cart.total(at(30)), None);
}

#[test]
fn a_cart_is_checked_out_and_empty_again() {
    let cart = given([added(item(1, 1, 2, 15)), added(item(2, 2, 1, 15))])
        .when(CartCommand::CheckOut { order_id: id(9), now: at(14) })
        .then([CartEvent::CheckedOut { order_id: id(9), item_ids: vec![id(1), id(2)], total: eur(7_500) }]);
    assert!(cart.items().is_empty());
}

#[test]
fn a_checked_out_cart_is_used_for_the_next_purchase() {
    let history = [
        added(item(1, 1, 10, 15)),
        CartEvent::CheckedOut { order_id: id(9), item_ids: vec![id(1)], total: eur(25_000) },
    ];
    given(history).when(add(item(2, 1, 10, 30), 16)).then([added(item(2, 1, 10, 30))]);
}

#[test]
fn an_empty_cart_is_not_checked_out() {
    given([]).when(CartCommand::CheckOut { order_id: id(9), now: at(0) }).then_refused(CartError::Empty);
    given([added(item(1, 1, 2, 15)), CartEvent::ItemRemoved { item_id: id(1) }])
        .when(CartCommand::CheckOut { order_id: id(9), now: at(0) })
        .then_refused(CartError::Empty);
}

#[test]
fn a_cart_with_an_expired_item_is_not_checked_out() {
    given([added(item(1, 1, 2, 30)), added(item(2, 2, 1, 15))])
        .when(CartCommand::CheckOut { order_id: id(9), now: at(15) })
        .then_refused(CartError::ItemExpired { item_id: id(2), expires_at: at(15) });
}

#[test]
fn every_refusal_has_the_kind_the_api_maps() {
    assert_eq!(CartError::ItemNotFound(id(1)).kind(), RefusalKind::NotFound);
    let over = CartError::TooManyTicketsForConcert { concert_id: id(1), in_cart: 10, requested: 1 };
    assert_eq!(over.kind(), RefusalKind::Invalid);
    assert_eq!(CartError::TooManyTicketsHeld { held: 20, requested: 1 }.kind(), RefusalKind::Invalid);
    assert_eq!(CartError::Empty.kind(), RefusalKind::Conflict);
    assert_eq!(CartError::ItemExpired { item_id: id(1), expires_at: at(0) }.kind(), RefusalKind::Conflict);
}

#[test]
fn every_event_has_a_stable_json_shape() {
    const ITEM: &str = "00000000-0000-0000-0000-000000000001";
    let examples = [
        (
            added(item(1, 2, 3, 15)),
            "CartItemAdded",
            format!(
                r#"{{"itemId":"{ITEM}","concertId":"00000000-0000-0000-0000-000000000002","ticketTypeId":"00000000-0000-0000-0000-000000000066","quantity":3,"unitPrice":{{"amount":2500,"currency":"EUR"}},"expiresAt":"2030-01-01T00:15:00Z"}}"#
            ),
        ),
        (CartEvent::ItemRemoved { item_id: id(1) }, "CartItemRemoved", format!(r#"{{"itemId":"{ITEM}"}}"#)),
        (CartEvent::ItemExpired { item_id: id(1) }, "CartItemExpired", format!(r#"{{"itemId":"{ITEM}"}}"#)),
        (
            CartEvent::CheckedOut { order_id: id(9), item_ids: vec![id(1)], total: eur(7_500) },
            "CartCheckedOut",
            format!(
                r#"{{"orderId":"00000000-0000-0000-0000-000000000009","itemIds":["{ITEM}"],"total":{{"amount":7500,"currency":"EUR"}}}}"#
            ),
        ),
        (
            CartEvent::CustomerDisabled { disabled_at: at(20) },
            "CustomerDisabled",
            r#"{"disabledAt":"2030-01-01T00:20:00Z"}"#.to_owned(),
        ),
        (
            CartEvent::CustomerEnabled { enabled_at: at(30) },
            "CustomerEnabled",
            r#"{"enabledAt":"2030-01-01T00:30:00Z"}"#.to_owned(),
        ),
    ];
    assert_eq!(examples.len(), CART_EVENT_TYPES.len(), "one example per event type");
    for (event, event_type, json) in examples {
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.encode().expect("encodes"), json, "{event_type}");
        assert_eq!(CartEvent::decode(event_type, &json).expect("decodes"), event, "{event_type}");
    }
    assert!(matches!(CartEvent::decode("CartCreated", "{}"), Err(CodecError::UnknownType(_))));
}

#[test]
fn a_disabled_customer_takes_no_tickets_and_buys_nothing_but_may_let_go() {
    let disabled = || [added(item(1, 1, 2, 15)), CartEvent::CustomerDisabled { disabled_at: at(1) }];
    let refused = CartError::CustomerDisabled { since: at(1) };
    assert_eq!(refused.kind(), RefusalKind::Forbidden);

    given(disabled()).when(add(item(2, 1, 1, 15), 2)).then_refused(refused.clone());
    given(disabled()).when(CartCommand::CheckOut { order_id: id(9), now: at(2) }).then_refused(refused);
    given(disabled())
        .when(CartCommand::RemoveItem { item_id: id(1) })
        .then([CartEvent::ItemRemoved { item_id: id(1) }]);
    given(disabled())
        .when(CartCommand::ExpireItem { item_id: id(1), now: at(15) })
        .then([CartEvent::ItemExpired { item_id: id(1) }]);
    given(disabled()).when(CartCommand::DisableCustomer { now: at(3) }).then_nothing();
    assert_eq!(given(disabled()).state().disabled_since(), Some(at(1)));
}

#[test]
fn an_enabled_customer_buys_again() {
    let history = [CartEvent::CustomerDisabled { disabled_at: at(1) }];
    let cart = given(history.clone())
        .when(CartCommand::EnableCustomer { now: at(5) })
        .then([CartEvent::CustomerEnabled { enabled_at: at(5) }]);
    assert_eq!(cart.disabled_since(), None);
    let enabled = [history[0].clone(), CartEvent::CustomerEnabled { enabled_at: at(5) }];
    given(enabled.clone()).when(add(item(1, 1, 2, 15), 6)).then([added(item(1, 1, 2, 15))]);
    given(enabled).when(CartCommand::EnableCustomer { now: at(7) }).then_nothing();
    given([])
        .when(CartCommand::DisableCustomer { now: at(1) })
        .then([CartEvent::CustomerDisabled { disabled_at: at(1) }]);
}
