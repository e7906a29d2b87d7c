//! A purchase paid through the real binary: `cloudbash serve` with Stripe's
//! API played by localstripe (a stateful fake that also sends signed
//! webhooks) and mail caught by an SMTP sink. One story, told in order,
//! because localstripe sends every event to every webhook it knows: the
//! shop is told of its payments by the webhook registered for it, and a
//! restart needs a new one.
//!
//! - a paid order: the card is confirmed as Stripe.js would, the webhook
//!   marks the order paid, exactly one mail carries a PDF that holds every
//!   ticket code, and `tickets.pdf` serves the same codes;
//! - the same notification again, and a forged one, change nothing;
//! - a declined card puts the tickets back on sale;
//! - an order paid while no mail could be sent (the server stopped before
//!   mailing) is mailed once after the restart, and the mailed one is not
//!   mailed again.
//!
//! And a concert cancelled after 50 paid orders: each is paid back once at
//! the provider, its buyer told once by mail, every ticket refused at the
//! door, and the sales report shows the refunds. (Run beside the story, its
//! server also hears the story's notifications and answers that it has no
//! such order.)

mod support;

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Caller, Server, concert_on_sale, eventually, token, user};
use ticketing_smtp::testing::{mail_dir, mails_to, smtp_url, unique_address, wait_for_mails};
use ticketing_stripe::testing::{
    TEST_SECRET_KEY, TestCard, confirm_payment, localstripe_url, register_webhook, signature_header,
};

struct Shop {
    server: Server,
    admin: Caller,
    webhook_secret: String,
}

fn caller(server: &Server, token: Option<String>) -> Caller {
    Caller { http: reqwest::Client::new(), base: server.base.clone(), token }
}

/// `serve` on `data_dir` taking payments at localstripe, mailing through the sink when `mail` is set; its webhook
/// registered at localstripe.
async fn open(data_dir: &Path, mail: bool) -> Shop {
    let webhook_secret = std::fs::read_to_string(data_dir.join("webhook-secret")).unwrap_or_else(|_| {
        let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
        std::fs::write(data_dir.join("webhook-secret"), &secret).expect("write the webhook secret");
        std::fs::write(data_dir.join("stripe-key"), format!("{TEST_SECRET_KEY}\n")).expect("write the key");
        secret
    });
    let (stripe, key_file, secret_file) = (
        localstripe_url(),
        data_dir.join("stripe-key").display().to_string(),
        data_dir.join("webhook-secret").display().to_string(),
    );
    let mut flags = vec![
        "--stripe-api-base",
        stripe.as_str(),
        "--stripe-secret-key-file",
        key_file.as_str(),
        "--stripe-webhook-secret-file",
        secret_file.as_str(),
    ];
    let smtp = smtp_url();
    if mail {
        flags.extend(["--smtp-url", smtp.as_str(), "--mail-from", "Cloudbash <tickets@cloudbash.test>"]);
    }
    let server = Server::start_with(data_dir, &Backend::Embedded, &flags);
    let webhook = format!("{}/payments/stripe/webhook", server.base);
    register_webhook(&stripe, &uuid::Uuid::new_v4().to_string(), &webhook, &webhook_secret)
        .await
        .expect("localstripe takes the webhook");
    let admin = caller(&server, Some(token(data_dir, &user(), true)));
    Shop { server, admin, webhook_secret }
}

/// A fan who reserves `count` tickets and checks out, asking for the tickets at `email`: the order and its payment.
async fn check_out(
    shop: &Shop,
    data_dir: &Path,
    concert: &(String, String),
    count: u32,
    email: &str,
) -> (Caller, Value) {
    let fan = caller(&shop.server, Some(token(data_dir, &user(), false)));
    let item = json!({"concertId": concert.0, "ticketTypeId": concert.1, "quantity": count});
    fan.expect(Method::POST, "/cart/items", Some(item), StatusCode::CREATED).await;
    let checkout = fan.expect(Method::POST, "/cart/checkout", Some(json!({"email": email})), StatusCode::CREATED).await;
    (fan, checkout)
}

/// The PaymentIntent behind a client secret (`pi_..._secret_...`).
fn payment_id(checkout: &Value) -> String {
    let secret = checkout["payment"]["clientSecret"].as_str().expect("a client secret");
    secret.split("_secret_").next().expect("an intent id").to_owned()
}

async fn order_when(fan: &Caller, order_id: &str, status: &str) -> Value {
    eventually(&format!("order {order_id} is {status}"), || async {
        let (_, order) = fan.send(Method::GET, &format!("/orders/{order_id}"), None).await;
        (order["status"] == status).then_some(order)
    })
    .await
}

fn codes(order: &Value) -> Vec<String> {
    let tickets = order["tickets"].as_array().expect("tickets");
    tickets.iter().map(|ticket| ticket["code"].as_str().expect("a code").to_owned()).collect()
}

fn pdf_text(bytes: &[u8]) -> String {
    let document = lopdf::Document::load_mem(bytes).expect("a PDF");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document.extract_text(&pages).expect("its text")
}

async fn available(shop: &Shop, concert_id: &str) -> i64 {
    let (_, concert) = shop.admin.send(Method::GET, &format!("/concerts/{concert_id}"), None).await;
    concert["ticketTypes"][0]["available"].as_i64().expect("availability")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purchase_is_paid_at_the_provider_and_its_tickets_are_mailed_once() {
    let dir = tempfile::tempdir().expect("a data directory");
    let stripe = localstripe_url();

    // The server stops after the payment and before any mail could go out.
    let shop = open(dir.path(), false).await;
    let concert = concert_on_sale(&shop.admin, "Night of the Crabs", "Utrecht", 20).await;
    let early = unique_address("early");
    let (early_fan, checkout) = check_out(&shop, dir.path(), &concert, 1, &early).await;
    let early_order = checkout["orderId"].as_str().expect("an order id").to_owned();
    confirm_payment(&stripe, TEST_SECRET_KEY, &payment_id(&checkout), TestCard::Visa).await.expect("paid");
    order_when(&early_fan, &early_order, "paid").await;
    shop.server.stop();

    let shop = open(dir.path(), true).await;
    let early_fan = Caller { base: shop.server.base.clone(), ..early_fan };

    // Paid: the webhook sells the tickets, the fan gets one mail with the PDF.
    let fan_address = unique_address("fan");
    let (fan, checkout) = check_out(&shop, dir.path(), &concert, 2, &fan_address).await;
    let order_id = checkout["orderId"].as_str().expect("an order id").to_owned();
    assert_eq!(checkout["payment"]["provider"], "stripe", "{checkout}");
    assert_eq!(checkout["payment"]["status"], "pendingPayment", "{checkout}");
    let pending = fan.expect(Method::GET, &format!("/orders/{order_id}"), None, StatusCode::OK).await;
    assert_eq!((pending["status"].as_str(), codes(&pending).len()), (Some("pendingPayment"), 0), "{pending}");
    assert_eq!(available(&shop, &concert.0).await, 17, "held for the order while it is paid");

    let intent = payment_id(&checkout);
    confirm_payment(&stripe, TEST_SECRET_KEY, &intent, TestCard::Visa).await.expect("paid");
    let paid = order_when(&fan, &order_id, "paid").await;
    let codes = codes(&paid);
    assert_eq!(codes.len(), 2);

    let mails = wait_for_mails(&fan_address, 1, Duration::from_secs(30)).await;
    let pdf = &mails[0].attachments.first().expect("the tickets attached").bytes;
    let text = pdf_text(pdf);
    for code in &codes {
        assert!(text.contains(code.as_str()), "{code} is in the mailed PDF");
    }
    assert_eq!(mails[0].message_id, format!("<tickets.{order_id}@cloudbash>"));
    let served = fan
        .http
        .get(format!("{}/orders/{order_id}/tickets.pdf", fan.base))
        .bearer_auth(fan.token.clone().unwrap_or_default());
    let served = served.send().await.expect("an answer");
    assert_eq!(served.status(), StatusCode::OK);
    let served_text = pdf_text(&served.bytes().await.expect("the PDF"));
    assert!(codes.iter().all(|code| served_text.contains(code.as_str())), "the served PDF holds every code");

    // The same notification again changes nothing; a forged one is refused.
    let event = json!({
        "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": {
            "id": intent, "object": "payment_intent", "amount": 5000, "currency": "eur", "status": "succeeded",
            "metadata": {"order_id": order_id}
        }}
    });
    let body = serde_json::to_vec(&event).expect("JSON");
    let webhook = format!("{}/payments/stripe/webhook", shop.server.base);
    let signed = signature_header(&shop.webhook_secret, chrono::Utc::now().timestamp(), &body);
    let replayed = fan.http.post(&webhook).header("Stripe-Signature", signed).body(body.clone()).send().await;
    let replayed: Value = replayed.expect("an answer").json().await.expect("JSON");
    assert_eq!(replayed["outcome"], "repeated", "{replayed}");
    let forged = signature_header("whsec_not_the_shops", chrono::Utc::now().timestamp(), &body);
    let forged = fan.http.post(&webhook).header("Stripe-Signature", forged).body(body).send().await.expect("an answer");
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    // Declined: the order fails and its tickets go back on sale.
    let (declined_fan, checkout) = check_out(&shop, dir.path(), &concert, 3, &unique_address("declined")).await;
    let declined_order = checkout["orderId"].as_str().expect("an order id").to_owned();
    assert_eq!(available(&shop, &concert.0).await, 14);
    confirm_payment(&stripe, TEST_SECRET_KEY, &payment_id(&checkout), TestCard::Declined).await.expect("answered");
    order_when(&declined_fan, &declined_order, "failed").await;
    eventually("the declined tickets are back on sale", || async {
        (available(&shop, &concert.0).await == 17).then_some(())
    })
    .await;

    // The order paid before the restart is mailed once now; nobody is mailed twice.
    wait_for_mails(&early, 1, Duration::from_secs(30)).await;
    order_when(&early_fan, &early_order, "paid").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(mails_to(&mail_dir(), &early).len(), 1, "the early fan's mail, once");
    assert_eq!(mails_to(&mail_dir(), &fan_address).len(), 1, "the fan's mail, once");
    shop.server.stop();
}

/// The refund of a paid order, as its log records it: (refund id, amount).
async fn recorded_refunds(admin: &Caller, order_id: &str) -> Vec<(String, u64)> {
    let (_, events) = admin.send(Method::GET, &format!("/aggregates/{order_id}/events"), None).await;
    let events = events["items"].as_array().cloned().unwrap_or_default();
    let refunds = events.iter().filter(|event| event["eventType"] == "OrderRefunded");
    refunds
        .map(|event| {
            let data: Value = serde_json::from_str(event["data"].as_str().expect("data")).expect("JSON");
            let id = data["refundId"].as_str().expect("a refund at the provider").to_owned();
            (id, data["amount"]["amount"].as_u64().expect("an amount"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_concerts_fifty_paid_orders_are_paid_back_and_told_once() {
    const ORDERS: usize = 50;
    let dir = tempfile::tempdir().expect("a data directory");
    let stripe = localstripe_url();
    let shop = open(dir.path(), true).await;
    let concert = concert_on_sale(&shop.admin, "The Last Tour", "Leiden", 100).await;
    let mut orders = Vec::new();
    for n in 0..ORDERS {
        let address = unique_address(&format!("refund{n}"));
        let (fan, checkout) = check_out(&shop, dir.path(), &concert, 1, &address).await;
        confirm_payment(&stripe, TEST_SECRET_KEY, &payment_id(&checkout), TestCard::Visa).await.expect("paid");
        let order_id = checkout["orderId"].as_str().expect("an order id").to_owned();
        orders.push((fan, order_id, address, payment_id(&checkout)));
    }
    let mut codes_sold = Vec::new();
    for (fan, order_id, _, _) in &orders {
        codes_sold.extend(codes(&order_when(fan, order_id, "paid").await));
    }

    shop.admin.expect(Method::POST, &format!("/concerts/{}/cancel", concert.0), None, StatusCode::OK).await;

    let mut refund_ids = std::collections::BTreeSet::new();
    for (fan, order_id, address, intent) in &orders {
        let refunded = order_when(fan, order_id, "refunded").await;
        assert!(codes(&refunded).is_empty(), "no valid ticket is listed: {refunded}");
        let [(refund_id, amount)] = &recorded_refunds(&shop.admin, order_id).await[..] else {
            panic!("order {order_id} is paid back exactly once");
        };
        assert_eq!(*amount, 2_500);
        let url = format!("{stripe}/v1/refunds/{refund_id}");
        let at_provider = shop.admin.http.get(url).bearer_auth(TEST_SECRET_KEY).send().await.expect("localstripe");
        let at_provider: Value = at_provider.json().await.expect("a refund");
        assert_eq!(
            (at_provider["payment_intent"].as_str(), at_provider["amount"].as_u64()),
            (Some(&**intent), Some(2_500))
        );
        refund_ids.insert(refund_id.clone());
        let mails = wait_for_mails(address, 2, Duration::from_secs(30)).await;
        let told = mails.iter().filter(|mail| mail.message_id.starts_with(&format!("<refund.{order_id}."))).count();
        assert_eq!(told, 1, "one mail about the cancellation to {address}");
    }
    assert_eq!(refund_ids.len(), ORDERS, "a refund of its own for every order");

    for code in &codes_sold {
        let path = format!("/concerts/{}/tickets/{code}/check-in", concert.0);
        // One door scanner for fifty tickets meets the per-caller limit on commands: it waits as told.
        let refused = loop {
            let (status, body) = shop.admin.send(Method::POST, &path, None).await;
            if status != StatusCode::TOO_MANY_REQUESTS {
                break (status, body);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        assert_eq!(refused.0, StatusCode::CONFLICT, "{code}: {}", refused.1);
        assert!(
            refused.1["detail"].as_str().is_some_and(|detail| detail.contains("which is cancelled")),
            "{}",
            refused.1
        );
    }
    let (_, sales) = shop.admin.send(Method::GET, &format!("/concerts/{}/sales", concert.0), None).await;
    let days = sales["items"].as_array().cloned().unwrap_or_default();
    let sum = |field: &str| days.iter().map(|day| day[field].as_u64().unwrap_or_default()).sum::<u64>();
    let refunded = days.iter().map(|day| day["refunded"]["amount"].as_u64().unwrap_or_default()).sum::<u64>();
    assert_eq!((sum("ticketsSold"), sum("ticketsRefunded"), refunded), (50, 50, 50 * 2_500), "{sales}");

    tokio::time::sleep(Duration::from_secs(2)).await;
    for (_, _, address, _) in &orders {
        assert_eq!(mails_to(&mail_dir(), address).len(), 2, "the tickets and the refund, once each, to {address}");
    }
    shop.server.stop();
}
