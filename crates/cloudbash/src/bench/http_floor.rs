//! `http-floor`: what HTTP alone costs on this machine, measured the way the
//! flash sale is — the same load generator, the same number of keep-alive
//! connections, in the same process — against a trivial axum handler that
//! reads a small JSON body and answers `201` with a small JSON body. A
//! flash-sale purchase is two such requests plus the shop's work, so half
//! this rate is the most purchases per second any server could reach here
//! through this load generator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Args;
use reqwest::Client;
use serde_json::{Value, json};

use super::Common;
use super::report::{Latencies, Measurement, Reporter};

/// Options of `cloudbash bench http-floor`.
#[derive(Debug, Args)]
pub(crate) struct HttpFloorArgs {
    /// Requests in all.
    #[arg(long, default_value_t = 60_000)]
    requests: u64,
    /// Concurrent keep-alive HTTP connections of the load generator.
    #[arg(long, default_value_t = 256)]
    connections: u32,
}

/// Runs the load `--runs` times against a fresh server each time.
pub(super) async fn run(args: &HttpFloorArgs, common: &Common, reporter: &mut Reporter) -> anyhow::Result<()> {
    anyhow::ensure!(args.requests >= 1 && args.connections >= 1, "counts must be positive");
    for run in 1..=common.runs {
        let measurement = once(args).await?;
        reporter.record("http-floor", run, measurement)?;
    }
    Ok(())
}

/// Echoes the body's size back: the least a JSON command route does.
async fn accept(axum::Json(body): axum::Json<Value>) -> (StatusCode, axum::Json<Value>) {
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": uuid::Uuid::now_v7(), "fields": body.as_object().map_or(0, |object| object.len())})),
    )
}

/// The ceiling as the flash sale reports it: requests per second of `requests`
/// over `connections`.
pub(super) async fn ceiling(connections: u32, requests: u64) -> anyhow::Result<f64> {
    let measurement = once(&HttpFloorArgs { requests, connections }).await?;
    Ok(measurement.per_second())
}

async fn once(args: &HttpFloorArgs) -> anyhow::Result<Measurement> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.context("binding the floor server")?;
    let base = format!("http://{}/items", listener.local_addr()?);
    let shutdown = es_core::CancellationToken::new();
    let stop = shutdown.clone();
    let server = tokio::spawn(async move {
        let app = Router::new().route("/items", post(accept));
        axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await
    });
    let connections = args.connections as usize;
    let http = Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?;
    // The same shape as a reservation, with a bearer token of a real token's size.
    let body: Arc<str> =
        json!({"concertId": uuid::Uuid::now_v7(), "ticketTypeId": uuid::Uuid::now_v7(), "quantity": 1})
            .to_string()
            .into();
    let token: Arc<str> = "x".repeat(400).into();
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (http, base, body, token, issued) =
            (http.clone(), base.clone(), Arc::clone(&body), Arc::clone(&token), Arc::clone(&issued));
        let total = args.requests;
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0_u64;
            while issued.fetch_add(1, Ordering::Relaxed) < total {
                let began = Instant::now();
                let sent = http
                    .post(base.as_str())
                    .bearer_auth(&*token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == StatusCode::CREATED => {
                        response.bytes().await?;
                        latencies.push(began.elapsed());
                    }
                    Ok(response) => {
                        response.bytes().await?;
                        failed += 1;
                    }
                    Err(_) => failed += 1,
                }
            }
            Ok::<_, reqwest::Error>((latencies, failed))
        });
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    while let Some(done) = workers.join_next().await {
        let (mine, failures) = done??;
        latencies.extend(mine);
        failed += failures;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    server.await??;
    let answered = latencies.len() as u64;
    Ok(Measurement::new(answered, elapsed, Latencies::of(&mut latencies), "request")
        .with("connections", args.connections)
        .with("failed", failed)
        .with("sync", "n/a"))
}
