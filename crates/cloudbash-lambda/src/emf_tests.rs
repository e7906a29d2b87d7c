//! The recorder's documents, read back as CloudWatch would read them.

use chrono::TimeZone;
use serde_json::{Value, json};

use super::*;

/// The recorder's documents after `record` ran with it as the recorder.
fn flushed(recorder: &EmfRecorder, record: impl FnOnce()) -> Vec<Value> {
    metrics::with_local_recorder(recorder, record);
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).single().expect("a time");
    let mut out = Vec::new();
    recorder.flush("projector", at, &mut out).expect("flushes to memory");
    let text = String::from_utf8(out).expect("UTF-8");
    text.lines().map(|line| serde_json::from_str(line).expect("each line is a JSON document")).collect()
}

/// The metrics a document declares, as (name, unit).
fn declared(document: &Value) -> Vec<(String, String)> {
    let metrics = document["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().expect("metrics");
    metrics
        .iter()
        .map(|metric| {
            (metric["Name"].as_str().expect("a name").into(), metric["Unit"].as_str().expect("a unit").into())
        })
        .collect()
}

#[test]
fn a_counter_reports_what_it_grew_by_in_a_document_with_the_function_and_its_labels_as_dimensions() {
    let recorder = EmfRecorder::new();
    let documents = flushed(&recorder, || {
        metrics::counter!("cloudbash_commands_total", "command" => "reserve", "outcome" => "ok").increment(2);
        metrics::counter!("cloudbash_commands_total", "command" => "reserve", "outcome" => "ok").increment(1);
    });
    assert_eq!(documents.len(), 1, "{documents:?}");
    let document = &documents[0];
    assert_eq!(document["_aws"]["Timestamp"], json!(1_796_126_400_000_i64));
    assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Namespace"], json!("Cloudbash"));
    assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function", "command", "outcome"]]));
    assert_eq!(declared(document), [("cloudbash_commands_total".into(), "Count".into())]);
    assert_eq!(
        (&document["Function"], &document["command"], &document["outcome"]),
        (&json!("projector"), &json!("reserve"), &json!("ok"))
    );
    assert_eq!(document["cloudbash_commands_total"], json!(3));

    assert!(flushed(&recorder, || {}).is_empty(), "a flush reports only what came after the last one");
    let again = flushed(&recorder, || {
        metrics::counter!("cloudbash_commands_total", "command" => "reserve", "outcome" => "ok").increment(4);
    });
    assert_eq!(again[0]["cloudbash_commands_total"], json!(4));
}

#[test]
fn a_gauge_is_reported_in_seconds_by_its_name_and_only_after_an_invocation_that_set_it() {
    let recorder = EmfRecorder::new();
    let documents = flushed(&recorder, || {
        metrics::gauge!("cloudbash_bus_consumer_lag_seconds", "consumer" => "projector").set(12.5);
    });
    assert_eq!(declared(&documents[0]), [("cloudbash_bus_consumer_lag_seconds".into(), "Seconds".into())]);
    assert_eq!(documents[0]["cloudbash_bus_consumer_lag_seconds"], json!(12.5));
    assert!(flushed(&recorder, || {}).is_empty(), "an invocation that measured nothing reports nothing");
}

#[test]
fn a_histogram_reports_every_value_at_most_a_hundred_a_document() {
    let recorder = EmfRecorder::new();
    let documents = flushed(&recorder, || {
        for value in 0..250 {
            metrics::histogram!("cloudbash_append_duration_seconds").record(f64::from(value) / 1000.0);
        }
        metrics::histogram!("cloudbash_append_duration_seconds").record(f64::NAN);
        metrics::counter!("cloudbash_command_conflicts_total").increment(1);
    });
    let sizes: Vec<usize> = documents
        .iter()
        .map(|document| document["cloudbash_append_duration_seconds"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [100, 100, 50], "NaN is no value CloudWatch takes");
    let conflicts: Vec<&Value> =
        documents.iter().map(|document| &document["cloudbash_command_conflicts_total"]).collect();
    assert_eq!(conflicts, [&json!(1), &Value::Null, &Value::Null], "a counter is reported once");
    let total: f64 = documents
        .iter()
        .flat_map(|document| document["cloudbash_append_duration_seconds"].as_array().cloned().unwrap_or_default())
        .map(|value| value.as_f64().expect("a number"))
        .sum();
    assert!((total - 31.125).abs() < 1e-9, "every value once: {total}");
}

#[test]
fn each_label_set_is_its_own_document() {
    let recorder = EmfRecorder::new();
    let documents = flushed(&recorder, || {
        metrics::counter!("cloudbash_read_your_writes_total", "outcome" => "shown").increment(5);
        metrics::counter!("cloudbash_read_your_writes_total", "outcome" => "timeout").increment(1);
        metrics::histogram!("cloudbash_read_your_writes_wait_seconds").record(0.25);
    });
    let outcomes: Vec<(&Value, &Value, &Value)> = documents
        .iter()
        .map(|document| {
            (
                &document["outcome"],
                &document["cloudbash_read_your_writes_total"],
                &document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (&Value::Null, &Value::Null, &json!([["Function"]])),
            (&json!("shown"), &json!(5), &json!([["Function", "outcome"]])),
            (&json!("timeout"), &json!(1), &json!([["Function", "outcome"]])),
        ]
    );
    assert_eq!(documents[0]["cloudbash_read_your_writes_wait_seconds"], json!(0.25));
}
