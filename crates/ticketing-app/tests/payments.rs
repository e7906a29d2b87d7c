//! An order's payment against the real SQLite log, with a provider that
//! keeps its payments in memory and counts every call: tickets held while
//! the order awaits payment, sold when it is paid, back on sale when it
//! fails or runs out; every notification handled once; money that comes too
//! late paid back once.

use std::sync::Arc;

use chrono::Duration;
use ticketing::{ConcertId, Money, OrderId, OrderStatus, RefusalKind, TicketTypeId};
use ticketing_app::payments::{PaymentNotice, PaymentOutcome};
use ticketing_app::{Settlement, Shop};

mod common;

use common::fakes::{CodeList, FakeMailer, FakeProvider};
use common::*;

struct Paying {
    fixture: Fixture,
    provider: Arc<FakeProvider>,
    shop: Arc<Shop>,
}

fn open_paying() -> Result<Paying, Box<dyn std::error::Error + Send + Sync>> {
    let fixture = open()?;
    let provider = Arc::new(FakeProvider::default());
    let shop = Arc::new(shop_over(&fixture.store, &fixture.clock).with_payments(provider.clone()));
    Ok(Paying { fixture, provider, shop })
}

/// Customer reserves `count` tickets of a fresh concert and checks out.
async fn bought(
    shop: &Shop,
    count: u32,
) -> Result<(ConcertId, TicketTypeId, OrderId), Box<dyn std::error::Error + Send + Sync>> {
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let buyer = customer();
    shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(count)).await?;
    let order_id = shop.checkout(&ctx(), buyer).await?;
    Ok((concert_id, ticket_type_id, order_id))
}

async fn counts(
    shop: &Shop,
    concert_id: ConcertId,
    ticket_type_id: TicketTypeId,
) -> Result<(u32, u32), Box<dyn std::error::Error + Send + Sync>> {
    let concert = shop.concerts().refresh(concert_id.into()).await?;
    let ticket_type = concert.state.ticket_type(ticket_type_id).ok_or("the ticket type exists")?;
    Ok((ticket_type.held, ticket_type.sold))
}

async fn status(shop: &Shop, order_id: OrderId) -> Result<OrderStatus, Box<dyn std::error::Error + Send + Sync>> {
    Ok(shop.orders().refresh(order_id.into()).await?.state.status())
}

fn eur(amount: u64) -> Money {
    Money::new(amount, ticketing::Currency::new("EUR").expect("a currency"))
}

fn notice(id: &str, payment_id: &str, order_id: OrderId, outcome: PaymentOutcome) -> PaymentNotice {
    PaymentNotice { notice_id: id.to_owned(), payment_id: payment_id.to_owned(), order_id, outcome }
}

fn succeeded(amount: u64) -> PaymentOutcome {
    PaymentOutcome::Succeeded { amount: eur(amount) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paid_order_sells_its_held_tickets_once() -> TestResult {
    let Paying { fixture: _fixture, shop, provider } = open_paying()?;
    let (concert_id, ticket_type_id, order_id) = bought(&shop, 2).await?;

    assert_eq!(status(&shop, order_id).await?, OrderStatus::PendingPayment);
    assert_eq!(counts(&shop, concert_id, ticket_type_id).await?, (2, 0), "held for the order, not sold");
    let code = shop.orders().refresh(order_id.into()).await?.state.tickets().next().ok_or("a ticket")?.code.clone();
    let early = shop.check_in(&ctx(), order_id, code.clone()).await;
    assert!(is_refusal(&early, RefusalKind::Conflict), "an unpaid ticket is not let in: {early:?}");

    let payment = shop.order_payment(&ctx(), None, order_id).await?;
    let again = shop.order_payment(&ctx(), None, order_id).await?;
    assert_eq!(payment.status, OrderStatus::PendingPayment);
    let session = payment.session.ok_or("a session")?;
    assert_eq!(again.session.map(|session| session.payment_id), Some(session.payment_id.clone()));
    assert_eq!(provider.state().created.len(), 1, "one payment per order");

    let paid = notice("evt_1", &session.payment_id, order_id, succeeded(5_000));
    assert_eq!(shop.settle_payment(&paid).await?, Settlement::Paid);
    assert_eq!(shop.settle_payment(&paid).await?, Settlement::Repeated);

    assert_eq!(status(&shop, order_id).await?, OrderStatus::Paid);
    assert_eq!(counts(&shop, concert_id, ticket_type_id).await?, (0, 2));
    shop.check_in(&ctx(), order_id, code).await?;
    assert_eq!(provider.state().refund_calls, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_retried_with_its_command_id_gets_the_same_order_and_payment() -> TestResult {
    let Paying { fixture: _fixture, shop, provider } = open_paying()?;
    let (concert_id, ticket_type_id) = on_sale(&shop, 10).await?;
    let buyer = customer();
    shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(1)).await?;
    let context = es_core::CommandContext { command_id: Some(es_core::CommandId::random()), ..ctx() };

    let order_id = shop.checkout(&context, buyer).await?;
    let first = shop.order_payment(&context, Some(buyer), order_id).await?.session.ok_or("a session")?;
    let again = shop.checkout(&context, buyer).await?;
    let second = shop.order_payment(&context, Some(buyer), again).await?.session.ok_or("a session")?;

    assert_eq!(again, order_id);
    assert_eq!(second.payment_id, first.payment_id);
    let order = shop.orders().refresh(order_id.into()).await?;
    assert_eq!(order.state.payment_id(), Some(first.payment_id.as_str()), "recorded in the log");
    assert_eq!(provider.state().created.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn someone_elses_order_has_no_payment_to_show() -> TestResult {
    let Paying { fixture: _fixture, shop, .. } = open_paying()?;
    let (_, _, order_id) = bought(&shop, 1).await?;

    let stranger = shop.order_payment(&ctx(), Some(customer()), order_id).await;

    assert!(matches!(stranger, Err(ticketing_app::AppError::NotFound(_))), "{stranger:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_payment_puts_the_tickets_back_on_sale_and_cancels_the_payment() -> TestResult {
    let Paying { fixture: _fixture, shop, provider } = open_paying()?;
    let (concert_id, ticket_type_id, order_id) = bought(&shop, 3).await?;
    let session = shop.order_payment(&ctx(), None, order_id).await?.session.ok_or("a session")?;

    let declined = PaymentOutcome::Failed { reason: "card declined".to_owned() };
    let failed = notice("evt_1", &session.payment_id, order_id, declined);
    assert_eq!(shop.settle_payment(&failed).await?, Settlement::Failed);
    assert_eq!(shop.settle_payment(&failed).await?, Settlement::Repeated);

    assert_eq!(status(&shop, order_id).await?, OrderStatus::Failed);
    assert_eq!(counts(&shop, concert_id, ticket_type_id).await?, (0, 0));
    assert!(provider.state().cancelled.contains(&session.payment_id));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_not_paid_in_time_runs_out_and_late_money_is_paid_back_once() -> TestResult {
    let Paying { fixture, shop, provider } = open_paying()?;
    let (concert_id, ticket_type_id, order_id) = bought(&shop, 2).await?;
    let session = shop.order_payment(&ctx(), None, order_id).await?.session.ok_or("a session")?;

    fixture.clock.advance(Duration::minutes(ticketing::limits::PAYMENT_MINUTES) - Duration::seconds(1));
    assert_eq!(
        shop.expire_holds(concert_id.into(), es_core::Clock::now(fixture.clock.as_ref())).await?,
        0,
        "still in time"
    );
    fixture.clock.advance(Duration::seconds(1));
    assert_eq!(shop.expire_holds(concert_id.into(), es_core::Clock::now(fixture.clock.as_ref())).await?, 1);

    assert_eq!(status(&shop, order_id).await?, OrderStatus::Expired);
    assert_eq!(counts(&shop, concert_id, ticket_type_id).await?, (0, 0));
    assert!(provider.state().cancelled.contains(&session.payment_id));

    let late = notice("evt_9", &session.payment_id, order_id, succeeded(5_000));
    assert_eq!(shop.settle_payment(&late).await?, Settlement::Returned);
    assert_eq!(shop.settle_payment(&late).await?, Settlement::Repeated);
    assert_eq!(provider.state().refund_calls, 1, "paid back once");
    assert_eq!(status(&shop, order_id).await?, OrderStatus::Expired);
    assert_eq!(counts(&shop, concert_id, ticket_type_id).await?, (0, 0), "nothing sold");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn money_for_a_cancelled_concert_fails_the_order_and_is_paid_back() -> TestResult {
    let Paying { fixture: _fixture, shop, provider } = open_paying()?;
    let (concert_id, ticket_type_id, order_id) = bought(&shop, 1).await?;
    let session = shop.order_payment(&ctx(), None, order_id).await?.session.ok_or("a session")?;
    shop.cancel_concert(&ctx(), concert_id).await?;

    let paid = notice("evt_1", &session.payment_id, order_id, succeeded(2_500));
    assert_eq!(shop.settle_payment(&paid).await?, Settlement::Returned);

    assert_eq!(status(&shop, order_id).await?, OrderStatus::Failed);
    assert_eq!(counts(&shop, concert_id, ticket_type_id).await?, (0, 0));
    assert_eq!(provider.state().refund_calls, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_of_the_wrong_amount_is_paid_back_and_sells_nothing() -> TestResult {
    let Paying { fixture: _fixture, shop, provider } = open_paying()?;
    let (concert_id, ticket_type_id, order_id) = bought(&shop, 2).await?;

    let short = notice("evt_1", "pay_x", order_id, succeeded(100));
    assert_eq!(shop.settle_payment(&short).await?, Settlement::Returned);

    assert_eq!(provider.state().refund_calls, 1, "the money is paid back");
    assert_eq!(status(&shop, order_id).await?, OrderStatus::PendingPayment, "still awaiting its own payment");
    assert_eq!(counts(&shop, concert_id, ticket_type_id).await?, (2, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_provider_an_order_is_paid_at_checkout() -> TestResult {
    let fixture = open()?;
    let (concert_id, ticket_type_id, order_id) = bought(&fixture.shop, 2).await?;

    assert_eq!(status(&fixture.shop, order_id).await?, OrderStatus::Paid);
    assert_eq!(counts(&fixture.shop, concert_id, ticket_type_id).await?, (0, 2));
    let payment = fixture.shop.order_payment(&ctx(), None, order_id).await?;
    assert_eq!((payment.provider.as_str(), payment.session), ("test", None));
    Ok(())
}

/// A delivery process that has read the whole log, as it does when it starts.
async fn delivery_over(shop: &Shop) -> Result<ticketing_app::TicketDelivery, Box<dyn std::error::Error + Send + Sync>> {
    let mut delivery = ticketing_app::TicketDelivery::new();
    for record in &whole_log(shop).await? {
        delivery.observe(record)?;
    }
    Ok(delivery)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paid_orders_tickets_are_mailed_once_even_by_a_process_started_again() -> TestResult {
    let fixture = open()?;
    let shop = &fixture.shop;
    let (concert_id, ticket_type_id) = on_sale(shop, 10).await?;
    let buyer = customer();
    shop.reserve(&ctx(), buyer, concert_id, ticket_type_id, quantity(2)).await?;
    let address = ticketing::EmailAddress::new("fan@example.com")?;
    let order_id = shop.checkout_to(&ctx(), buyer, Some(address)).await?;
    let nobody = customer();
    shop.reserve(&ctx(), nobody, concert_id, ticket_type_id, quantity(1)).await?;
    shop.checkout(&ctx(), nobody).await?;
    let mailer = FakeMailer::default();

    mailer.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut delivery = delivery_over(shop).await?;
    let report = delivery.deliver(shop, &mailer, &CodeList).await;
    assert_eq!((report.sent, report.skipped, report.failed), (0, 1, 1), "no address for one; the server is down");
    assert_eq!(delivery.pending(), 1, "kept to try again");
    mailer.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let report = delivery.deliver(shop, &mailer, &CodeList).await;
    assert_eq!(report.sent, 1);

    let again = delivery_over(shop).await?.deliver(shop, &mailer, &CodeList).await;
    assert_eq!(again.sent, 0, "the mail is in the log: a process started again sends nothing");
    let sent = mailer.sent.lock().expect("not poisoned").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "fan@example.com");
    assert_eq!(sent[0].message_id, format!("<tickets.{order_id}@cloudbash>"));
    let order = shop.orders().refresh(order_id.into()).await?;
    let codes: Vec<String> = order.state.tickets().map(|ticket| ticket.code.to_string()).collect();
    assert_eq!(String::from_utf8(sent[0].attachments[0].bytes.clone())?, codes.join("\n"));
    Ok(())
}
