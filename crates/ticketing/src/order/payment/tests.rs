//! Given/when/then scenarios for an order's payment: paid, failed, run out,
//! every notification repeated, and payments that come too late.

use es_core::Aggregate;

use super::super::tests::line_of;
use super::*;
use crate::order::{OrderCommand, OrderHolds};
use crate::scenario::Given;
use crate::scenario::fixtures::{at, code, eur, id};
use crate::{ConcertStatus, RefusalKind};

fn given(history: impl IntoIterator<Item = OrderEvent>) -> Given<Order> {
    crate::scenario::given(history)
}

/// Order 9 of one ticket (2,500), placed at minute 3 and due at minute 13,
/// its holds kept by concert 1 and bucket 3 of concert 2.
pub(in crate::order) fn placed_due(lines: Vec<crate::OrderLine>) -> OrderEvent {
    let holds = vec![
        OrderHolds { concert_id: id(1), bucket: None, hold_ids: vec![id(7)] },
        OrderHolds { concert_id: id(2), bucket: Some(3), hold_ids: vec![id(8)] },
    ];
    let payment = Some(PaymentTerms::Due { provider: "stripe".to_owned(), due: at(13), holds });
    let total = eur(lines.iter().map(|line| line.unit_price.amount * u64::from(line.quantity.get())).sum());
    OrderEvent::Placed {
        order_id: id(9),
        customer_id: id(5),
        lines,
        total,
        placed_at: at(3),
        payment,
        deliver_to: None,
    }
}

fn pending() -> OrderEvent {
    placed_due(vec![line_of(1, 1, 0)])
}

fn pay(payment_id: &str, amount: u64, now: i64) -> OrderCommand {
    OrderCommand::Payment(PaymentCommand::Pay { payment_id: payment_id.to_owned(), amount: eur(amount), now: at(now) })
}

fn paid(payment_id: &str, now: i64) -> OrderEvent {
    OrderEvent::Paid {
        order_id: id(9),
        customer_id: id(5),
        lines: vec![line_of(1, 1, 0)],
        total: eur(2_500),
        payment_id: payment_id.to_owned(),
        paid_at: at(now),
    }
}

fn step(command: PaymentCommand) -> OrderCommand {
    OrderCommand::Payment(command)
}

fn check_in(now: i64) -> OrderCommand {
    OrderCommand::CheckInTicket { code: code(0), door: id(1), concert_status: ConcertStatus::Published, now: at(now) }
}

#[test]
fn an_order_awaiting_payment_has_no_valid_tickets_until_it_is_paid() {
    given([pending()]).when(check_in(4)).then_refused(OrderError::NotPaid { status: OrderStatus::PendingPayment });
    assert_eq!(given([pending()]).state().status(), OrderStatus::PendingPayment);
    assert!(pending().paid_tickets().is_none(), "no read model counts it yet");

    let order = given([pending()]).when(pay("pi_1", 2_500, 5)).then([paid("pi_1", 5)]);

    assert_eq!(order.status(), OrderStatus::Paid);
    assert_eq!(order.payment_id(), Some("pi_1"));
    assert!(paid("pi_1", 5).paid_tickets().is_some_and(|tickets| tickets.lines[0].ticket_codes == [code(0)]));
    given([pending(), paid("pi_1", 5)])
        .when(check_in(60))
        .then([OrderEvent::TicketCheckedIn { code: code(0), checked_in_at: at(60) }]);
}

#[test]
fn the_same_payment_notified_again_changes_nothing() {
    given([pending(), paid("pi_1", 5)]).when(pay("pi_1", 2_500, 6)).then_nothing();
}

#[test]
fn a_payment_of_another_amount_is_refused() {
    given([pending()])
        .when(pay("pi_1", 2_000, 5))
        .then_refused(OrderError::WrongAmount { total: eur(2_500), paid: eur(2_000) });
}

#[test]
fn the_provider_payment_is_recorded_once() {
    let requested = || OrderEvent::PaymentRequested { payment_id: "pi_1".to_owned() };
    let request = |payment_id: &str| step(PaymentCommand::Requested { payment_id: payment_id.to_owned() });
    let order = given([pending()]).when(request("pi_1")).then([requested()]);
    assert_eq!(order.payment_id(), Some("pi_1"));

    given([pending(), requested()]).when(request("pi_1")).then_nothing();
    given([pending(), requested()])
        .when(request("pi_2"))
        .then_refused(OrderError::OtherPayment { expected: "pi_1".to_owned(), given: "pi_2".to_owned() });
}

#[test]
fn a_failed_payment_fails_the_order_once() {
    let fail = || step(PaymentCommand::Fail { reason: "card declined".to_owned(), now: at(5) });
    let failed = OrderEvent::PaymentFailed { reason: "card declined".to_owned(), failed_at: at(5) };
    let order = given([pending()]).when(fail()).then([failed.clone()]);
    assert_eq!(order.status(), OrderStatus::Failed);

    given([pending(), failed.clone()])
        .when(fail())
        .then_refused(OrderError::NotAwaitingPayment { status: OrderStatus::Failed });
    given([pending(), paid("pi_1", 5)])
        .when(fail())
        .then_refused(OrderError::NotAwaitingPayment { status: OrderStatus::Paid });
    given([pending(), failed]).when(check_in(60)).then_refused(OrderError::NotPaid { status: OrderStatus::Failed });
}

#[test]
fn an_order_runs_out_only_once_its_payment_window_has_closed() {
    let expire = |now| step(PaymentCommand::Expire { now: at(now) });
    given([pending()]).when(expire(12)).then_refused(OrderError::NotDueYet { due: at(13) });
    let order = given([pending()]).when(expire(13)).then([OrderEvent::Expired { expired_at: at(13) }]);
    assert_eq!(order.status(), OrderStatus::Expired);

    given([pending(), paid("pi_1", 5)])
        .when(expire(13))
        .then_refused(OrderError::NotAwaitingPayment { status: OrderStatus::Paid });
}

#[test]
fn a_payment_after_the_order_ran_out_is_refused_and_returned_once() {
    let expired = OrderEvent::Expired { expired_at: at(13) };
    given([pending(), expired.clone()])
        .when(pay("pi_1", 2_500, 14))
        .then_refused(OrderError::NotAwaitingPayment { status: OrderStatus::Expired });

    let give_back = || {
        step(PaymentCommand::ReturnLatePayment {
            payment_id: "pi_1".to_owned(),
            refund_id: "re_1".to_owned(),
            now: at(14),
        })
    };
    let returned = OrderEvent::LatePaymentReturned {
        payment_id: "pi_1".to_owned(),
        refund_id: "re_1".to_owned(),
        returned_at: at(14),
    };
    given([pending(), expired.clone()]).when(give_back()).then([returned.clone()]);
    given([pending(), expired, returned]).when(give_back()).then_nothing();
}

#[test]
fn the_payment_an_order_keeps_is_never_returned() {
    let give_back = |payment_id: &str| {
        step(PaymentCommand::ReturnLatePayment {
            payment_id: payment_id.to_owned(),
            refund_id: "re_1".to_owned(),
            now: at(6),
        })
    };
    given([pending(), paid("pi_1", 5)])
        .when(give_back("pi_1"))
        .then_refused(OrderError::PaymentKept { payment_id: "pi_1".to_owned() });
    // A second payment for an order paid by another is returned.
    given([pending(), paid("pi_1", 5)]).when(give_back("pi_2")).then([OrderEvent::LatePaymentReturned {
        payment_id: "pi_2".to_owned(),
        refund_id: "re_1".to_owned(),
        returned_at: at(6),
    }]);
}

#[test]
fn a_payment_window_is_short_and_in_the_future() {
    let place = |due| OrderCommand::Place {
        order_id: id(9),
        customer_id: id(5),
        lines: vec![line_of(1, 1, 0)],
        payment: PaymentTerms::Due { provider: "stripe".to_owned(), due: at(due), holds: Vec::new() },
        deliver_to: None,
        now: at(3),
    };
    given([]).when(place(3)).then_refused(OrderError::BadPaymentWindow);
    given([]).when(place(3 + crate::limits::PAYMENT_MINUTES + 1)).then_refused(OrderError::BadPaymentWindow);
    assert!(Order::default().decide(&place(3 + crate::limits::PAYMENT_MINUTES)).is_ok());
}

#[test]
fn payment_refusals_map_onto_the_api() {
    assert_eq!(OrderError::NotPaid { status: OrderStatus::Expired }.kind(), RefusalKind::Conflict);
    assert_eq!(OrderError::WrongAmount { total: eur(1), paid: eur(2) }.kind(), RefusalKind::Invalid);
    assert_eq!(OrderError::BadPaymentWindow.kind(), RefusalKind::Invalid);
}

#[test]
fn a_step_for_an_order_never_placed_is_not_found() {
    given([]).when(pay("pi_1", 2_500, 5)).then_refused(OrderError::NotFound);
}
