//! The functions' metrics as CloudWatch reads them: each invocation, run as `serve` runs it (inside
//! `InvocationMetrics::around`), writes what it measured as embedded metric format documents, captured here instead
//! of stdout. The stack is the pipeline's, on the local emulators; the stream records' arrival times are set to a
//! known past so that the lag each consumer reports is known. Its own test binary: the recorder is the process's.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use cloudbash_lambda::{
    EmfRecorder, Function, InvocationMetrics, Resources, forwarder, hold_expiry, indexer, projector,
};
use serde_json::{Value, json};
use support::bus::bus_batches;
use support::streams::stream_batches;
use support::{Identity, concert_on_sale, expect_api, http_api_event};

/// Records per batch, as a mapping's `BatchSize`.
const BATCH_SIZE: i32 = 5;

/// The process's recorder, installed by the first test that needs it.
fn recorder() -> EmfRecorder {
    static RECORDER: OnceLock<EmfRecorder> = OnceLock::new();
    RECORDER.get_or_init(|| EmfRecorder::install().expect("no other recorder in this test binary")).clone()
}

/// What the invocations wrote, in place of stdout.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The documents written since the last call, each line parsed as JSON.
    fn documents(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        let text = String::from_utf8(bytes).expect("UTF-8");
        text.lines().map(|line| serde_json::from_str(line).expect("every line is one JSON document")).collect()
    }
}

/// `function`'s invocation metrics, written to a capture; what was recorded before (the API's requests that set the
/// stack up) is flushed away first.
fn capture(function: Function) -> (InvocationMetrics, Captured) {
    let captured = Captured::default();
    let metrics = InvocationMetrics::new(recorder(), function, Box::new(captured.clone()));
    metrics.flush();
    captured.documents();
    (metrics, captured)
}

/// The value of `metric` in the one document of `documents` that holds it, after checking that document is valid
/// EMF of the namespace Cloudbash, with the dimensions `Function` (= `function`) and `labels`, and the unit.
fn metric(documents: &[Value], function: &str, labels: &[(&str, &str)], metric: &str, unit: &str) -> Value {
    let holding: Vec<&Value> = documents.iter().filter(|document| document.get(metric).is_some()).collect();
    assert_eq!(holding.len(), 1, "one document holds {metric}: {documents:?}");
    let document = holding[0];
    let timestamp = document["_aws"]["Timestamp"].as_i64().expect("a timestamp in milliseconds");
    assert!((Utc::now().timestamp_millis() - timestamp).abs() < 60_000, "stamped now: {document}");
    let directive = &document["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], json!("Cloudbash"), "{document}");
    let mut dimensions = vec!["Function"];
    dimensions.extend(labels.iter().map(|(name, _)| *name));
    assert_eq!(directive["Dimensions"], json!([dimensions]), "{document}");
    let declared = directive["Metrics"].as_array().expect("metrics");
    assert!(declared.contains(&json!({"Name": metric, "Unit": unit})), "{metric} in {unit}: {document}");
    assert_eq!(document["Function"], json!(function), "{document}");
    for (name, value) in labels {
        assert_eq!(document[*name], json!(value), "{document}");
    }
    document[metric].clone()
}

/// A lag in seconds, at least `at_least` (the records' age) and not much more.
fn assert_lag(lag: &Value, at_least: f64) {
    let lag = lag.as_f64().expect("a lag in seconds");
    assert!((at_least..at_least + 60.0).contains(&lag), "{lag} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invocation_writes_what_it_measured_as_embedded_metric_format_documents() {
    let sdk = support::sdk_config().await;
    let resources = Resources::with_sdk_config(support::fresh_stack(&sdk).await, sdk.clone());
    cloudbash_lambda::migrate::handle(&resources, json!({})).await.expect("migrates");
    let (concert_id, ticket_type_id) = concert_on_sale(&resources, &Identity::admin(), 100).await;
    let reserve = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 2});
    let request = http_api_event(&Identity::customer(), "POST", "/cart/items", &[], "", Some(&reserve));

    // The API: the request's latency by method, route and status, and the command by outcome, as the libraries
    // record them.
    let (metrics, captured) = capture(Function::Api);
    metrics.around(expect_api(&resources, &request, StatusCode::CREATED)).await;
    let documents = captured.documents();
    let route = [("method", "POST"), ("route", "/cart/items"), ("status", "201")];
    let latency = metric(&documents, "api", &route, "cloudbash_http_request_duration_seconds", "Seconds");
    let latencies = latency.as_array().cloned().unwrap_or_else(|| vec![latency.clone()]);
    assert_eq!(latencies.len(), 1, "one request: {latency}");
    assert!(latencies[0].as_f64().is_some_and(|seconds| (0.0..60.0).contains(&seconds)), "{latency}");
    let reserved = [("command", "reserve"), ("outcome", "ok")];
    assert_eq!(metric(&documents, "api", &reserved, "cloudbash_commands_total", "Count"), json!(1));

    // The forwarder: how long the oldest record of each batch waited on the table's stream.
    let (metrics, captured) = capture(Function::Forwarder);
    let store = resources.store().await.expect("the log");
    for mut event in stream_batches(&sdk, store, BATCH_SIZE).await {
        let created = Utc::now() - Duration::seconds(20);
        event.records.iter_mut().for_each(|record| record.change.approximate_creation_date_time = created);
        let response = metrics.around(forwarder::handle(&resources, event)).await.expect("the forwarder runs");
        assert!(response.batch_item_failures.is_empty());
        let forwarder = [("consumer", "forwarder")];
        assert_lag(&metric(&captured.documents(), "forwarder", &forwarder, LAG, "Seconds"), 20.0);
    }

    // The indexer, on the same stream.
    let (metrics, captured) = capture(Function::Indexer);
    for mut event in stream_batches(&sdk, store, BATCH_SIZE).await {
        let created = Utc::now() - Duration::seconds(40);
        event.records.iter_mut().for_each(|record| record.change.approximate_creation_date_time = created);
        let response = metrics.around(indexer::handle(&resources, event)).await.expect("the indexer runs");
        assert!(response.batch_item_failures.is_empty());
        let indexer = [("consumer", "indexer")];
        assert_lag(&metric(&captured.documents(), "indexer", &indexer, LAG, "Seconds"), 40.0);
    }

    // The projector: the lag on the bus, and every event of the batch applied.
    let (metrics, captured) = capture(Function::Projector);
    let mut projected = 0;
    for mut event in bus_batches(&resources, &sdk, BATCH_SIZE).await {
        let arrived = Utc::now() - Duration::seconds(30);
        event.records.iter_mut().for_each(|record| record.kinesis.approximate_arrival_timestamp.0 = arrived);
        let records = event.records.len();
        let response = metrics.around(projector::handle(&resources, event)).await.expect("the projector runs");
        assert!(response.batch_item_failures.is_empty());
        let documents = captured.documents();
        let applied = metric(&documents, "projector", &[], "cloudbash_projector_events_total", "Count");
        assert_eq!(applied, json!(records), "every record of the batch");
        assert_lag(&metric(&documents, "projector", &[("consumer", "projector")], LAG, "Seconds"), 30.0);
        projected += records;
    }
    assert!(projected >= 6, "the concert's events and the reservation's: {projected}");

    // Hold expiry: the holds a run released.
    let (metrics, captured) = capture(Function::HoldExpiry);
    let later = Utc::now() + Duration::minutes(20);
    let run = metrics.around(hold_expiry::handle(&resources, later)).await.expect("a run");
    assert!(run.expired >= 1, "{run:?}");
    let expired = metric(&captured.documents(), "hold-expiry", &[], "cloudbash_holds_expired_total", "Count");
    assert_eq!(expired, json!(run.expired));

    // A run that releases nothing reports nothing (a counter that did not grow is left out).
    let again = metrics.around(hold_expiry::handle(&resources, later)).await.expect("a run");
    assert_eq!(again.expired, 0);
    let documents = captured.documents();
    assert!(documents.iter().all(|document| document.get("cloudbash_holds_expired_total").is_none()), "{documents:?}");
}

/// The lag's metric name.
const LAG: &str = "cloudbash_bus_consumer_lag_seconds";
