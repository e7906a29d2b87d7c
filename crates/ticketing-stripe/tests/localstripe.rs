//! The adapter against localstripe, a stateful stand-in for Stripe's API:
//! a payment is created, paid by card as the buyer's browser would, and
//! notified through a signed webhook; declined, refunded, cancelled; and
//! refused or unreachable, each as the port says.

mod common;

use std::time::Duration;

use ticketing::{Currency, Money};
use ticketing_app::payments::{PaymentError, PaymentOutcome, PaymentProvider, PaymentStatus};
use ticketing_stripe::StripeProvider;
use ticketing_stripe::testing::{Confirmation, TEST_SECRET_KEY, TestCard, confirm_payment, localstripe_url};

use common::{WEBHOOK_SECRET, notice_for, provider, request};

async fn pay(provider: &StripeProvider, payment_id: &str, card: TestCard) -> Confirmation {
    confirm_payment(provider.api_base(), TEST_SECRET_KEY, payment_id, card).await.expect("localstripe confirms")
}

#[tokio::test]
async fn a_payment_by_card_is_notified_as_succeeded_with_its_order_and_amount() {
    let stripe = provider();
    let request = request(2_500);

    let session = stripe.create_payment(&request).await.expect("creates the payment");
    assert!(session.payment_id.starts_with("pi_"), "{session:?}");
    assert!(!session.client_secret.is_empty());
    assert_eq!(session.status, PaymentStatus::AwaitingBuyer);
    let read = stripe.payment(&session.payment_id).await.expect("reads it back");
    assert_eq!((read.payment_id.as_str(), read.status), (session.payment_id.as_str(), PaymentStatus::AwaitingBuyer));

    assert_eq!(pay(&stripe, &session.payment_id, TestCard::Visa).await, Confirmation::Accepted);

    let notice = notice_for(&stripe, request.order_id).await;
    assert_eq!(notice.payment_id, session.payment_id);
    assert_eq!(notice.outcome, PaymentOutcome::Succeeded { amount: request.amount });
    assert!(notice.notice_id.starts_with("evt_"), "{notice:?}");
    assert_eq!(stripe.payment(&session.payment_id).await.expect("reads it").status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn a_declined_card_is_notified_as_failed_and_the_payment_waits_for_another() {
    let stripe = provider();
    let request = request(1_000);
    let session = stripe.create_payment(&request).await.expect("creates the payment");

    let declined = pay(&stripe, &session.payment_id, TestCard::Declined).await;
    assert!(matches!(declined, Confirmation::Declined { .. }), "{declined:?}");

    let notice = notice_for(&stripe, request.order_id).await;
    assert_eq!(notice.payment_id, session.payment_id);
    let PaymentOutcome::Failed { reason } = notice.outcome else { panic!("a failure: {:?}", notice.outcome) };
    assert!(reason.contains("declined"), "{reason}");
    assert_eq!(stripe.payment(&session.payment_id).await.expect("reads it").status, PaymentStatus::AwaitingBuyer);
}

#[tokio::test]
async fn a_succeeded_payment_is_refunded() {
    let stripe = provider();
    let session = stripe.create_payment(&request(4_200)).await.expect("creates the payment");
    pay(&stripe, &session.payment_id, TestCard::Visa).await;

    let refund = stripe.refund(&session.payment_id, None, "refund-1").await.expect("refunds");
    assert!(refund.starts_with("re_"), "{refund}");
}

#[tokio::test]
async fn part_of_a_payment_is_refunded() {
    let stripe = provider();
    let session = stripe.create_payment(&request(4_200)).await.expect("creates the payment");
    pay(&stripe, &session.payment_id, TestCard::Visa).await;
    let part = Some(Money::new(1_200, Currency::new("EUR").expect("a currency")));

    let refund = stripe.refund(&session.payment_id, part, "refund-part-1").await.expect("refunds a part");

    let url = format!("{}/v1/refunds/{refund}", localstripe_url());
    let read = reqwest::Client::new().get(url).bearer_auth(TEST_SECRET_KEY).send().await.expect("localstripe answers");
    let refund: serde_json::Value = read.json().await.expect("a refund");
    assert_eq!(
        (refund["amount"].as_u64(), refund["payment_intent"].as_str()),
        (Some(1_200), Some(&*session.payment_id))
    );
}

#[tokio::test]
async fn a_payment_never_paid_is_not_refunded() {
    let stripe = provider();
    let session = stripe.create_payment(&request(700)).await.expect("creates the payment");
    pay(&stripe, &session.payment_id, TestCard::Declined).await;

    let refused = stripe.refund(&session.payment_id, None, "refund-declined").await;
    assert!(matches!(refused, Err(PaymentError::Refused { .. })), "{refused:?}");
}

#[tokio::test]
async fn cancelling_twice_is_not_an_error() {
    let stripe = provider();
    let session = stripe.create_payment(&request(1_500)).await.expect("creates the payment");

    stripe.cancel_payment(&session.payment_id, "cancel-1").await.expect("cancels");
    assert_eq!(stripe.payment(&session.payment_id).await.expect("reads it").status, PaymentStatus::Canceled);
    stripe.cancel_payment(&session.payment_id, "cancel-2").await.expect("cancels again");
}

#[tokio::test]
async fn a_succeeded_payment_is_not_cancelled() {
    let stripe = provider();
    let session = stripe.create_payment(&request(900)).await.expect("creates the payment");
    pay(&stripe, &session.payment_id, TestCard::Visa).await;

    let refused = stripe.cancel_payment(&session.payment_id, "cancel-paid").await;
    assert!(matches!(refused, Err(PaymentError::Refused { .. })), "{refused:?}");
    assert_eq!(stripe.payment(&session.payment_id).await.expect("reads it").status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn a_key_that_is_not_a_secret_key_is_refused() {
    // localstripe takes any key that looks like a secret key, and refuses
    // others as Stripe refuses an unknown one: 401.
    let stripe = StripeProvider::new(&localstripe_url(), "pk_test_publishable".into(), WEBHOOK_SECRET.into())
        .expect("a provider");
    let refused = stripe.create_payment(&request(1_000)).await;
    let Err(PaymentError::Refused { message }) = refused else { panic!("refused: {refused:?}") };
    assert!(message.contains("Unauthorized"), "{message}");
}

#[tokio::test]
async fn an_unknown_payment_is_refused() {
    let stripe = provider();
    for refused in [
        stripe.payment("pi_unknown").await.map(drop),
        stripe.cancel_payment("pi_unknown", "cancel-unknown").await,
        stripe.refund("pi_unknown", None, "refund-unknown").await.map(drop),
    ] {
        assert!(matches!(refused, Err(PaymentError::Refused { .. })), "{refused:?}");
    }
}

#[tokio::test]
async fn an_amount_stripe_cannot_take_is_refused() {
    let stripe = provider();
    let refused = stripe.create_payment(&request(0)).await;
    assert!(matches!(refused, Err(PaymentError::Refused { .. })), "{refused:?}");
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_unavailable() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = closed.local_addr().expect("an address");
    drop(closed);
    let stripe = StripeProvider::new(&format!("http://{address}"), TEST_SECRET_KEY.into(), WEBHOOK_SECRET.into())
        .expect("a provider");

    let unavailable = stripe.create_payment(&request(1_000)).await;
    assert!(matches!(unavailable, Err(PaymentError::Unavailable(_))), "{unavailable:?}");
    let unavailable = stripe.cancel_payment("pi_1", "cancel-nowhere").await;
    assert!(matches!(unavailable, Err(PaymentError::Unavailable(_))), "{unavailable:?}");
}

#[tokio::test]
async fn a_provider_that_does_not_answer_in_time_is_unavailable() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = silent.local_addr().expect("an address");
    let stripe = StripeProvider::new(&format!("http://{address}"), TEST_SECRET_KEY.into(), WEBHOOK_SECRET.into())
        .expect("a provider")
        .with_timeout(Duration::from_millis(300));

    let unavailable = tokio::time::timeout(Duration::from_secs(5), stripe.payment("pi_1")).await.expect("gives up");
    assert!(matches!(unavailable, Err(PaymentError::Unavailable(_))), "{unavailable:?}");
    drop(silent);
}
