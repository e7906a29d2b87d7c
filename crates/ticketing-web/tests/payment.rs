//! The payment page without a browser: a shop that takes payments with a stand-in for Stripe (it hands out client
//! secrets and takes any notification as signed), checked out with plain forms. What a browser needs is on the
//! page (the total, Stripe.js from the configured URL, the client secret, what to do without script), the page's
//! content security policy lets exactly that origin in, and the page and its status route follow the order as the
//! provider's notification settles it.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Utc};
use es_core::async_trait;
use serde_json::{Value, json};
use support::{Answer, Site, site_paying};
use ticketing::{Currency, Money, OrderId};
use ticketing_app::payments::{
    PaymentError, PaymentNotice, PaymentOutcome, PaymentProvider, PaymentRequest, PaymentSession, PaymentStatus,
    WebhookError,
};
use ticketing_web::StripeJs;
use uuid::Uuid;

/// Where the tests' Stripe.js is served from.
const SCRIPT_URL: &str = "http://127.0.0.1:8420/js.stripe.com/v3/";
const SCRIPT_ORIGIN: &str = "http://127.0.0.1:8420";

/// A stand-in for Stripe: payments by idempotency key, and notifications written by the test.
#[derive(Default)]
struct FakeStripe {
    payments: Mutex<BTreeMap<String, PaymentSession>>,
}

#[async_trait]
impl PaymentProvider for FakeStripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, PaymentError> {
        let mut payments = self.payments.lock().map_err(|_| PaymentError::Refused { message: "poisoned".into() })?;
        let count = payments.len();
        let session = payments.entry(request.idempotency_key.clone()).or_insert_with(|| PaymentSession {
            payment_id: format!("pi_{count}"),
            client_secret: format!("pi_{count}_secret_abc"),
            status: PaymentStatus::AwaitingBuyer,
        });
        Ok(session.clone())
    }

    async fn payment(&self, payment_id: &str) -> Result<PaymentSession, PaymentError> {
        let payments = self.payments.lock().map_err(|_| PaymentError::Refused { message: "poisoned".into() })?;
        let found = payments.values().find(|session| session.payment_id == payment_id).cloned();
        found.ok_or_else(|| PaymentError::Refused { message: format!("no payment {payment_id}") })
    }

    async fn cancel_payment(&self, _payment_id: &str, _idempotency_key: &str) -> Result<(), PaymentError> {
        Ok(())
    }

    async fn refund(
        &self,
        payment_id: &str,
        _amount: Option<ticketing::Money>,
        _idempotency_key: &str,
    ) -> Result<String, PaymentError> {
        Ok(format!("re_{payment_id}"))
    }

    /// `{"order": <uuid>, "payment": <id>, "amount": <minor units> | null}`; a null amount is a declined card.
    fn verify_notice(
        &self,
        _signature: Option<&str>,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<Option<PaymentNotice>, WebhookError> {
        let body: Value = serde_json::from_slice(body).map_err(|error| WebhookError::Malformed(error.to_string()))?;
        let order = body["order"].as_str().and_then(|id| id.parse::<Uuid>().ok());
        let order = order.ok_or_else(|| WebhookError::Malformed("no order".into()))?;
        let currency = Currency::new("EUR").map_err(|error| WebhookError::Malformed(error.to_string()))?;
        let outcome = match body["amount"].as_u64() {
            Some(amount) => PaymentOutcome::Succeeded { amount: Money::new(amount, currency) },
            None => PaymentOutcome::Failed { reason: "Your card was declined.".into() },
        };
        Ok(Some(PaymentNotice {
            notice_id: format!("evt_{}", Uuid::new_v4().simple()),
            payment_id: body["payment"].as_str().unwrap_or_default().to_owned(),
            order_id: OrderId(order),
            outcome,
        }))
    }
}

fn stripe_js() -> StripeJs {
    StripeJs::new("pk_test_cloudbash", SCRIPT_URL).expect("a configuration")
}

/// A fan who checked out one €35 ticket: their cookie, and where checkout sent them.
async fn checked_out(site: &Site) -> (String, String) {
    let (concert_id, ticket_type_id) = site.published_concert("Night of the Crabs", "Amsterdam").await;
    let cookie = site.sign_in("Ann", "fan").await;
    let form = [("concert_id", concert_id.as_str()), ("ticket_type_id", ticket_type_id.as_str()), ("quantity", "1")];
    site.post_form("/shop/cart/items", Some(&cookie), &form).await;
    let answer = site.post_form("/shop/cart/checkout", Some(&cookie), &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    (cookie, answer.location().to_owned())
}

fn order_id(pay_page: &str) -> String {
    let id = pay_page.strip_prefix("/shop/orders/").and_then(|rest| rest.strip_suffix("/pay"));
    id.expect("the payment page of an order").to_owned()
}

fn policy(answer: &Answer) -> String {
    answer.headers[CONTENT_SECURITY_POLICY].to_str().expect("ASCII").to_owned()
}

/// The status route's answer once it is no longer `pendingPayment`: the read side follows the log a moment after
/// the notification.
async fn settled_status(site: &Site, status_url: &str, cookie: &str) -> Value {
    let status = |answer: &Answer| serde_json::from_str::<Value>(&answer.body).unwrap_or(Value::Null);
    let settled = site.get_until(status_url, Some(cookie), |answer| status(answer)["status"] != "pendingPayment").await;
    status(&settled)
}

/// The provider's notification of the order's payment, as its webhook delivers it.
async fn notify(site: &Site, order_id: &str, amount: Option<u64>) {
    let body = json!({"order": order_id, "payment": "pi_0", "amount": amount}).to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/payments/stripe/webhook")
        .header(CONTENT_TYPE, "application/json")
        .header("stripe-signature", "t=1,v1=trusted-by-the-stand-in")
        .body(Body::from(body))
        .expect("a request");
    let answer = site.send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_leads_to_a_payment_page_that_loads_stripe_js_and_lets_only_its_origin_in() {
    let site = site_paying(true, Some(Arc::new(FakeStripe::default())), Some(stripe_js()));

    let (cookie, location) = checked_out(&site).await;
    let page = site.get(&location, Some(&cookie)).await;
    let cart = site.get("/shop/cart", Some(&cookie)).await;

    assert!(location.ends_with("/pay"), "{location}");
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(r#"<strong id="order-total">€35.00</strong>"#), "{}", page.body);
    assert!(page.body.contains(&format!(r#"<script src="{SCRIPT_URL}" defer></script>"#)), "{}", page.body);
    assert!(page.body.contains(r#"<script src="/assets/pay.js?v="#), "{}", page.body);
    assert!(page.body.contains(r#"data-stripe-key="pk_test_cloudbash""#), "{}", page.body);
    assert!(page.body.contains(r#"data-client-secret="pi_0_secret_abc""#), "{}", page.body);
    assert!(page.body.contains("Paying by card needs JavaScript"), "said without script: {}", page.body);
    assert!(!page.body.contains("<script>"), "no inline script");
    let page_policy = policy(&page);
    assert!(page_policy.contains(&format!("script-src 'self' {SCRIPT_ORIGIN};")), "{page_policy}");
    assert!(page_policy.contains(&format!("connect-src 'self' {SCRIPT_ORIGIN};")), "{page_policy}");
    assert!(page_policy.contains(&format!("frame-src {SCRIPT_ORIGIN};")), "{page_policy}");
    assert!(!policy(&cart).contains(SCRIPT_ORIGIN), "other pages keep their policy: {}", policy(&cart));
    let orders = site.get("/shop/orders", Some(&cookie)).await;
    assert!(orders.body.contains("Awaiting payment"), "{}", orders.body);
    assert!(orders.body.contains(&format!(r#"<a href="{location}">Pay now</a>"#)), "{}", orders.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_publishable_key_the_page_loads_no_stripe_js_and_says_so() {
    let site = site_paying(true, Some(Arc::new(FakeStripe::default())), None);

    let (cookie, location) = checked_out(&site).await;
    let page = site.get(&location, Some(&cookie)).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("€35.00"), "{}", page.body);
    assert!(page.body.contains("the shop takes no card payments on these pages"), "{}", page.body);
    assert!(!page.body.contains("js.stripe.com") && !page.body.contains("pay.js"), "{}", page.body);
    assert!(!page.body.contains("data-client-secret"), "{}", page.body);
    assert!(!policy(&page).contains(SCRIPT_ORIGIN), "{}", policy(&page));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_leads_from_its_payment_page_to_the_orders_page_showing_it_paid() {
    let site = site_paying(true, Some(Arc::new(FakeStripe::default())), Some(stripe_js()));
    let (cookie, location) = checked_out(&site).await;
    let order = order_id(&location);
    let status_url = format!("/shop/orders/{order}/status");

    let pending = site.get(&status_url, Some(&cookie)).await;
    let anonymous = site.get(&status_url, None).await;
    let someone_else = site.get(&status_url, Some(&site.sign_in("Bob", "fan").await)).await;
    notify(&site, &order, Some(3500)).await;
    let paid = settled_status(&site, &status_url, &cookie).await;
    let page = site.get(&location, Some(&cookie)).await;

    assert_eq!(pending.headers[CONTENT_TYPE], "application/json");
    assert_eq!(pending.headers["cache-control"], "no-store");
    assert_eq!(serde_json::from_str::<Value>(&pending.body).ok(), Some(json!({"status": "pendingPayment"})));
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers[CONTENT_TYPE], "application/problem+json");
    assert_eq!(someone_else.status, StatusCode::NOT_FOUND);
    assert_eq!(someone_else.headers[CONTENT_TYPE], "application/problem+json");
    assert_eq!(paid, json!({"status": "paid"}));
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), format!("/shop/orders?placed={order}#order-{order}"));
    let orders = site.get(page.location(), Some(&cookie)).await;
    assert!(orders.body.contains("Your order is paid"), "{}", orders.body);
    assert!(orders.body.contains(r#"<p class="order-status paid">Paid</p>"#), "{}", orders.body);
    assert_eq!(orders.body.matches(r#"<svg class="qr""#).count(), 1, "{}", orders.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_is_said_plainly_and_the_form_is_gone() {
    let site = site_paying(true, Some(Arc::new(FakeStripe::default())), Some(stripe_js()));
    let (cookie, location) = checked_out(&site).await;

    let order = order_id(&location);
    notify(&site, &order, None).await;
    settled_status(&site, &format!("/shop/orders/{order}/status"), &cookie).await;
    let page = site.get(&location, Some(&cookie)).await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("The payment failed"), "{}", page.body);
    assert!(page.body.contains("tickets went back on sale"), "{}", page.body);
    assert!(!page.body.contains("data-client-secret") && !page.body.contains(SCRIPT_URL), "{}", page.body);
    let unknown = site.get(&format!("/shop/orders/{}/pay", Uuid::new_v4()), Some(&cookie)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("<html"), "a page, not a problem");
}
