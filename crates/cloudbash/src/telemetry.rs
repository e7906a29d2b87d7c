//! What the binary tells its operator: log lines, and metrics for a
//! Prometheus server to scrape. Both are set up here, once per process; the
//! libraries only write through `tracing` and the `metrics` facade.
//!
//! Logs go to standard error, as text for a person at a terminal or as one
//! JSON object per line for a log shipper (`--log-format json`). Each line
//! carries the fields of the spans it was written in: a request's id,
//! method, route and caller, a command's name. `serve` logs at INFO (a line
//! per request and per command), the other commands at WARN; `RUST_LOG`
//! overrides either.
//!
//! Metrics are recorded only when `serve` is asked to export them
//! (`--metrics-addr`): without a recorder, every count and timing in the
//! libraries is a call that does nothing.
//!
//! Traces go to an OpenTelemetry collector when `serve` is given one
//! (`--otlp-endpoint`): the same spans the log lines carry (a request, the
//! command it runs) become spans of a trace, batched on the SDK's own
//! thread and sent as OTLP protobuf over HTTP, so that serving never waits
//! for the collector.

use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the fields of every span the line was written in.
    Json,
}

/// The traces' exporter, kept so that what it has not sent yet is sent before the process ends.
pub(crate) struct Traces(SdkTracerProvider);

impl Traces {
    /// Sends the spans still batched, and stops the exporter.
    pub(crate) fn finish(self) {
        if let Err(error) = self.0.shutdown() {
            tracing::warn!(%error, "the last traces could not be sent");
        }
    }
}

/// Sets up logging for the whole process: `default_level` unless `RUST_LOG` says otherwise, and traces to the
/// OpenTelemetry collector at `otlp_endpoint` (its base address: spans go to `/v1/traces` under it). Call it outside
/// the async runtime: the exporter's HTTP client blocks on its own thread.
pub(crate) fn init_logging(
    format: LogFormat,
    default_level: &str,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<Option<Traces>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let provider = otlp_endpoint.map(tracer_provider).transpose()?;
    // Traces keep every request and command whatever the log lines' level.
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer("cloudbash")).with_filter(LevelFilter::INFO)
    });
    tracing_subscriber::registry().with(logs.with_filter(filter)).with(traces).try_init()?;
    Ok(provider.map(Traces))
}

fn tracer_provider(endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("setting up the traces' exporter")?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name("cloudbash").build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// Bounds of the latency histograms, in seconds: from half a millisecond (an
/// append on a fast disk) to ten seconds (past every time limit).
const SECONDS_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Bounds of the histogram of commands per append: powers of two up to a
/// full lane's round.
const ROUND_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// How often recorded histogram values are folded in between scrapes, so
/// that memory stays bounded however rarely the server is scraped.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the process's Prometheus recorder: from now on the libraries'
/// counts and timings are kept, and the handle renders them as Prometheus's
/// text format. Histograms (not summaries) so that a Prometheus server can
/// add them up across processes.
pub(crate) fn install_prometheus() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(es_core::ROUND_COMMANDS.to_owned()), ROUND_BUCKETS)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            ticks.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}
