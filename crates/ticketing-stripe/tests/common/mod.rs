//! What the localstripe tests share: a provider on localstripe
//! (`CLOUDBASH_TEST_STRIPE_URL`), and one webhook endpoint for the whole
//! test binary that keeps every delivery, where each test finds its own
//! notices by its order's id.
//!
//! The endpoint is registered once and served from a thread of its own, so
//! that it outlives the test that happened to start it: localstripe sends
//! every event to every webhook, and a delivery running while another
//! webhook is registered may stop short of the rest.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::Utc;
use ticketing::{Currency, Money, OrderId};
use ticketing_app::payments::{PaymentNotice, PaymentProvider, PaymentRequest};
use ticketing_stripe::StripeProvider;
use ticketing_stripe::testing::{TEST_SECRET_KEY, localstripe_url, register_webhook};

/// The secret this binary's webhook is signed with.
pub const WEBHOOK_SECRET: &str = "whsec_ticketing_stripe_tests";

/// The webhook's id at localstripe: the same on every run, so a run
/// replaces the last one's instead of adding to them.
const WEBHOOK_ID: &str = "ticketing-stripe-tests";

/// How long a test waits for its notice: localstripe delivers about a
/// second after the event.
const NOTICE_WAIT: Duration = Duration::from_secs(20);

/// One webhook delivery as received.
struct Delivery {
    signature: Option<String>,
    body: Bytes,
}

#[derive(Default)]
struct Inbox {
    deliveries: Mutex<Vec<Arc<Delivery>>>,
}

impl Inbox {
    fn all(&self) -> Vec<Arc<Delivery>> {
        self.deliveries.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

static INBOX: OnceLock<Arc<Inbox>> = OnceLock::new();

/// The binary's webhook endpoint, registered at localstripe on first use.
fn inbox() -> &'static Inbox {
    INBOX.get_or_init(|| {
        let api_base = localstripe_url();
        let inbox = Arc::new(Inbox::default());
        let served = Arc::clone(&inbox);
        let (ready, registered) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds a local port");
                let address = listener.local_addr().expect("a bound address");
                let url = format!("http://{address}/webhook");
                let outcome = register_webhook(&api_base, WEBHOOK_ID, &url, WEBHOOK_SECRET).await;
                let _ = ready.send(outcome.map_err(|error| error.to_string()));
                let app = Router::new().route("/webhook", post(receive)).with_state(served);
                axum::serve(listener, app).await.expect("serves the webhook");
            });
        });
        match registered.recv() {
            Ok(Ok(())) => inbox,
            Ok(Err(error)) => panic!("localstripe refused the webhook: {error}"),
            Err(_) => panic!("the webhook endpoint did not start"),
        }
    })
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) {
    let signature = headers.get("Stripe-Signature").and_then(|value| value.to_str().ok()).map(str::to_owned);
    inbox.deliveries.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::new(Delivery { signature, body }));
}

/// A provider on localstripe whose webhook deliveries reach this binary;
/// call it before creating payments, so that their events are delivered.
pub fn provider() -> StripeProvider {
    inbox();
    StripeProvider::new(&localstripe_url(), TEST_SECRET_KEY.into(), WEBHOOK_SECRET.into()).expect("a provider")
}

/// A payment request for a new order of `amount` euro cents.
pub fn request(amount: u64) -> PaymentRequest {
    let order_id = OrderId(uuid::Uuid::now_v7());
    let euro = Currency::new("EUR").expect("a currency");
    PaymentRequest { order_id, amount: Money::new(amount, euro), idempotency_key: format!("pay-{order_id}") }
}

/// The first notice about `order` that `provider` verifies and reads;
/// fails if none arrives in time.
pub async fn notice_for(provider: &StripeProvider, order: OrderId) -> PaymentNotice {
    let deadline = Instant::now() + NOTICE_WAIT;
    loop {
        let deliveries = inbox().all();
        let mut refused = Vec::new();
        for delivery in &deliveries {
            match provider.verify_notice(delivery.signature.as_deref(), &delivery.body, Utc::now()) {
                Ok(Some(notice)) if notice.order_id == order => return notice,
                Ok(_) => {}
                Err(error) => refused.push(error),
            }
        }
        assert!(
            Instant::now() < deadline,
            "no notice for order {order} within {NOTICE_WAIT:?}: {} deliveries, these refused: {refused:?}",
            deliveries.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
