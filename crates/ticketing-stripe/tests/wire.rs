//! What goes over the wire, against a scripted stand-in that records each
//! request and answers what the test says: the form Stripe expects, the
//! idempotency key on every `POST` (localstripe ignores it, so only this
//! shows it is sent), and each kind of answer sorted as the port says.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ticketing::{Currency, Money, OrderId};
use ticketing_app::payments::{PaymentError, PaymentProvider, PaymentRequest, PaymentStatus};
use ticketing_stripe::{API_VERSION, StripeProvider};

const KEY: &str = "sk_test_wire";

/// One request as the stand-in received it.
#[derive(Debug)]
struct Recorded {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// A scripted answer: its status, headers and body.
type Answer = (StatusCode, Vec<(&'static str, &'static str)>, String);

#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    received: Mutex<Vec<Recorded>>,
}

async fn answer(
    State(script): State<Arc<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = uri.path().to_owned();
    script.received.lock().unwrap_or_else(PoisonError::into_inner).push(Recorded { method, path, headers, body });
    let next = script.answers.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
    let (status, headers, body) = next.unwrap_or((StatusCode::INTERNAL_SERVER_ERROR, vec![], "unscripted".into()));
    let mut response = (status, body).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().expect("a header value"));
    }
    response
}

/// A provider on a stand-in that gives `answers` in turn.
async fn stand_in(answers: Vec<Answer>) -> (StripeProvider, Arc<Script>) {
    let script = Arc::new(Script { answers: Mutex::new(answers.into()), ..Script::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("an address");
    let app = Router::new().fallback(answer).with_state(Arc::clone(&script));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let provider = StripeProvider::new(&format!("http://{address}"), KEY.into(), "whsec_wire".into()).expect("builds");
    (provider, script)
}

fn intent(status: &str) -> String {
    format!(r#"{{"id":"pi_1","object":"payment_intent","client_secret":"pi_1_secret_2","status":"{status}"}}"#)
}

fn ok(body: String) -> Answer {
    (StatusCode::OK, vec![], body)
}

fn failing(status: u16, message: &str) -> Answer {
    let body = format!(r#"{{"error":{{"type":"invalid_request_error","message":"{message}"}}}}"#);
    (StatusCode::from_u16(status).expect("a status"), vec![], body)
}

fn received(script: &Script) -> Vec<Recorded> {
    std::mem::take(&mut *script.received.lock().unwrap_or_else(PoisonError::into_inner))
}

#[tokio::test]
async fn a_payment_is_created_with_the_form_stripe_expects() {
    let (stripe, script) = stand_in(vec![ok(intent("requires_payment_method"))]).await;
    let order_id: OrderId = "0190a3d4-6f1e-7c2a-9b5e-3f4d2c1b0a98".parse().expect("an id");
    let amount = Money::new(4_250, Currency::new("EUR").expect("a currency"));
    let request = PaymentRequest { order_id, amount, idempotency_key: "pay-order-1".into() };

    let session = stripe.create_payment(&request).await.expect("created");

    assert_eq!((session.payment_id.as_str(), session.status), ("pi_1", PaymentStatus::AwaitingBuyer));
    assert_eq!(session.client_secret, "pi_1_secret_2");
    let [call] = &received(&script)[..] else { panic!("one call") };
    assert_eq!((&call.method, call.path.as_str()), (&Method::POST, "/v1/payment_intents"));
    assert_eq!(call.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(call.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(call.header("idempotency-key"), Some("pay-order-1"));
    assert_eq!(call.header("stripe-version"), Some(API_VERSION));
    assert_eq!(
        call.body,
        "amount=4250&currency=eur&metadata%5Border_id%5D=0190a3d4-6f1e-7c2a-9b5e-3f4d2c1b0a98\
         &payment_method_types%5B%5D=card"
    );
}

#[tokio::test]
async fn every_change_carries_its_idempotency_key() {
    let refund = r#"{"id":"re_1","object":"refund","status":"succeeded"}"#.to_owned();
    let (stripe, script) = stand_in(vec![ok(intent("canceled")), ok(refund), ok(intent("succeeded"))]).await;

    stripe.cancel_payment("pi_1", "cancel-order-1").await.expect("cancelled");
    assert_eq!(stripe.refund("pi_1", None, "refund-order-1").await.expect("refunded"), "re_1");
    assert_eq!(stripe.payment("pi_1").await.expect("read").status, PaymentStatus::Succeeded);

    let calls = received(&script);
    let seen: Vec<_> =
        calls.iter().map(|call| (call.method.as_str(), call.path.as_str(), call.header("idempotency-key"))).collect();
    assert_eq!(
        seen,
        [
            ("POST", "/v1/payment_intents/pi_1/cancel", Some("cancel-order-1")),
            ("POST", "/v1/refunds", Some("refund-order-1")),
            ("GET", "/v1/payment_intents/pi_1", None),
        ]
    );
    assert_eq!(calls[1].body, "payment_intent=pi_1");
}

#[tokio::test]
async fn a_refusal_says_why_and_what_may_pass_is_unavailable() {
    let (stripe, _script) = stand_in(vec![
        failing(402, "Your card was declined."),
        failing(400, "Amount must be at least 50 cents"),
        failing(429, "Too many requests"),
        failing(503, "Stripe is down"),
        (StatusCode::BAD_GATEWAY, vec![], "<html>bad gateway</html>".into()),
        (StatusCode::BAD_REQUEST, vec![("stripe-should-retry", "true")], "{}".into()),
        (StatusCode::CONFLICT, vec![], "{}".into()),
        ok("not JSON".into()),
        ok(intent("requires_moon")),
    ])
    .await;

    for expected in ["Your card was declined.", "Amount must be at least 50 cents"] {
        match stripe.payment("pi_1").await {
            Err(PaymentError::Refused { message }) => assert_eq!(message, expected),
            other => panic!("refused: {other:?}"),
        }
    }
    for _ in 0..7 {
        let answer = stripe.payment("pi_1").await;
        assert!(matches!(answer, Err(PaymentError::Unavailable(_))), "{answer:?}");
    }
}

#[tokio::test]
async fn a_payment_that_cannot_be_cancelled_stays_refused() {
    let refused = failing(400, "This PaymentIntent's status is succeeded");
    let (stripe, script) = stand_in(vec![refused, ok(intent("succeeded"))]).await;

    match stripe.cancel_payment("pi_1", "cancel-order-1").await {
        Err(PaymentError::Refused { message }) => assert_eq!(message, "This PaymentIntent's status is succeeded"),
        other => panic!("refused: {other:?}"),
    }
    // The refusal is checked against the payment itself.
    assert_eq!(received(&script).len(), 2);
}
