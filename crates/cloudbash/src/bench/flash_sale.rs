//! `flash-sale`: the shop as buyers meet it on the day tickets go on sale.
//! A real HTTP server (the whole of `cloudbash serve`, started in this
//! process on a free port in a temporary directory, or an already running
//! one with `--url`) sells one concert's tickets to many buyers at once,
//! each with a token of their own, over a fixed number of keep-alive
//! HTTP/1.1 connections. Every buyer reserves one ticket and, if that
//! worked, checks out — as the web shop does it: each request with an
//! `Idempotency-Key` of its own, through the API (`--via api`, bearer
//! token) or by posting the shop's own forms with a session cookie (`--via
//! pages`; the redirects they answer are not followed).
//!
//! Each run also measures this machine's HTTP ceiling in the same process
//! right after the sale (`http_floor.rs`, the same connections) and reports
//! purchases per second next to it: the ceiling divided by the requests a
//! purchase takes is the most any server could sell here.
//!
//! A browser on a connection of its own reads the programme and the
//! concert's page before the sale and during it (`browse.rs`): reads must
//! not queue behind the sale.
//!
//! Afterwards the sale is audited from the outside, through the API only
//! (`audit.rs`): the read models and the log must agree that no ticket was
//! sold twice, that the orders hold exactly the tickets sold, and that no
//! hold was left behind without a cart.
//!
//! The load generator shares the process, and so the two cores, with the
//! server; every figure includes its cost.

mod audit;
mod browse;
mod client;
mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use reqwest::{Client, StatusCode};
use serde_json::json;

use self::client::{Api, OnSale, concert_on_sale};
use self::tokens::{Tokens, signer};
use super::Common;
use super::report::{Latencies, Measurement, Reporter, millis, per_second};
use crate::host::{Backends, Host, HostConfig};

/// Options of `cloudbash bench flash-sale`.
#[derive(Debug, Args)]
pub(crate) struct FlashSaleArgs {
    /// Tickets on sale.
    #[arg(long, default_value_t = 10_000)]
    tickets: u32,
    /// Buyers, each with a token of their own; each tries to buy one ticket.
    #[arg(long, default_value_t = 20_000)]
    buyers: u32,
    /// Concurrent keep-alive HTTP connections of the load generator.
    #[arg(long, default_value_t = 256)]
    connections: u32,
    /// Sell on an already running server instead of one started here. It
    /// needs tokens: `--data-dir` (the server's data directory, whose secret
    /// signs every token as `cloudbash token` does), or `--token` (an
    /// administrator's) with `--buyer-tokens`.
    #[arg(long)]
    url: Option<String>,
    /// The running server's data directory, to sign tokens with its secret.
    #[arg(long, requires = "url")]
    data_dir: Option<PathBuf>,
    /// An administrator's bearer token for the running server (sets up the
    /// concert and audits the sale).
    #[arg(long, requires = "url", conflicts_with = "data_dir")]
    token: Option<String>,
    /// A file with one buyer token per line, at least `--buyers` of them.
    #[arg(long, requires = "token")]
    buyer_tokens: Option<PathBuf>,
    /// How buyers reach the shop: the API with a bearer token, or the web
    /// shop's forms with a session cookie.
    #[arg(long, value_enum, default_value_t = Via::Api)]
    via: Via,
}

/// How buyers reach the shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Via {
    /// `POST /cart/items` and `POST /cart/checkout` with a bearer token.
    Api,
    /// `POST /shop/cart/items` and `POST /shop/cart/checkout` forms with the
    /// session cookie.
    Pages,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Pages => "pages",
        }
    }
}

/// Requests a purchase takes: reserve, then check out. A buyer refused as
/// sold out makes one request more, but the rate to hold against the
/// ceiling is that of a sale in which everybody buys.
const REQUESTS_PER_PURCHASE: f64 = 2.0;

/// Runs the sale `--runs` times, each on a fresh server (or a fresh concert
/// of the running one).
pub(super) async fn run(args: &FlashSaleArgs, common: &Common, reporter: &mut Reporter) -> anyhow::Result<()> {
    anyhow::ensure!(args.tickets >= 1 && args.buyers >= 1 && args.connections >= 1, "counts must be positive");
    for run in 1..=common.runs {
        let measurement = match &args.url {
            Some(url) => {
                let tokens = Tokens::for_running_server(args)?;
                sale(args, url.trim_end_matches('/'), &tokens).await?.with("server", url.as_str())
            }
            None => {
                let dir = tempfile::Builder::new().prefix("cloudbash-flash-sale").tempdir()?;
                let config = HostConfig {
                    addr: ([127, 0, 0, 1], 0).into(),
                    data_dir: dir.path().to_path_buf(),
                    backends: Backends::Embedded,
                    dev_sign_in: false,
                    buckets_per_concert: None,
                    operations: None,
                    ready_lag_max: crate::ready::READ_MODEL_LAG_MAX_DEFAULT,
                    payments: None,
                    mail: None,
                    user_pool_id: None,
                };
                let host = Host::start(&config).await.context("starting the shop")?;
                let tokens = Tokens::Signer(signer(dir.path())?);
                let sold = sale(args, &format!("http://{}", host.addr()), &tokens).await;
                host.stop().await;
                sold?.with("server", "in-process")
            }
        };
        reporter.record("flash-sale", run, measurement)?;
    }
    Ok(())
}

/// What the buyers of one connection saw.
#[derive(Default)]
struct Tally {
    /// Per purchase: how long it took, and when it was done (from the start).
    purchases: Vec<(Duration, Duration)>,
    sold_out: u64,
    errors_5xx: u64,
    other_errors: u64,
    requests: u64,
    first_error: Option<String>,
}

impl Tally {
    fn failed(&mut self, what: String, server_error: bool) {
        if server_error {
            self.errors_5xx += 1;
        } else {
            self.other_errors += 1;
        }
        self.first_error.get_or_insert(what);
    }

    fn merge(&mut self, other: Tally) {
        self.purchases.extend(other.purchases);
        self.sold_out += other.sold_out;
        self.errors_5xx += other.errors_5xx;
        self.other_errors += other.other_errors;
        self.requests += other.requests;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

async fn sale(args: &FlashSaleArgs, base: &str, tokens: &Tokens) -> anyhow::Result<Measurement> {
    let connections = args.connections as usize;
    let http = Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        // The pages answer a purchase with a redirect; a buyer's next page is not part of the purchase.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let api = Api { http, base: base.to_owned() };
    let admin = tokens.admin();
    let on_sale = concert_on_sale(&api, &admin, args.tickets).await?;
    let buyers: Arc<[String]> = tokens.buyers(args.buyers as usize).into();
    let body: Arc<str> = match args.via {
        Via::Api => json!({"concertId": on_sale.concert_id, "ticketTypeId": on_sale.ticket_type_id, "quantity": 1})
            .to_string()
            .into(),
        Via::Pages => {
            format!("concert_id={}&ticket_type_id={}&quantity=1", on_sale.concert_id, on_sale.ticket_type_id).into()
        }
    };
    let via = args.via;
    let browser = browse::Browser::new(base, &on_sale, buyers.first().context("a buyer")?)?;
    let mut idle = browser.idle().await;
    let stop_browsing = Arc::new(AtomicBool::new(false));
    let browsing = tokio::spawn(browser.until(Arc::clone(&stop_browsing)));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (api, buyers, next, body) = (api.clone(), Arc::clone(&buyers), Arc::clone(&next), Arc::clone(&body));
        workers.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = buyers.get(index) else { return tally };
                buy(&api, via, token, &body, started, &mut tally).await;
            }
        });
    }
    let mut tally = Tally::default();
    let mut failed = None;
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(done) => tally.merge(done),
            Err(error) => failed = Some(error),
        }
    }
    let elapsed = started.elapsed();
    // Stopped however the buyers ended, so that no browser outlives its sale.
    stop_browsing.store(true, Ordering::Relaxed);
    let mut during = browsing.await?;
    if let Some(error) = failed {
        return Err(error.into());
    }
    let (idle_reads, during_reads) = (idle.percentiles(), during.percentiles());
    let audit = audit::audit(&api, &admin, &on_sale).await?;
    // The ceiling: the same load generator against a trivial handler, now.
    let ceiling = super::http_floor::ceiling(args.connections, (2 * tally.requests).clamp(2_000, 100_000)).await?;
    let purchases = tally.purchases.len() as u64;
    let sold_out_after = tally.purchases.iter().map(|(_, done)| *done).max().unwrap_or_default();
    let mut latencies: Vec<Duration> = tally.purchases.iter().map(|(took, _)| *took).collect();
    let oversold = audit.oversold(purchases);
    let ceiling_purchases = ceiling / REQUESTS_PER_PURCHASE;
    let share = if ceiling_purchases > 0.0 { per_second(purchases, sold_out_after) / ceiling_purchases } else { 0.0 };
    let measurement =
        Measurement::new(purchases, sold_out_after, Latencies::of(&mut latencies), "purchase (reserve + checkout)")
            .with("tickets", args.tickets)
            .with("buyers", args.buyers)
            .with("connections", args.connections)
            .with("sync", "full")
            .with("purchases", purchases)
            .with("soldOut", audit.log_sold == u64::from(on_sale.quantity))
            .with("secondsToSellOut", (sold_out_after.as_secs_f64() * 1e4).round() / 1e4)
            .with("totalSeconds", (elapsed.as_secs_f64() * 1e4).round() / 1e4)
            .with("via", via.name())
            .with("requests", tally.requests)
            .with("requestsPerSec", per_second(tally.requests, elapsed).round())
            .with("requestsPerPurchase", REQUESTS_PER_PURCHASE)
            .with("httpCeilingRequestsPerSec", ceiling.round())
            .with("ceilingPurchasesPerSec", ceiling_purchases.round())
            .with("shareOfCeiling", (share * 1e3).round() / 1e3)
            .with("browseIdleP50Ms", millis(idle_reads.p50()))
            .with("browseIdleP99Ms", millis(idle_reads.p99()))
            .with("browseDuringSaleP50Ms", millis(during_reads.p50()))
            .with("browseDuringSaleP99Ms", millis(during_reads.p99()))
            .with("browseReadsDuringSale", during.latencies.len() as u64)
            .with("browseFailures", idle.failures + during.failures)
            .with("refusedSoldOut", tally.sold_out)
            .with("errors5xx", tally.errors_5xx)
            .with("otherErrors", tally.other_errors)
            .with("oversold", oversold)
            .with("lostPurchases", purchases.saturating_sub(audit.log_sold))
            .with("orphanHolds", audit.orphan_holds)
            .with("openHolds", audit.live_holds)
            .with("versionsOverQuantity", audit.versions_over_quantity)
            .with("soldLog", audit.log_sold)
            .with("soldReadModel", audit.read_sold)
            .with("orderTicketsLog", audit.log_order_tickets)
            .with("orderTicketsReadModel", audit.read_order_tickets)
            .with("availableReadModel", audit.read_available)
            .with("consistent", audit.consistent())
            .with("firstError", tally.first_error.unwrap_or_default())
            .with("secondsToAudit", millis(audit.took) / 1e3);
    Ok(measurement)
}

/// One buyer: reserve a ticket, and check out if that worked.
async fn buy(api: &Api, via: Via, token: &str, body: &str, started: Instant, tally: &mut Tally) {
    let began = Instant::now();
    let done = match via {
        Via::Api => StatusCode::CREATED,
        Via::Pages => StatusCode::SEE_OTHER,
    };
    tally.requests += 1;
    match api.post(via, "/cart/items", token, Some(body)).await {
        Ok(status) if status == done => {}
        Ok(StatusCode::CONFLICT) => {
            tally.sold_out += 1;
            return;
        }
        Ok(status) => return tally.failed(format!("reserve answered {status}"), status.is_server_error()),
        Err(error) => return tally.failed(format!("reserve failed: {error}"), false),
    }
    tally.requests += 1;
    match api.post(via, "/cart/checkout", token, None).await {
        Ok(status) if status == done => tally.purchases.push((began.elapsed(), started.elapsed())),
        Ok(status) => tally.failed(format!("checkout answered {status}"), status.is_server_error()),
        Err(error) => tally.failed(format!("checkout failed: {error}"), false),
    }
}
