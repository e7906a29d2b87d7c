//! The functions' metrics, as CloudWatch's embedded metric format (EMF): the libraries count and time through the
//! `metrics` facade; in a function, [`EmfRecorder`] keeps those figures, and after each invocation
//! [`InvocationMetrics`] writes what the invocation recorded as JSON lines on stdout, which CloudWatch Logs turns
//! into metrics of the namespace [`NAMESPACE`] without an API call (nothing to wait for, nothing to fail while the
//! answer waits). A container serves one invocation at a time, so the figures flushed after an invocation are its
//! own.
//!
//! Each document has the dimension `Function` (the function's name, as `CLOUDBASH_FUNCTION` says it) and one per
//! label of the metric, so the figures of one label set share a document. Names are kept as the libraries give
//! them (Prometheus style); the unit follows from the name: `Seconds` for `*_seconds`, `Count` otherwise, so no
//! library has to describe its metrics for the units to be right. Per invocation a counter reports what it grew
//! by (and nothing when it did not), a gauge its value when it was set, a histogram every value it took; EMF holds
//! at most [`EMF_VALUES_PER_METRIC_MAX`] values of a metric in one document, so more values make more documents,
//! none lost.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use metrics::atomics::AtomicU64;
use metrics::{Counter, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{Registry, Storage};
use metrics_util::storage::AtomicBucket;
use serde_json::{Map, Value, json};

use crate::Function;
use crate::limits::{EMF_DIMENSIONS_MAX, EMF_METRICS_PER_DOCUMENT_MAX, EMF_VALUES_PER_METRIC_MAX};

/// The CloudWatch namespace of every Cloudbash metric.
pub const NAMESPACE: &str = "Cloudbash";

/// The dimension naming the function.
const FUNCTION_DIMENSION: &str = "Function";

/// Keeps the figures the process records until they are flushed. Clones share them: one is the global recorder,
/// another flushes.
#[derive(Clone)]
pub struct EmfRecorder {
    registry: Arc<Registry<Key, InvocationStorage>>,
}

impl EmfRecorder {
    /// A recorder holding nothing yet.
    pub fn new() -> Self {
        Self { registry: Arc::new(Registry::new(InvocationStorage)) }
    }

    /// Makes a new recorder the process's, for every library's `metrics::counter!` and the like; fails when the
    /// process has one already.
    pub fn install() -> Result<Self, metrics::SetRecorderError<Self>> {
        let recorder = Self::new();
        metrics::set_global_recorder(recorder.clone())?;
        Ok(recorder)
    }

    /// Writes what was recorded since the last flush as EMF documents, one a line, stamped `at`, and forgets it.
    pub fn flush(&self, function: &str, at: DateTime<Utc>, out: &mut dyn Write) -> std::io::Result<()> {
        for (labels, figures) in self.take() {
            if labels.len() + 1 > EMF_DIMENSIONS_MAX {
                tracing::warn!(?labels, "metrics with more labels than CloudWatch takes as dimensions are dropped");
                continue;
            }
            for document in documents(function, at, &labels, &figures) {
                let mut line = serde_json::to_vec(&document).map_err(std::io::Error::other)?;
                line.push(b'\n');
                // One write a document, so that no other line of the process lands inside it.
                out.write_all(&line)?;
            }
        }
        out.flush()
    }

    /// What was recorded since the last call, by label set, reset as it is read.
    fn take(&self) -> BTreeMap<Vec<(String, String)>, Vec<Figure>> {
        let mut by_labels: BTreeMap<Vec<(String, String)>, Vec<Figure>> = BTreeMap::new();
        let mut add = |key: &Key, values: Vec<Value>| {
            let labels = key.labels().map(|label| (label.key().to_owned(), label.value().to_owned())).collect();
            by_labels.entry(labels).or_default().push(Figure { name: key.name().to_owned(), values });
        };
        self.registry.visit_counters(|key, counter| {
            let grown = counter.swap(0, Ordering::Relaxed);
            if grown > 0 {
                add(key, vec![json!(grown)]);
            }
        });
        self.registry.visit_gauges(|key, gauge| {
            if gauge.set.swap(false, Ordering::Relaxed) {
                add(key, finite(&[f64::from_bits(gauge.bits.load(Ordering::Relaxed))]));
            }
        });
        self.registry.visit_histograms(|key, histogram| {
            let mut values = Vec::new();
            histogram.clear_with(|taken| values.extend(finite(taken)));
            if !values.is_empty() {
                add(key, values);
            }
        });
        by_labels.values_mut().for_each(|figures| figures.retain(|figure| !figure.values.is_empty()));
        by_labels.retain(|_, figures| !figures.is_empty());
        by_labels
    }
}

impl Default for EmfRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder for EmfRecorder {
    // Units follow from the names, and EMF has no place for a description.
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registry.get_or_create_counter(key, |counter| Counter::from_arc(counter.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.registry.get_or_create_gauge(key, |gauge| Gauge::from_arc(gauge.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.registry.get_or_create_histogram(key, |histogram| Histogram::from_arc(histogram.clone()))
    }
}

/// Flushes a container's figures after each of its invocations, to stdout in a function and to a buffer in tests.
pub struct InvocationMetrics {
    recorder: EmfRecorder,
    function: Function,
    out: Mutex<Box<dyn Write + Send>>,
}

impl InvocationMetrics {
    /// The figures of `function`'s invocations, kept by `recorder`, written to `out`.
    pub fn new(recorder: EmfRecorder, function: Function, out: Box<dyn Write + Send>) -> Self {
        Self { recorder, function, out: Mutex::new(out) }
    }

    /// Runs one invocation, then writes what it recorded.
    pub async fn around<T>(&self, invocation: impl Future<Output = T>) -> T {
        let output = invocation.await;
        self.flush();
        output
    }

    /// Writes what was recorded since the last flush. A metric that cannot be written is logged and lost: the
    /// invocation's answer does not depend on it.
    pub fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = self.recorder.flush(self.function.name(), Utc::now(), &mut **out) {
            tracing::warn!(%error, "cannot write the invocation's metrics");
        }
    }
}

/// One metric's values in one flush.
struct Figure {
    name: String,
    values: Vec<Value>,
}

/// The CloudWatch unit of a metric, from its name.
pub fn unit_of(name: &str) -> &'static str {
    if name.ends_with("_seconds") { "Seconds" } else { "Count" }
}

/// The EMF documents of one label set: each holds at most [`EMF_METRICS_PER_DOCUMENT_MAX`] metrics and
/// [`EMF_VALUES_PER_METRIC_MAX`] values of each.
fn documents(function: &str, at: DateTime<Utc>, labels: &[(String, String)], figures: &[Figure]) -> Vec<Value> {
    let chunks_max = figures.iter().map(|figure| figure.values.len().div_ceil(EMF_VALUES_PER_METRIC_MAX)).max();
    let mut documents = Vec::new();
    for round in 0..chunks_max.unwrap_or(0) {
        let present: Vec<(&str, &[Value])> = figures
            .iter()
            .filter_map(|figure| {
                let chunk = figure.values.chunks(EMF_VALUES_PER_METRIC_MAX).nth(round)?;
                Some((figure.name.as_str(), chunk))
            })
            .collect();
        for metrics in present.chunks(EMF_METRICS_PER_DOCUMENT_MAX) {
            documents.push(document(function, at, labels, metrics));
        }
    }
    documents
}

/// One EMF document: the `_aws` metadata, the dimensions' values, and each metric's value (a list for several).
fn document(function: &str, at: DateTime<Utc>, labels: &[(String, String)], metrics: &[(&str, &[Value])]) -> Value {
    let mut dimensions = vec![FUNCTION_DIMENSION];
    dimensions.extend(labels.iter().map(|(name, _)| name.as_str()));
    let declared: Vec<Value> = metrics.iter().map(|(name, _)| json!({"Name": name, "Unit": unit_of(name)})).collect();
    let mut body = Map::new();
    body.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dimensions], "Metrics": declared}],
        }),
    );
    // The function's name comes last among the dimensions' values, so a label cannot take its place.
    for (name, value) in labels {
        body.insert(name.clone(), json!(value));
    }
    body.insert(FUNCTION_DIMENSION.to_owned(), json!(function));
    for (name, values) in metrics {
        let value = if let [one] = values { one.clone() } else { Value::Array(values.to_vec()) };
        body.insert((*name).to_owned(), value);
    }
    Value::Object(body)
}

/// The values JSON can hold: CloudWatch takes no NaN or infinity.
fn finite(values: &[f64]) -> Vec<Value> {
    values.iter().filter(|value| value.is_finite()).map(|value| json!(value)).collect()
}

/// Where the registry keeps each metric: counters and histograms as `metrics_util` does, gauges with a flag.
struct InvocationStorage;

impl<K> Storage<K> for InvocationStorage {
    type Counter = Arc<AtomicU64>;
    type Gauge = Arc<InvocationGauge>;
    type Histogram = Arc<AtomicBucket<f64>>;

    fn counter(&self, _: &K) -> Self::Counter {
        Arc::new(AtomicU64::new(0))
    }

    fn gauge(&self, _: &K) -> Self::Gauge {
        Arc::new(InvocationGauge { bits: AtomicU64::new(0), set: AtomicBool::new(false) })
    }

    fn histogram(&self, _: &K) -> Self::Histogram {
        Arc::new(AtomicBucket::new())
    }
}

/// A gauge that knows whether it was set since the last flush, so that an invocation reports only what it
/// measured, not what an earlier one left.
struct InvocationGauge {
    /// The value, as `f64` bits (as the facade's own atomic gauge keeps it).
    bits: AtomicU64,
    set: AtomicBool,
}

impl GaugeFn for InvocationGauge {
    fn increment(&self, value: f64) {
        self.bits.increment(value);
        self.set.store(true, Ordering::Relaxed);
    }

    fn decrement(&self, value: f64) {
        self.bits.decrement(value);
        self.set.store(true, Ordering::Relaxed);
    }

    fn set(&self, value: f64) {
        GaugeFn::set(&self.bits, value);
        self.set.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "emf_tests.rs"]
mod tests;
