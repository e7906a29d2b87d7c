//! The web shop as people use it: the real `cloudbash serve --demo` binary on port 0, and headless Chromium driven
//! through chromedriver (WebDriver, with the `fantoccini` crate). A fan buys tickets, an organiser publishes a
//! concert that fans then find, the live log shows events as they happen, and the programme works with JavaScript
//! switched off. Screenshots of the main pages are written to `$CARGO_TARGET_TMPDIR/screenshots/` (inside the
//! target directory), and the test prints where.
//!
//! The browser comes from Debian's `chromium` and `chromium-driver` packages (`scripts/setup-browser.sh`
//! installs them). Without them these tests fail: they are never skipped.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

mod support;

use support::{Backend, Server};
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page may take to show what a test waits for.
const WAIT_MAX: Duration = Duration::from_secs(20);

/// How long one test may take, browser start included; past it, it fails rather than hangs.
const TEST_MAX: Duration = Duration::from_secs(120);

/// A phone's viewport, and a laptop's.
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

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

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token for the REST API, as `cloudbash token` prints it.
    fn token(&self, admin: bool) -> String {
        support::token(self.data_dir.path(), &uuid::Uuid::new_v4().to_string(), admin)
    }
}

/// A chromedriver on a free port.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: run scripts/setup-browser.sh (it installs Debian's chromium and chromium-driver)"
            );
        }
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        loop {
            let ready = reqwest::get(format!("{}/status", driver.url)).await;
            if ready.is_ok_and(|response| response.status().is_success()) {
                return driver;
            }
            assert!(started.elapsed() < WAIT_MAX, "chromedriver did not start within {WAIT_MAX:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window on the shop.
struct Browser {
    client: Client,
    base: String,
    profile: tempfile::TempDir,
    closed: bool,
}

impl Drop for Browser {
    /// A test that fails before closing its browser leaves Chromium running once chromedriver is gone; its
    /// processes are found by their profile directory, which is this browser's own, and stopped.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let marker = format!("--user-data-dir={}", self.profile.path().display());
        let Ok(entries) = std::fs::read_dir("/proc") else { return };
        let pids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().bytes().all(|byte| byte.is_ascii_digit()))
            .filter(|entry| {
                std::fs::read(entry.path().join("cmdline"))
                    .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&marker))
            })
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-KILL").args(&pids).status();
        }
    }
}

impl Browser {
    async fn open(driver: &Driver, shop: &Shop, (width, height): (u32, u32), javascript: bool) -> Browser {
        let profile = tempfile::tempdir().expect("a temporary directory");
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
        }
        let mut options = json!({ "binary": CHROMIUM, "args": args });
        if width < DESKTOP.0 {
            // Headless windows are at least 500 pixels wide; a phone's viewport needs the device emulation.
            // Without touch: chromedriver's clicks on an emulated touch screen hang when scripts are off.
            let metrics = json!({ "width": width, "height": height, "pixelRatio": 1, "touch": false });
            options["mobileEmulation"] = json!({ "deviceMetrics": metrics });
        }
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let millis = u64::try_from(WAIT_MAX.as_millis()).expect("a short wait");
        capabilities.insert("timeouts".to_owned(), json!({ "pageLoad": millis, "script": millis }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("chromedriver opens a Chromium session");
        Browser { client, base: shop.base.clone(), profile, closed: false }
    }

    async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("the page loads");
    }

    async fn path(&self) -> String {
        self.client.current_url().await.expect("a current URL").path().to_owned()
    }

    async fn find(&self, css: &str) -> Element {
        match self.client.wait().at_most(WAIT_MAX).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(error) => panic!("no `{css}` on {}: {error}", self.path().await),
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("the field clears");
        field.send_keys(text).await.expect("the field takes the text");
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|error| panic!("`{css}` cannot be clicked: {error}"));
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("an element has text")
    }

    /// Waits until the text of `css` contains `needle`; the text then.
    async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < WAIT_MAX,
                "`{css}` on {} never showed {needle:?}; it shows {text:?}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the page's main content.
    async fn main_text(&self) -> String {
        self.text("main").await
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = screenshots().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
    }

    async fn sign_in(&self, name: &str, organiser: bool) {
        self.goto("/shop/sign-in").await;
        self.fill("#name", name).await;
        self.click(if organiser { "#role-organiser" } else { "#role-fan" }).await;
        self.click("main form button[type=submit]").await;
        self.find(".account .role").await;
    }

    async fn close(mut self) {
        self.client.clone().close().await.expect("the session closes");
        self.closed = true;
    }
}

/// Where screenshots go: inside the target directory, which git ignores.
fn screenshots() -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&directory).expect("the screenshot directory is created");
    directory
}

/// Runs a test within [`TEST_MAX`]. Its server, driver and browsers live inside it, so they are stopped when
/// it fails or times out.
async fn within_time_limit(test: impl Future<Output = ()>) {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    // Written to the process's stderr itself, which the test harness does not capture, so a passing run says it too.
    ANNOUNCED.call_once(|| {
        let _ = writeln!(std::io::stderr(), "screenshots of the web pages: {}", screenshots().display());
    });
    tokio::time::timeout(TEST_MAX, test).await.unwrap_or_else(|_| panic!("the test took longer than {TEST_MAX:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_finds_a_demo_concert_buys_two_tickets_and_sees_them_with_qr_codes() {
    within_time_limit(async {
        let shop = Shop::start();
        let driver = Driver::start().await;
        let browser = Browser::open(&driver, &shop, PHONE, true).await;

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
        let organiser = Browser::open(&driver, &shop, DESKTOP, true).await;
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
        let browser = Browser::open(&driver, &shop, DESKTOP, true).await;
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
        let browser = Browser::open(&driver, &shop, DESKTOP, true).await;
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
        let browser = Browser::open(&driver, &shop, PHONE, false).await;

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
