//! Given/when/then scenarios for paying back a cancelled concert's tickets:
//! once per concert, line by line for an order of several concerts, and
//! never for an order that holds no valid tickets.

use super::*;
use crate::ConcertStatus;
use crate::order::OrderCommand;
use crate::order::payment::tests::placed_due;
use crate::order::tests::line_of;
use crate::scenario::Given;
use crate::scenario::fixtures::{at, code, eur, id};

fn given(history: impl IntoIterator<Item = OrderEvent>) -> Given<Order> {
    crate::scenario::given(history)
}

/// Order 9: two tickets of concert 1 (codes 0, 1) and one of concert 2
/// (code 2), 2,500 each, paid with `pi_1` at minute 5.
fn paid_order() -> [OrderEvent; 2] {
    let lines = vec![line_of(1, 2, 0), line_of(2, 1, 2)];
    let placed = placed_due(lines.clone());
    let paid = OrderEvent::Paid {
        order_id: id(9),
        customer_id: id(5),
        lines,
        total: eur(7_500),
        payment_id: "pi_1".to_owned(),
        paid_at: at(5),
    };
    [placed, paid]
}

fn refund(concert: u128, refund_id: &str, now: i64) -> OrderCommand {
    let refund_id = Some(refund_id.to_owned());
    OrderCommand::Refund(RefundCommand::Cancelled { concert_id: id(concert), refund_id, now: at(now) })
}

fn refunded(concert: u128, refund_id: &str, now: i64, whole_order: bool) -> OrderEvent {
    let (lines, amount) = match concert {
        1 => (vec![line_of(1, 2, 0)], eur(5_000)),
        _ => (vec![line_of(2, 1, 2)], eur(2_500)),
    };
    OrderEvent::Refunded {
        concert_id: id(concert),
        lines,
        amount,
        refund_id: Some(refund_id.to_owned()),
        whole_order,
        refunded_at: at(now),
    }
}

fn check_in(code_number: u32, concert: u128) -> OrderCommand {
    let (code, door) = (code(code_number), id(concert));
    OrderCommand::CheckInTicket { code, door, concert_status: ConcertStatus::Published, now: at(90) }
}

fn history(extra: impl IntoIterator<Item = OrderEvent>) -> Vec<OrderEvent> {
    paid_order().into_iter().chain(extra).collect()
}

#[test]
fn a_cancelled_concerts_tickets_are_paid_back_once_and_void_at_the_door() {
    assert_eq!(given(paid_order()).state().refund_due(id(1)), Some(eur(5_000)));

    let order = given(paid_order()).when(refund(1, "re_1", 60)).then([refunded(1, "re_1", 60, false)]);

    assert_eq!(order.status(), OrderStatus::Paid, "the other concert's ticket is still valid");
    assert!(order.is_refunded(id(1)));
    assert_eq!(order.refund_due(id(1)), None);
    given(history([refunded(1, "re_1", 60, false)])).when(refund(1, "re_2", 61)).then_nothing();
    given(history([refunded(1, "re_1", 60, false)]))
        .when(check_in(0, 1))
        .then_refused(OrderError::ConcertCancelled { code: code(0), concert_id: id(1) });
    given(history([refunded(1, "re_1", 60, false)]))
        .when(check_in(2, 2))
        .then([OrderEvent::TicketCheckedIn { code: code(2), checked_in_at: at(90) }]);
}

#[test]
fn an_order_whose_every_concert_is_paid_back_is_refunded() {
    let order = given(history([refunded(1, "re_1", 60, false)]))
        .when(refund(2, "re_2", 70))
        .then([refunded(2, "re_2", 70, true)]);

    assert_eq!(order.status(), OrderStatus::Refunded);
    assert_eq!(refunded(2, "re_2", 70, true).status_after(), Some(OrderStatus::Refunded));
    assert_eq!(refunded(1, "re_1", 60, false).status_after(), None);
    given(history([refunded(1, "re_1", 60, false), refunded(2, "re_2", 70, true)]))
        .when(check_in(2, 2))
        .then_refused(OrderError::ConcertCancelled { code: code(2), concert_id: id(2) });
}

#[test]
fn only_valid_tickets_are_paid_back() {
    given([placed_due(vec![line_of(1, 1, 0)])])
        .when(refund(1, "re_1", 60))
        .then_refused(OrderError::NotPaid { status: OrderStatus::PendingPayment });
    given(paid_order()).when(refund(3, "re_1", 60)).then_refused(OrderError::NoTicketsFor { concert_id: id(3) });
    given([]).when(refund(1, "re_1", 60)).then_refused(OrderError::NotFound);
    assert_eq!(given([placed_due(vec![line_of(1, 1, 0)])]).state().refund_due(id(1)), None);
}

#[test]
fn the_buyer_is_told_once_and_only_of_a_refund_that_happened() {
    let to = crate::EmailAddress::new("fan@example.com").expect("an address");
    let mailed = |now| {
        OrderCommand::Refund(RefundCommand::Mailed {
            concert_id: id(1),
            to: to.clone(),
            message_id: "<m>".to_owned(),
            now: at(now),
        })
    };
    given(paid_order()).when(mailed(61)).then_refused(OrderError::NotRefunded { concert_id: id(1) });
    let order = given(history([refunded(1, "re_1", 60, false)])).when(mailed(61)).then([OrderEvent::RefundMailed {
        concert_id: id(1),
        to: to.clone(),
        message_id: "<m>".to_owned(),
        mailed_at: at(61),
    }]);
    assert!(order.refund_mailed(id(1)));
    let told =
        OrderEvent::RefundMailed { concert_id: id(1), to: to.clone(), message_id: "<m>".to_owned(), mailed_at: at(61) };
    given(history([refunded(1, "re_1", 60, false), told])).when(mailed(62)).then_nothing();
}
