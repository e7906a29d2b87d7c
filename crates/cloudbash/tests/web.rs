//! The web shop as people use it: the real `cloudbash serve --demo` binary on port 0, and headless Chromium driven
//! through chromedriver (`support/browser.rs`). A fan buys tickets, and pays for them by card with Stripe.js (Stripe
//! played by localstripe), an organiser publishes a concert that fans then find, the live log shows events as they
//! happen, and the programme works with JavaScript switched off. Screenshots of the main pages are written to
//! `$CARGO_TARGET_TMPDIR/screenshots/` (inside the target directory), and the test prints where.

use std::time::Duration;

use chrono::{Days, Utc};
use fantoccini::Locator;
use serde_json::{Value, json};

#[path = "support/browser.rs"]
mod browser;
mod support;

use browser::{Browser, DESKTOP, Driver, PHONE, WAIT_MAX, within_time_limit};
use support::{Backend, Server};
use ticketing_stripe::testing::{TEST_SECRET_KEY, localstripe_url, register_webhook};

/// A running `cloudbash serve --demo` in a temporary data directory.
struct Shop {
    /// Stopped when the shop is dropped.
    _server: Server,
    base: String,
    data_dir: tempfile::TempDir,
}

impl Shop {
    fn start() -> Shop {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let server = Server::start_with(data_dir.path(), &Backend::Embedded, &["--demo"]);
        let base = server.base.clone();
        Shop { _server: server, base, data_dir }
    }

    /// A demo shop taking payments at localstripe (`stripe`), whose pages load localstripe's Stripe.js; its webhook
    /// registered there.
    async fn start_paying(stripe: &str) -> Shop {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let webhook_secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
        let (key_file, secret_file) = (data_dir.path().join("stripe-key"), data_dir.path().join("webhook-secret"));
        std::fs::write(&key_file, TEST_SECRET_KEY).expect("the key is written");
        std::fs::write(&secret_file, &webhook_secret).expect("the webhook secret is written");
        let (key_file, secret_file) = (key_file.display().to_string(), secret_file.display().to_string());
        let script = format!("{stripe}/js.stripe.com/v3/");
        let flags = [
            "--demo",
            "--stripe-api-base",
            stripe,
            "--stripe-secret-key-file",
            &key_file,
            "--stripe-webhook-secret-file",
            &secret_file,
            "--stripe-publishable-key",
            "pk_test_cloudbash",
            "--stripe-js-url",
            &script,
        ];
        let server = Server::start_with(data_dir.path(), &Backend::Embedded, &flags);
        let webhook = format!("{}/payments/stripe/webhook", server.base);
        register_webhook(stripe, &uuid::Uuid::new_v4().to_string(), &webhook, &webhook_secret)
            .await
            .expect("localstripe takes the webhook");
        let base = server.base.clone();
        Shop { _server: server, base, data_dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token for the REST API, as `cloudbash token` prints it.
    fn token(&self, admin: bool) -> String {
        support::token(self.data_dir.path(), &uuid::Uuid::new_v4().to_string(), admin)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_finds_a_demo_concert_buys_two_tickets_and_sees_them_with_qr_codes() {
    within_time_limit(async {
        let shop = Shop::start();
        let driver = Driver::start().await;
        let browser = Browser::open(&driver, &shop.base, PHONE, true).await;

        browser.sign_in(&format!("Fan {}", uuid::Uuid::new_v4()), false).await;
        browser.screenshot("programme-phone").await;
        browser.fill("#q", "crabs").await;
        browser.click("form.search button[type=submit]").await;
        browser.wait_for_text("#results", "Search results").await;
        browser.click(".concert-link").await;
        assert_eq!(browser.text("h1").await, "Night of the Crabs");
        let concert_page = browser.path().await;
        browser.wait_for_text(".ticket-type [data-available]", "left").await;
        browser.screenshot("concert-phone").await;

        browser.fill(".ticket-type:first-child input[name=quantity]", "2").await;
        browser.click(".ticket-type:first-child form.buy button").await;
        let notice = browser.text(".notice").await;
        assert!(notice.contains("held for you"), "{notice}");
        let line = browser.text(".cart-line").await;
        assert!(line.contains("2 × Standing at €35.00"), "{line}");
        assert_eq!(browser.text("#cart-total").await, "€70.00");
        let first = browser.text(".countdown").await;
        assert!(first.starts_with("14:") || first == "15:00", "a fresh hold has about 15 minutes: {first}");
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let later = browser.text(".countdown").await;
        assert_ne!(first, later, "the countdown runs");
        browser.screenshot("cart-phone").await;

        browser.click(".checkout button").await;
        browser.wait_for_text(".notice", "Your order is placed").await;
        assert_eq!(browser.path().await, "/shop/orders");
        let tickets = browser.client.find_all(Locator::Css(".order .ticket")).await.expect("tickets");
        assert_eq!(tickets.len(), 2, "two tickets");
        let codes = browser.client.find_all(Locator::Css(".order .ticket svg.qr")).await.expect("QR codes");
        assert_eq!(codes.len(), 2, "each ticket has a QR code");
        let order = browser.text(".order").await;
        assert!(order.contains("Night of the Crabs") && order.contains("€70.00"), "{order}");
        browser.screenshot("orders-phone").await;
        let code = browser.text(".ticket .code code").await;
        browser.close().await;

        // At the door: the organiser checks the first ticket in by its code, and sees the sale in the report.
        let organiser = Browser::open(&driver, &shop.base, DESKTOP, true).await;
        organiser.sign_in("Olga the organiser", true).await;
        let concert = concert_page.strip_prefix("/shop/concerts/").expect("a concert's page");
        organiser.goto(&format!("/organiser/concerts/{concert}/attendees")).await;
        organiser.fill("#code", &code.to_lowercase()).await;
        organiser.click("form.check-in button[type=submit]").await;
        organiser.wait_for_text(".notice", &format!("Ticket {code} is checked in")).await;
        assert!(organiser.text(".kicker").await.contains("1 of 2 checked in"));
        organiser.screenshot("attendees-desktop").await;
        organiser.goto(&format!("/organiser/concerts/{concert}/sales")).await;
        let mut totals = Vec::new();
        for value in organiser.client.find_all(Locator::Css(".totals .stat-value")).await.expect("totals") {
            totals.push(value.text().await.expect("text"));
        }
        assert_eq!(totals, ["2", "€70.00"], "tickets sold and revenue");
        let bars = organiser.client.find_all(Locator::Css("svg.bars rect.bar")).await.expect("bars");
        assert_eq!(bars.len(), 2, "one day of sales in each of the two charts");
        organiser.screenshot("sales-desktop").await;
        organiser.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_creates_and_publishes_a_concert_that_then_appears_in_a_fans_search() {
    within_time_limit(async {
        let shop = Shop::start();
        let driver = Driver::start().await;
        let browser = Browser::open(&driver, &shop.base, DESKTOP, true).await;
        let name = format!("Test Pressing {}", &uuid::Uuid::new_v4().to_string()[..8]);

        browser.sign_in("Olga the organiser", true).await;
        assert_eq!(browser.path().await, "/organiser");
        browser.screenshot("organiser-concerts-desktop").await;
        browser.click("a[href='/organiser/concerts/new']").await;
        browser.fill("#name", &name).await;
        browser.fill("#genre", "jazz").await;
        browser.click("main form button[type=submit]").await;
        browser.wait_for_text(".status", "Draft").await;
        assert!(browser.text(".notice").await.contains("created as a draft"));

        browser.fill("#tt-name", "Standing").await;
        browser.fill("#tt-price", "25").await;
        browser.fill("#tt-quantity", "100").await;
        browser.click("form[action$='/ticket-types'] button[type=submit]").await;
        browser.wait_for_text(".notice", "ticket type is added").await;

        // A datetime-local input takes keystrokes in the browser's locale; its value is set directly instead.
        let day = Utc::now().date_naive().checked_add_days(Days::new(3)).expect("a date in range");
        let script = "document.getElementById('starts_at').value = arguments[0]; \
                      document.getElementById('ends_at').value = arguments[1];";
        let (starts, ends) = (format!("{day}T19:00"), format!("{day}T22:00"));
        browser.client.execute(script, vec![Value::from(starts), Value::from(ends)]).await.expect("the script runs");
        browser.click("form[action$='/schedule'] button[type=submit]").await;
        browser.wait_for_text(".notice", "scheduled").await;

        browser.click("form[action$='/publish'] button[type=submit]").await;
        browser.wait_for_text(".status", "Published").await;
        browser.screenshot("organiser-concert-desktop").await;

        browser.click(".account button").await;
        browser.find(".account a[href^='/shop/sign-in']").await;
        browser.goto("/").await;
        browser.fill("#q", &name).await;
        browser.click("form.search button[type=submit]").await;
        browser.wait_for_text("#results", "Search results").await;
        let results = browser.main_text().await;
        assert!(results.contains(&name), "the fan's search finds the new concert: {results}");
        assert!(!results.contains("Night of the Crabs"), "only matching concerts: {results}");
        browser.click(".concert-link").await;
        browser.wait_for_text(".ticket-type", "100 left").await;
        browser.screenshot("new-concert-desktop").await;

        // Another fan holds three tickets through the API: the open page shows it without a reload.
        let concert_id = browser.find("[data-concert]").await.attr("data-concert").await.expect("an attribute");
        let ticket_type_id =
            browser.find("[data-ticket-type]").await.attr("data-ticket-type").await.expect("an attribute");
        let hold = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 3});
        let held = reqwest::Client::new()
            .post(shop.url("/cart/items"))
            .bearer_auth(shop.token(false))
            .json(&hold)
            .send()
            .await
            .expect("an answer");
        assert_eq!(held.status(), reqwest::StatusCode::CREATED);
        browser.wait_for_text(".ticket-type", "97 left").await;

        browser.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_log_shows_new_events_as_they_happen() {
    within_time_limit(async {
        let shop = Shop::start();
        let driver = Driver::start().await;
        let browser = Browser::open(&driver, &shop.base, DESKTOP, true).await;
        browser.sign_in("Olga the organiser", true).await;
        browser.goto("/organiser/log").await;
        browser.wait_for_text("[data-live-status]", "Connected").await;

        let http = reqwest::Client::new();
        let admin = shop.token(true);
        let venue =
            json!({"name": "Melkweg", "address": "Lijnbaansgracht 234A", "city": "Amsterdam", "capacity": 1500});
        let created = http.post(shop.url("/venues")).bearer_auth(&admin).json(&venue).send().await.expect("an answer");
        assert_eq!(created.status(), reqwest::StatusCode::CREATED);
        let venue_id = created.json::<Value>().await.expect("JSON")["id"].as_str().expect("an id").to_owned();
        let rows = browser.wait_for_text("[data-live-rows]", "VenueCreated").await;
        assert!(rows.contains("Melkweg"), "the event's data shows: {rows}");

        let deleted =
            http.delete(shop.url(&format!("/venues/{venue_id}"))).bearer_auth(&admin).send().await.expect("an answer");
        assert_eq!(deleted.status(), reqwest::StatusCode::NO_CONTENT);
        browser.wait_for_text("[data-live-rows]", "VenueDeleted").await;
        let rows = browser.client.find_all(Locator::Css("[data-live-rows] tr")).await.expect("rows");
        assert_eq!(rows.len(), 2, "only the new events, each once");
        assert!(browser.text("[data-live-status]").await.contains("2 events"));
        browser.screenshot("live-log-desktop").await;

        browser.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_programme_its_search_and_a_concert_page_work() {
    within_time_limit(async {
        let shop = Shop::start();
        let driver = Driver::start().await;
        let browser = Browser::open(&driver, &shop.base, PHONE, false).await;

        browser.goto("/").await;
        let class = browser.find("html").await.attr("class").await.expect("an attribute");
        assert_eq!(class.as_deref(), Some("no-js"), "the page's script must not have run");
        let programme = browser.main_text().await;
        for concert in ["Night of the Crabs", "Strings at Dawn", "Bass Culture"] {
            assert!(programme.contains(concert), "{concert} is in the programme: {programme}");
        }

        browser.fill("#location", "Utrecht").await;
        browser.click("form.search button[type=submit]").await;
        browser.wait_for_text("#results", "Search results").await;
        let results = browser.main_text().await;
        assert!(results.contains("Strings at Dawn"), "{results}");
        assert!(!results.contains("Night of the Crabs"), "Amsterdam's concerts are not in Utrecht: {results}");
        assert!(
            browser
                .client
                .current_url()
                .await
                .expect("a URL")
                .query()
                .is_some_and(|query| query.contains("location=Utrecht"))
        );
        browser.screenshot("search-no-javascript-phone").await;

        browser.click(".concert-link").await;
        browser.wait_for_text("h1", "Strings at Dawn").await;
        let tickets = browser.text(".ticket-types").await;
        assert!(tickets.contains("Stalls") && tickets.contains("€45.00") && tickets.contains("left"), "{tickets}");
        assert!(browser.text(".ticket-types").await.contains("Sign in to buy"));

        browser.goto("/").await;
        browser.click(".shortcuts a[href='/?when=weekend']").await;
        browser.wait_for_text("#results", "Concerts this weekend").await;
        let current = browser.find(".shortcuts a[aria-current]").await.text().await.expect("text");
        assert_eq!(current, "This weekend");

        browser.close().await;
    })
    .await;
}

/// What Stripe does with the card typed into its form, done by the test: localstripe's Stripe.js keeps the card in
/// the page, and its `confirmCardPayment` plays only the 3-D Secure step, a dialog, for a PaymentIntent that
/// awaits it. So, once the dialog is open, the card typed (read from the form) is made a PaymentMethod, attached to
/// the order's PaymentIntent (from the client secret the page holds) and confirmed, with the shop's secret key, as
/// Stripe does between the click and the dialog; the card is one that asks for authentication.
async fn stripe_takes_the_typed_card(browser: &Browser, stripe: &str) {
    let dialog = Locator::XPath("//button[text()='Complete authentication']");
    browser.client.wait().at_most(WAIT_MAX).for_element(dialog).await.expect("the 3-D Secure dialog opens");
    let mut card = Vec::new();
    for field in ["number", "exp_month", "exp_year", "cvc"] {
        let input = browser.find(&format!("#card-element input[placeholder={field}]")).await;
        let typed = input.prop("value").await.expect("a value").unwrap_or_default();
        card.push((format!("card[{field}]"), typed.replace(' ', "")));
    }
    card.push(("type".to_owned(), "card".to_owned()));
    let secret = browser.find("#pay-form").await.attr("data-client-secret").await.expect("an attribute");
    let secret = secret.expect("the page holds the client secret");
    let intent = secret.split("_secret_").next().expect("a PaymentIntent id").to_owned();
    let http = reqwest::Client::new();
    let created = http.post(format!("{stripe}/v1/payment_methods")).bearer_auth(TEST_SECRET_KEY).form(&card);
    let created: Value = created.send().await.expect("an answer").json().await.expect("JSON");
    let method = created["id"].as_str().unwrap_or_else(|| panic!("a PaymentMethod: {created}")).to_owned();
    let intent_url = format!("{stripe}/v1/payment_intents/{intent}");
    let attached = http.post(&intent_url).bearer_auth(TEST_SECRET_KEY).form(&[("payment_method", method)]);
    assert!(attached.send().await.expect("an answer").status().is_success(), "the card is attached");
    let confirmed = http.post(format!("{intent_url}/confirm")).bearer_auth(TEST_SECRET_KEY).send().await;
    let confirmed: Value = confirmed.expect("an answer").json().await.expect("JSON");
    assert_eq!(confirmed["status"], "requires_action", "the card asks for authentication: {confirmed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_pays_by_card_with_stripe_js_and_sees_the_order_paid() {
    within_time_limit(async {
        let stripe = localstripe_url();
        let shop = Shop::start_paying(&stripe).await;
        let driver = Driver::start().await;
        let browser = Browser::open(&driver, &shop.base, PHONE, true).await;

        browser.sign_in(&format!("Fan {}", uuid::Uuid::new_v4()), false).await;
        browser.fill("#q", "crabs").await;
        browser.click("form.search button[type=submit]").await;
        browser.wait_for_text("#results", "Search results").await;
        browser.click(".concert-link").await;
        let concert = browser.path().await;
        browser.fill(".ticket-type:first-child input[name=quantity]", "1").await;
        browser.click(".ticket-type:first-child form.buy button").await;
        browser.wait_for_text(".notice", "held for you").await;
        browser.click(".checkout button").await;

        browser.wait_for_text("h1", "Pay for your order").await;
        assert!(browser.path().await.ends_with("/pay"), "checkout leads to the payment page");
        assert_eq!(browser.text("#order-total").await, "€35.00");
        // Stripe's test card that asks the buyer to authenticate (3-D Secure), typed into localstripe's card form.
        browser.fill("#card-element input[placeholder=number]", "4000002760003184").await;
        browser.fill("#card-element input[placeholder=exp_month]", "12").await;
        browser.fill("#card-element input[placeholder=exp_year]", "30").await;
        browser.fill("#card-element input[placeholder=cvc]", "123").await;
        browser.fill("#card-element input[placeholder=postal_code]", "1011").await;
        browser.screenshot("pay-phone").await;
        // The first time the fan fails the bank's check: nothing is paid, and the page says so and lets them retry.
        browser.click("#pay-button").await;
        stripe_takes_the_typed_card(&browser, &stripe).await;
        browser.click_button("Fail authentication").await;
        browser.wait_for_text("#pay-message", "The payment was not completed").await;
        browser.click("#pay-button").await;
        stripe_takes_the_typed_card(&browser, &stripe).await;
        browser.click_button("Complete authentication").await;

        // The page follows the order until Stripe's notification has it paid, then shows the orders.
        browser.wait_for_text(".notice", "Your order is paid").await;
        assert_eq!(browser.path().await, "/shop/orders");
        assert_eq!(browser.text(".order.just-placed .order-status").await, "Paid");
        let codes = browser.client.find_all(Locator::Css(".order.just-placed .ticket svg.qr")).await.expect("QR codes");
        assert_eq!(codes.len(), 1, "the paid ticket has its QR code");
        browser.screenshot("paid-phone").await;
        browser.close().await;

        // Without JavaScript there is no card form, and the page says why and what to do.
        let plain = Browser::open(&driver, &shop.base, PHONE, false).await;
        plain.sign_in(&format!("Fan {}", uuid::Uuid::new_v4()), false).await;
        plain.goto(&concert).await;
        plain.click(".ticket-type:first-child form.buy button").await;
        plain.click(".checkout button").await;
        let advice = plain.wait_for_text(".pay", "Paying by card needs JavaScript").await;
        assert!(advice.contains("switch JavaScript on and reload this page"), "{advice}");
        assert!(!plain.find("#pay-form").await.is_displayed().await.expect("displayed or not"), "no form to fill");
        plain.screenshot("pay-no-javascript-phone").await;
        plain.close().await;
    })
    .await;
}
