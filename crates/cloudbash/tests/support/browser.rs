//! Headless Chromium for the web tests, driven through chromedriver (WebDriver, with the `fantoccini` crate): a
//! driver on a free port, browser windows with a phone's or a laptop's viewport, with or without JavaScript, the
//! few actions the tests take, screenshots, and a time limit per test.
//!
//! The browser comes from Debian's `chromium` and `chromium-driver` packages (`scripts/setup-browser.sh`
//! installs them). Without them these tests fail: they are never skipped.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page may take to show what a test waits for.
pub const WAIT_MAX: Duration = Duration::from_secs(20);

/// How long one test may take, browser start included; past it, it fails rather than hangs.
pub const TEST_MAX: Duration = Duration::from_secs(120);

/// A phone's viewport, and a laptop's.
pub const PHONE: (u32, u32) = (390, 844);
pub const DESKTOP: (u32, u32) = (1280, 900);

/// A chromedriver on a free port.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub async fn start() -> Driver {
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
pub struct Browser {
    pub client: Client,
    pub base: String,
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
    pub async fn open(driver: &Driver, base: &str, (width, height): (u32, u32), javascript: bool) -> Browser {
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
        Browser { client, base: base.to_owned(), profile, closed: false }
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("the page loads");
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.expect("a current URL").path().to_owned()
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.client.wait().at_most(WAIT_MAX).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(error) => panic!("no `{css}` on {}: {error}", self.path().await),
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("the field clears");
        field.send_keys(text).await.expect("the field takes the text");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|error| panic!("`{css}` cannot be clicked: {error}"));
    }

    /// Clicks the button that reads `label`.
    pub async fn click_button(&self, label: &str) {
        let locator = format!("//button[normalize-space(text())='{label}']");
        let button = self.client.wait().at_most(WAIT_MAX).for_element(Locator::XPath(&locator)).await;
        let button = button.unwrap_or_else(|error| panic!("no button `{label}`: {error}"));
        button.click().await.unwrap_or_else(|error| panic!("`{label}` cannot be clicked: {error}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("an element has text")
    }

    /// Waits until the text of `css` contains `needle`; the text then.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
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
    pub async fn main_text(&self) -> String {
        self.text("main").await
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = screenshots().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
    }

    pub async fn sign_in(&self, name: &str, organiser: bool) {
        self.goto("/shop/sign-in").await;
        self.fill("#name", name).await;
        self.click(if organiser { "#role-organiser" } else { "#role-fan" }).await;
        self.click("main form button[type=submit]").await;
        self.find(".account .role").await;
    }

    pub async fn close(mut self) {
        self.client.clone().close().await.expect("the session closes");
        self.closed = true;
    }
}

/// Where screenshots go: inside the target directory, which git ignores.
pub fn screenshots() -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&directory).expect("the screenshot directory is created");
    directory
}

/// Runs a test within [`TEST_MAX`]. Its server, driver and browsers live inside it, so they are stopped when
/// it fails or times out.
pub async fn within_time_limit(test: impl Future<Output = ()>) {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    // Written to the process's stderr itself, which the test harness does not capture, so a passing run says it too.
    ANNOUNCED.call_once(|| {
        let _ = writeln!(std::io::stderr(), "screenshots of the web pages: {}", screenshots().display());
    });
    tokio::time::timeout(TEST_MAX, test).await.unwrap_or_else(|_| panic!("the test took longer than {TEST_MAX:?}"));
}
