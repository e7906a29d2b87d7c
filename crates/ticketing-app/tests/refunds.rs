//! A cancelled concert's paid orders are paid back against the real SQLite
//! log, with a provider that counts its refunds and a mailer that keeps its
//! mail: once per order and concert, only the cancelled concert's share of
//! an order of several, the tickets void at the door, each buyer told once,
//! and a process started again doing nothing twice.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ticketing::{ConcertId, EmailAddress, OrderId, OrderStatus, RefusalKind, TicketCode, TicketTypeId};
use ticketing_app::payments::{PaymentNotice, PaymentOutcome};
use ticketing_app::{CancellationRefunds, Shop};

mod common;

use common::fakes::{FakeMailer, FakeProvider};
use common::*;

fn eur(amount: u64) -> ticketing::Money {
    ticketing::Money::new(amount, ticketing::Currency::new("EUR").expect("a currency"))
}

/// A refund process that has read the whole log, as it does when it starts.
async fn refunds_over(shop: &Shop) -> Result<CancellationRefunds, Box<dyn std::error::Error + Send + Sync>> {
    let mut refunds = CancellationRefunds::new();
    for record in &whole_log(shop).await? {
        refunds.observe(record)?;
    }
    Ok(refunds)
}

/// `buyer` checks out what is in their cart with an address to mail to and
/// pays for it at the provider, if the shop has one.
async fn paid_order(shop: &Shop, buyer: ticketing::CustomerId, n: usize) -> Result<OrderId, AppFailure> {
    let address = EmailAddress::new(&format!("fan{n}@example.com"))?;
    let order_id = shop.checkout_to(&ctx(), buyer, Some(address)).await?;
    let payment = shop.order_payment(&ctx(), None, order_id).await?;
    if let Some(session) = payment.session {
        let total = shop.orders().refresh(order_id.into()).await?.state.placed().ok_or("placed")?.total;
        let outcome = PaymentOutcome::Succeeded { amount: total };
        let notice =
            PaymentNotice { notice_id: format!("evt_{order_id}"), payment_id: session.payment_id, order_id, outcome };
        shop.settle_payment(&notice).await?;
    }
    Ok(order_id)
}

type AppFailure = Box<dyn std::error::Error + Send + Sync>;

fn codes_of(shop_order: &ticketing::Order, concert_id: ConcertId) -> Vec<TicketCode> {
    shop_order
        .tickets()
        .filter(|ticket| ticket.line.concert_id == concert_id)
        .map(|ticket| ticket.code.clone())
        .collect()
}

struct Story {
    cancelled: (ConcertId, TicketTypeId),
    other: (ConcertId, TicketTypeId),
    /// Two tickets each of the cancelled concert.
    single: Vec<OrderId>,
    /// One ticket of each concert.
    both: OrderId,
    /// Checked out, never paid.
    pending: OrderId,
}

/// Three orders of the concert to be cancelled, one of it and another
/// concert, and one that awaits its payment; then the concert is cancelled.
async fn cancelled_with_orders(shop: &Shop) -> Result<Story, AppFailure> {
    let cancelled = on_sale(shop, 20).await?;
    let other = on_sale(shop, 20).await?;
    let mut single = Vec::new();
    for n in 0..3 {
        let buyer = customer();
        shop.reserve(&ctx(), buyer, cancelled.0, cancelled.1, quantity(2)).await?;
        single.push(paid_order(shop, buyer, n).await?);
    }
    let buyer = customer();
    shop.reserve(&ctx(), buyer, cancelled.0, cancelled.1, quantity(1)).await?;
    shop.reserve(&ctx(), buyer, other.0, other.1, quantity(1)).await?;
    let both = paid_order(shop, buyer, 3).await?;
    let waiting = customer();
    shop.reserve(&ctx(), waiting, cancelled.0, cancelled.1, quantity(1)).await?;
    let pending = shop.checkout_to(&ctx(), waiting, Some(EmailAddress::new("late@example.com")?)).await?;
    shop.cancel_concert(&ctx(), cancelled.0).await?;
    Ok(Story { cancelled, other, single, both, pending })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_concerts_paid_orders_are_paid_back_and_told_once() -> TestResult {
    let fixture = open()?;
    let provider = Arc::new(FakeProvider::default());
    let shop =
        Arc::new(shop_over(&fixture.store, &fixture.clock).with_buckets_per_concert(2).with_payments(provider.clone()));
    let story = cancelled_with_orders(&shop).await?;
    let mailer = FakeMailer::default();

    mailer.down.store(true, Ordering::SeqCst);
    let report = refunds_over(&shop).await?.refund(&shop, Some(&mailer)).await;
    assert_eq!(report.refunded, 4, "three orders and the share of the fourth: {report:?}");
    assert_eq!(report.mailed, 0, "the mail server is down");
    mailer.down.store(false, Ordering::SeqCst);
    let mut refunds = refunds_over(&shop).await?;
    assert_eq!(refunds.unmailed(), 4, "a process started again knows from the log what is left to tell");
    let report = refunds.refund(&shop, Some(&mailer)).await;
    assert_eq!((report.refunded, report.mailed, report.failed), (0, 4, 0), "{report:?}");
    let again = refunds_over(&shop).await?.refund(&shop, Some(&mailer)).await;
    assert_eq!((again.refunded, again.mailed), (0, 0), "everything is in the log: nothing twice");

    let refunded = provider.state().refunded.clone();
    assert_eq!(refunded.len(), 4, "one refund per order at the provider: {refunded:?}");
    let mut amounts: Vec<_> = refunded.iter().map(|(_, amount)| *amount).collect();
    amounts.sort_by_key(|amount| amount.map(|money| money.amount));
    assert_eq!(amounts, [Some(eur(2_500)), Some(eur(5_000)), Some(eur(5_000)), Some(eur(5_000))]);
    for order_id in &story.single {
        let order = shop.orders().refresh((*order_id).into()).await?;
        assert_eq!(order.state.status(), OrderStatus::Refunded);
        let code = codes_of(&order.state, story.cancelled.0)[0].clone();
        let refused = shop.check_in(&ctx(), *order_id, code).await;
        assert!(is_refusal(&refused, RefusalKind::Conflict), "{refused:?}");
    }
    let both = shop.orders().refresh(story.both.into()).await?;
    assert_eq!(both.state.status(), OrderStatus::Paid, "its other concert's ticket is still valid");
    let void = codes_of(&both.state, story.cancelled.0)[0].clone();
    assert!(is_refusal(&shop.check_in(&ctx(), story.both, void).await, RefusalKind::Conflict));
    let valid = codes_of(&both.state, story.other.0)[0].clone();
    shop.check_in_at_door(&ctx(), story.other.0, story.both, valid).await?;
    let pending = shop.orders().refresh(story.pending.into()).await?;
    assert_eq!(pending.state.status(), OrderStatus::PendingPayment, "nothing was paid: nothing to pay back");

    let sent = mailer.sent.lock().expect("not poisoned").clone();
    let mut to: Vec<&str> = sent.iter().map(|mail| mail.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["fan0@example.com", "fan1@example.com", "fan2@example.com", "fan3@example.com"]);
    let fan3 = sent.iter().find(|mail| mail.to == "fan3@example.com").ok_or("fan3's mail")?;
    assert!(fan3.text.contains("EUR 25.00"), "{}", fan3.text);
    assert_eq!(fan3.message_id, format!("<refund.{}.{}@cloudbash>", story.both, story.cancelled.0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_that_is_down_delays_the_refunds_and_loses_none() -> TestResult {
    let fixture = open()?;
    let provider = Arc::new(FakeProvider::default());
    let shop = Arc::new(shop_over(&fixture.store, &fixture.clock).with_payments(provider.clone()));
    let story = cancelled_with_orders(&shop).await?;

    provider.down.store(true, Ordering::SeqCst);
    let mut refunds = refunds_over(&shop).await?;
    let report = refunds.refund(&shop, None).await;
    assert_eq!((report.refunded, report.failed), (0, 5), "four orders and the concert: {report:?}");
    provider.down.store(false, Ordering::SeqCst);
    let report = refunds.refund(&shop, None).await;
    assert_eq!((report.refunded, report.failed), (4, 0), "the same process tries again: {report:?}");

    for order_id in story.single {
        assert_eq!(shop.orders().refresh(order_id.into()).await?.state.status(), OrderStatus::Refunded);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_provider_the_orders_are_refunded_with_no_money_to_move() -> TestResult {
    let fixture = open()?;
    let story = cancelled_with_orders(&fixture.shop).await?;

    let report = refunds_over(&fixture.shop).await?.refund(&fixture.shop, None).await;

    assert_eq!(report.refunded, 5, "the built-in provider paid every order at checkout");
    let order = fixture.shop.orders().refresh(story.single[0].into()).await?;
    assert_eq!(order.state.status(), OrderStatus::Refunded);
    let refund = order.state.refund_of(story.cancelled.0).ok_or("refunded")?;
    assert_eq!((refund.amount, refund.refund_id.as_deref()), (eur(5_000), None));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_paid_back_before_its_tickets_were_mailed_gets_no_tickets() -> TestResult {
    let fixture = open()?;
    let story = cancelled_with_orders(&fixture.shop).await?;
    refunds_over(&fixture.shop).await?.refund(&fixture.shop, None).await;
    let mut delivery = ticketing_app::TicketDelivery::new();
    for record in &whole_log(&fixture.shop).await? {
        delivery.observe(record)?;
    }
    let mailer = FakeMailer::default();

    let report = delivery.deliver(&fixture.shop, &mailer, &common::fakes::CodeList).await;

    assert_eq!((report.sent, report.failed), (1, 0), "only the order with a valid ticket left: {report:?}");
    let sent = mailer.sent.lock().expect("not poisoned").clone();
    assert_eq!(sent.iter().map(|mail| mail.to.as_str()).collect::<Vec<_>>(), ["fan3@example.com"]);
    let both = fixture.shop.orders().refresh(story.both.into()).await?;
    let valid = codes_of(&both.state, story.other.0);
    assert_eq!(
        String::from_utf8(sent[0].attachments[0].bytes.clone())?,
        valid[0].as_str(),
        "the void ticket is left out"
    );
    assert_eq!(delivery.pending(), 0, "nothing is tried again");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_a_cancelled_concerts_tickets_are_paid_back() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let buyer = customer();
    shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(1)).await?;
    let order_id = shop.checkout(&ctx(), buyer).await?;

    let refused = shop.refund_cancelled(order_id, concert_id).await;

    assert!(is_refusal(&refused, RefusalKind::Conflict), "{refused:?}");
    assert_eq!(shop.orders().refresh(order_id.into()).await?.state.status(), OrderStatus::Paid);
    Ok(())
}
