//! A fan browsing the programme while the sale runs. Buyers are not the only
//! visitors on the day: others look at the programme and at the concert's
//! page, and those reads must not queue behind the sale. One client on a
//! connection of its own reads `GET /concerts?name=…` and then `GET
//! /concerts/{id}`, one request at a time with a short pause between, first
//! on the idle shop (before the sale starts) and then during the sale; the
//! two sets of latencies are reported side by side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};

use super::OnSale;
use crate::bench::report::Latencies;

/// Reads of each page on the idle shop.
const IDLE_READS: usize = 200;

/// Pause between two reads, so that the browser is one visitor, not a load.
const PAUSE: Duration = Duration::from_millis(5);

/// What the browser saw.
#[derive(Debug, Default)]
pub(super) struct Browsing {
    /// Latencies of each read, in order.
    pub(super) latencies: Vec<Duration>,
    /// Reads that did not answer 200.
    pub(super) failures: u64,
}

impl Browsing {
    /// The percentiles of the reads.
    pub(super) fn percentiles(&mut self) -> Latencies {
        Latencies::of(&mut self.latencies)
    }
}

/// A browser of one concert's pages.
#[derive(Clone)]
pub(super) struct Browser {
    http: Client,
    pages: Arc<[String]>,
    token: Arc<str>,
}

impl Browser {
    pub(super) fn new(base: &str, on_sale: &OnSale, token: &str) -> anyhow::Result<Self> {
        // A client of its own: its requests never wait for a buyer's connection.
        let http = Client::builder().pool_max_idle_per_host(1).tcp_nodelay(true).build()?;
        let pages = vec![format!("{base}/concerts?name=Flash"), format!("{base}/concerts/{}", on_sale.concert_id)];
        Ok(Self { http, pages: pages.into(), token: token.into() })
    }

    /// Reads each page [`IDLE_READS`] times on the idle shop.
    pub(super) async fn idle(&self) -> Browsing {
        let mut browsing = Browsing::default();
        for _ in 0..IDLE_READS {
            self.read_each(&mut browsing).await;
        }
        browsing
    }

    /// Reads the pages over and over until `stop` is set.
    pub(super) async fn until(self, stop: Arc<AtomicBool>) -> Browsing {
        let mut browsing = Browsing::default();
        while !stop.load(Ordering::Relaxed) {
            self.read_each(&mut browsing).await;
        }
        browsing
    }

    async fn read_each(&self, browsing: &mut Browsing) {
        for page in self.pages.iter() {
            let began = Instant::now();
            let answered = self.http.get(page).bearer_auth(&*self.token).send().await;
            let ok = match answered {
                Ok(response) => response.status() == StatusCode::OK && response.bytes().await.is_ok(),
                Err(_) => false,
            };
            if ok {
                browsing.latencies.push(began.elapsed());
            } else {
                browsing.failures += 1;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
}
