//! Given/when/then scenarios for placing orders and checking tickets in, and
//! the JSON snapshot of every event.

use es_core::{CodecError, DomainEvent};

use super::*;
use crate::RefusalKind;
use crate::email::EmailAddress;
use crate::scenario::Given;
use crate::scenario::fixtures::{at, code, eur, id, quantity, usd};

/// The history of one order, typed so that an empty history needs no annotation.
fn given(history: impl IntoIterator<Item = OrderEvent>) -> Given<Order> {
    crate::scenario::given(history)
}

fn line(concert: u128, count: u32, first_code: u32) -> OrderLine {
    OrderLine {
        concert_id: id(concert),
        ticket_type_id: id(100 + concert),
        unit_price: eur(2_500),
        quantity: quantity(count),
        ticket_codes: (first_code..first_code + count).map(code).collect(),
    }
}

pub(super) fn line_of(concert: u128, count: u32, first_code: u32) -> OrderLine {
    line(concert, count, first_code)
}

fn fan() -> EmailAddress {
    EmailAddress::new("fan@example.com").expect("an address")
}

pub(super) fn test_paid() -> PaymentTerms {
    PaymentTerms::PaidAtCheckout { provider: "test".to_owned() }
}

fn place(lines: Vec<OrderLine>) -> OrderCommand {
    let deliver_to = Some(fan());
    OrderCommand::Place { order_id: id(9), customer_id: id(5), lines, payment: test_paid(), deliver_to, now: at(3) }
}

fn placed(lines: Vec<OrderLine>, total: u64) -> OrderEvent {
    let payment = Some(test_paid());
    let deliver_to = Some(fan());
    OrderEvent::Placed {
        order_id: id(9),
        customer_id: id(5),
        lines,
        total: eur(total),
        placed_at: at(3),
        payment,
        deliver_to,
    }
}

/// Checks ticket `n` in at the door of concert 1, which is on.
fn check_in(n: u32, now: i64) -> OrderCommand {
    check_in_at(1, ConcertStatus::Published, n, now)
}

fn check_in_at(door: u128, concert_status: ConcertStatus, n: u32, now: i64) -> OrderCommand {
    OrderCommand::CheckInTicket { code: code(n), door: id(door), concert_status, now: at(now) }
}

#[test]
fn an_order_is_placed_with_its_prices_and_total() {
    let lines = vec![line(1, 2, 0), line(2, 3, 10)];
    let order = given([]).when(place(lines.clone())).then([placed(lines, 12_500)]);
    assert_eq!(order.placed().map(|placed| placed.total), Some(eur(12_500)));
    assert_eq!(order.tickets().count(), 5);
}

#[test]
fn an_order_is_placed_once() {
    given([placed(vec![line(1, 1, 0)], 2_500)])
        .when(place(vec![line(1, 1, 5)]))
        .then_refused(OrderError::AlreadyPlaced);
}

#[test]
fn an_order_needs_a_bounded_number_of_lines() {
    given([]).when(place(vec![])).then_refused(OrderError::NoLines);
    let lines = (0..=limits::ORDER_LINES_MAX as u32).map(|n| line(u128::from(n), 1, n)).collect();
    given([]).when(place(lines)).then_refused(OrderError::TooManyLines);
}

#[test]
fn each_line_has_exactly_one_code_per_ticket() {
    let mut short = line(1, 3, 0);
    short.ticket_codes.pop();
    given([]).when(place(vec![line(2, 1, 10), short])).then_refused(OrderError::WrongNumberOfCodes {
        line: 1,
        quantity: 3,
        codes: 2,
    });
}

#[test]
fn ticket_codes_are_distinct_within_an_order() {
    given([]).when(place(vec![line(1, 2, 0), line(2, 2, 1)])).then_refused(OrderError::DuplicateCode(code(1)));
}

#[test]
fn an_order_is_in_one_currency_with_bounded_prices() {
    let dollars = OrderLine { unit_price: usd(100), ..line(2, 1, 10) };
    given([])
        .when(place(vec![line(1, 1, 0), dollars]))
        .then_refused(OrderError::CurrencyMismatch { expected: eur(0).currency, actual: usd(0).currency });
    let too_dear = OrderLine { unit_price: eur(limits::TICKET_PRICE_MINOR_UNITS_MAX + 1), ..line(1, 1, 0) };
    given([]).when(place(vec![too_dear])).then_refused(OrderError::PriceTooHigh);
}

#[test]
fn an_order_holds_at_most_ten_tickets_of_one_concert() {
    let other_type = OrderLine { ticket_type_id: id(999), ..line(1, 4, 100) };
    given([])
        .when(place(vec![line(1, 7, 0), other_type]))
        .then_refused(OrderError::TooManyTicketsForConcert { concert_id: id(1), tickets: 11 });
}

#[test]
fn a_ticket_is_checked_in_once() {
    let history = || [placed(vec![line(1, 2, 0)], 5_000)];
    let order = given(history())
        .when(check_in(1, 60))
        .then([OrderEvent::TicketCheckedIn { code: code(1), checked_in_at: at(60) }]);
    assert_eq!(order.ticket(&code(1)).and_then(|ticket| ticket.checked_in_at), Some(at(60)));
    assert_eq!(order.ticket(&code(0)).and_then(|ticket| ticket.checked_in_at), None);
    let again =
        [placed(vec![line(1, 2, 0)], 5_000), OrderEvent::TicketCheckedIn { code: code(1), checked_in_at: at(60) }];
    given(again)
        .when(check_in(1, 61))
        .then_refused(OrderError::AlreadyCheckedIn { code: code(1), checked_in_at: at(60) });
}

#[test]
fn a_ticket_is_let_in_only_at_the_door_of_its_own_concert() {
    let history = || [placed(vec![line(1, 1, 0), line(2, 1, 10)], 5_000)];
    given(history())
        .when(check_in_at(2, ConcertStatus::Published, 0, 60))
        .then_refused(OrderError::TicketForAnotherConcert { code: code(0), concert_id: id(1), door: id(2) });
    given(history())
        .when(check_in_at(2, ConcertStatus::Published, 10, 60))
        .then([OrderEvent::TicketCheckedIn { code: code(10), checked_in_at: at(60) }]);
}

#[test]
fn no_ticket_of_a_cancelled_concert_is_let_in() {
    given([placed(vec![line(1, 2, 0)], 5_000)])
        .when(check_in_at(1, ConcertStatus::Cancelled, 1, 60))
        .then_refused(OrderError::ConcertCancelled { code: code(1), concert_id: id(1) });
}

#[test]
fn an_unknown_ticket_or_order_is_not_found() {
    given([placed(vec![line(1, 2, 0)], 5_000)]).when(check_in(7, 60)).then_refused(OrderError::TicketNotFound(code(7)));
    given([]).when(check_in(0, 60)).then_refused(OrderError::NotFound);
}

#[test]
fn every_refusal_has_the_kind_the_api_maps() {
    assert_eq!(OrderError::TicketNotFound(code(1)).kind(), RefusalKind::NotFound);
    assert_eq!(OrderError::AlreadyCheckedIn { code: code(1), checked_in_at: at(0) }.kind(), RefusalKind::Conflict);
    assert_eq!(OrderError::DuplicateCode(code(1)).kind(), RefusalKind::Invalid);
    let elsewhere = OrderError::TicketForAnotherConcert { code: code(1), concert_id: id(1), door: id(2) };
    assert_eq!(elsewhere.kind(), RefusalKind::Invalid);
    assert_eq!(OrderError::ConcertCancelled { code: code(1), concert_id: id(1) }.kind(), RefusalKind::Conflict);
}

#[test]
fn every_event_has_a_stable_json_shape() {
    let examples = [
        (
            placed(vec![line(1, 2, 0)], 5_000),
            "OrderPlaced",
            r#"{"orderId":"00000000-0000-0000-0000-000000000009","customerId":"00000000-0000-0000-0000-000000000005","lines":[{"concertId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"00000000-0000-0000-0000-000000000065","unitPrice":{"amount":2500,"currency":"EUR"},"quantity":2,"ticketCodes":["TICKET0000000000","TICKET0000000001"]}],"total":{"amount":5000,"currency":"EUR"},"placedAt":"2030-01-01T00:03:00Z","payment":{"kind":"paidAtCheckout","provider":"test"},"deliverTo":"fan@example.com"}"#,
        ),
        (
            super::payment::tests::placed_due(vec![line(1, 1, 0)]),
            "OrderPlaced",
            r#"{"orderId":"00000000-0000-0000-0000-000000000009","customerId":"00000000-0000-0000-0000-000000000005","lines":[{"concertId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"00000000-0000-0000-0000-000000000065","unitPrice":{"amount":2500,"currency":"EUR"},"quantity":1,"ticketCodes":["TICKET0000000000"]}],"total":{"amount":2500,"currency":"EUR"},"placedAt":"2030-01-01T00:03:00Z","payment":{"kind":"due","provider":"stripe","due":"2030-01-01T00:13:00Z","holds":[{"concertId":"00000000-0000-0000-0000-000000000001","holdIds":["00000000-0000-0000-0000-000000000007"]},{"concertId":"00000000-0000-0000-0000-000000000002","bucket":3,"holdIds":["00000000-0000-0000-0000-000000000008"]}]}}"#,
        ),
        (
            OrderEvent::PaymentRequested { payment_id: "pi_1".to_owned() },
            "OrderPaymentRequested",
            r#"{"paymentId":"pi_1"}"#,
        ),
        (
            OrderEvent::Paid {
                order_id: id(9),
                customer_id: id(5),
                lines: vec![line(1, 1, 0)],
                total: eur(2_500),
                payment_id: "pi_1".to_owned(),
                paid_at: at(5),
            },
            "OrderPaid",
            r#"{"orderId":"00000000-0000-0000-0000-000000000009","customerId":"00000000-0000-0000-0000-000000000005","lines":[{"concertId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"00000000-0000-0000-0000-000000000065","unitPrice":{"amount":2500,"currency":"EUR"},"quantity":1,"ticketCodes":["TICKET0000000000"]}],"total":{"amount":2500,"currency":"EUR"},"paymentId":"pi_1","paidAt":"2030-01-01T00:05:00Z"}"#,
        ),
        (
            OrderEvent::PaymentFailed { reason: "card declined".to_owned(), failed_at: at(5) },
            "OrderPaymentFailed",
            r#"{"reason":"card declined","failedAt":"2030-01-01T00:05:00Z"}"#,
        ),
        (OrderEvent::Expired { expired_at: at(13) }, "OrderExpired", r#"{"expiredAt":"2030-01-01T00:13:00Z"}"#),
        (
            OrderEvent::TicketsMailed { to: fan(), message_id: "<tickets.9@cloudbash>".to_owned(), mailed_at: at(4) },
            "OrderTicketsMailed",
            r#"{"to":"fan@example.com","messageId":"<tickets.9@cloudbash>","mailedAt":"2030-01-01T00:04:00Z"}"#,
        ),
        (
            OrderEvent::LatePaymentReturned {
                payment_id: "pi_1".to_owned(),
                refund_id: "re_1".to_owned(),
                returned_at: at(20),
            },
            "OrderLatePaymentReturned",
            r#"{"paymentId":"pi_1","refundId":"re_1","returnedAt":"2030-01-01T00:20:00Z"}"#,
        ),
        (
            OrderEvent::Refunded {
                concert_id: id(1),
                lines: vec![line(1, 1, 0)],
                amount: eur(2_500),
                refund_id: Some("re_2".to_owned()),
                whole_order: true,
                refunded_at: at(30),
            },
            "OrderRefunded",
            r#"{"concertId":"00000000-0000-0000-0000-000000000001","lines":[{"concertId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"00000000-0000-0000-0000-000000000065","unitPrice":{"amount":2500,"currency":"EUR"},"quantity":1,"ticketCodes":["TICKET0000000000"]}],"amount":{"amount":2500,"currency":"EUR"},"refundId":"re_2","wholeOrder":true,"refundedAt":"2030-01-01T00:30:00Z"}"#,
        ),
        (
            OrderEvent::RefundMailed {
                concert_id: id(1),
                to: fan(),
                message_id: "<refund@x>".to_owned(),
                mailed_at: at(31),
            },
            "OrderRefundMailed",
            r#"{"concertId":"00000000-0000-0000-0000-000000000001","to":"fan@example.com","messageId":"<refund@x>","mailedAt":"2030-01-01T00:31:00Z"}"#,
        ),
        (
            OrderEvent::TicketCheckedIn { code: code(1), checked_in_at: at(60) },
            "TicketCheckedIn",
            r#"{"code":"TICKET0000000001","checkedInAt":"2030-01-01T01:00:00Z"}"#,
        ),
    ];
    let types: BTreeSet<&str> = examples.iter().map(|(_, event_type, _)| *event_type).collect();
    assert_eq!(types.len(), ORDER_EVENT_TYPES.len(), "one example per event type");
    for (event, event_type, json) in examples {
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.encode().expect("encodes"), json, "{event_type}");
        assert_eq!(OrderEvent::decode(event_type, json).expect("decodes"), event, "{event_type}");
    }
    assert!(matches!(OrderEvent::decode("OrderCreated", "{}"), Err(CodecError::UnknownType(_))));
}

#[test]
fn an_order_placed_before_payments_existed_reads_as_paid() {
    let legacy = r#"{"orderId":"00000000-0000-0000-0000-000000000009","customerId":"00000000-0000-0000-0000-000000000005","lines":[{"concertId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"00000000-0000-0000-0000-000000000065","unitPrice":{"amount":2500,"currency":"EUR"},"quantity":1,"ticketCodes":["TICKET0000000000"]}],"total":{"amount":2500,"currency":"EUR"},"placedAt":"2030-01-01T00:03:00Z"}"#;
    let event = OrderEvent::decode("OrderPlaced", legacy).expect("decodes");

    assert!(event.paid_tickets().is_some(), "its tickets are valid");
    let order = given([event])
        .when(check_in(0, 60))
        .then([OrderEvent::TicketCheckedIn { code: code(0), checked_in_at: at(60) }]);
    assert_eq!(order.status(), OrderStatus::Paid);
}

#[test]
fn the_tickets_of_a_paid_order_are_recorded_as_mailed_once() {
    let mail = || OrderCommand::RecordTicketsMailed { to: fan(), message_id: "<m>".to_owned(), now: at(4) };
    let mailed = OrderEvent::TicketsMailed { to: fan(), message_id: "<m>".to_owned(), mailed_at: at(4) };
    let order = given([placed(vec![line(1, 1, 0)], 2_500)]).when(mail()).then([mailed.clone()]);
    assert_eq!(order.tickets_mailed(), Some(at(4)));

    given([placed(vec![line(1, 1, 0)], 2_500), mailed]).when(mail()).then_nothing();
    given([]).when(mail()).then_refused(OrderError::NotFound);
    given([super::payment::tests::placed_due(vec![line(1, 1, 0)])])
        .when(mail())
        .then_refused(OrderError::NotPaid { status: OrderStatus::PendingPayment });
}
