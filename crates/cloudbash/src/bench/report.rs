//! What every scenario reports, and how: one line per run (a JSON object or
//! a table row) as soon as the run ends, so a long series shows progress and
//! a script can read each line on its own; then, after several runs, one
//! line of medians per variant. Failure counts (oversold tickets, server
//! errors, commands that gave up) are never averaged away: the summary
//! carries their worst value.

use std::io::Write;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Common;

/// Fields whose summary is the worst run, not the median: a single oversold
/// ticket in five runs must show.
const WORST_FIELDS: [&str; 8] = [
    "oversold",
    "orphanHolds",
    "errors5xx",
    "otherErrors",
    "gaveUp",
    "conflicts",
    "lostPurchases",
    "versionsOverQuantity",
];

/// The figures of one run of one scenario (or one variant of it).
#[derive(Debug)]
pub(super) struct Measurement {
    ops: u64,
    elapsed: Duration,
    latencies: Latencies,
    fields: Map<String, Value>,
}

impl Measurement {
    /// `ops` operations in `elapsed`, each of which took one of `latencies`
    /// (what an operation is, `latency_of` says: a command, a purchase, …).
    pub(super) fn new(ops: u64, elapsed: Duration, latencies: Latencies, latency_of: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("latencyOf".to_owned(), json!(latency_of));
        Self { ops, elapsed, latencies, fields }
    }

    /// Adds a parameter or a figure.
    pub(super) fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// Operations per second.
    pub(super) fn per_second(&self) -> f64 {
        per_second(self.ops, self.elapsed)
    }
}

/// Operations per second, 0 for an empty interval.
pub(super) fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}

/// Percentiles of a set of latencies.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Latencies {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Latencies {
    /// The percentiles of `samples` (sorted in place); zeros when empty.
    pub(super) fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        Self {
            p50: percentile(samples, 0.50),
            p99: percentile(samples, 0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    /// The median.
    pub(super) fn p50(&self) -> Duration {
        self.p50
    }

    /// The 99th percentile.
    pub(super) fn p99(&self) -> Duration {
        self.p99
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with microsecond resolution.
pub(super) fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

fn rounded(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

/// Prints lines as runs end and the medians at the end.
#[derive(Debug)]
pub(super) struct Reporter {
    json: bool,
    sync: &'static str,
    runs: usize,
    header_printed: bool,
    /// Lines of each (scenario, variant), in the order first seen.
    groups: Vec<(String, Vec<Map<String, Value>>)>,
}

impl Reporter {
    pub(super) fn new(common: &Common) -> Self {
        Self {
            json: common.json,
            sync: common.sync.name(),
            runs: common.runs,
            header_printed: false,
            groups: Vec::new(),
        }
    }

    /// Prints the line of run `run` (from 1) of `scenario`.
    pub(super) fn record(&mut self, scenario: &str, run: usize, measurement: Measurement) -> anyhow::Result<()> {
        let mut line = Map::new();
        line.insert("scenario".to_owned(), json!(scenario));
        line.insert("run".to_owned(), json!(run));
        line.insert("runs".to_owned(), json!(self.runs));
        line.entry("sync").or_insert(json!(self.sync));
        line.insert("ops".to_owned(), json!(measurement.ops));
        line.insert("seconds".to_owned(), json!(rounded(measurement.elapsed.as_secs_f64(), 4)));
        line.insert("opsPerSec".to_owned(), json!(rounded(measurement.per_second(), 1)));
        line.insert("p50Ms".to_owned(), json!(millis(measurement.latencies.p50)));
        line.insert("p99Ms".to_owned(), json!(millis(measurement.latencies.p99)));
        line.insert("maxMs".to_owned(), json!(millis(measurement.latencies.max)));
        for (name, value) in measurement.fields {
            line.insert(name, value);
        }
        self.print(&line)?;
        let key = format!("{scenario}/{}", line.get("variant").map(Value::to_string).unwrap_or_default());
        match self.groups.iter_mut().find(|(existing, _)| *existing == key) {
            Some((_, lines)) => lines.push(line),
            None => self.groups.push((key, vec![line])),
        }
        Ok(())
    }

    /// Prints the medians of every group that had more than one run.
    pub(super) fn finish(mut self) -> anyhow::Result<()> {
        let groups = std::mem::take(&mut self.groups);
        for (_, lines) in groups {
            if lines.len() > 1 {
                self.print(&summary(&lines))?;
            }
        }
        Ok(())
    }

    fn print(&mut self, line: &Map<String, Value>) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer(&mut out, line)?;
            writeln!(out)?;
        } else {
            if !self.header_printed {
                writeln!(out, "| scenario | run | ops | seconds | ops/s | p50 ms | p99 ms | details |")?;
                writeln!(out, "|---|---|---|---|---|---|---|---|")?;
                self.header_printed = true;
            }
            let cell = |name: &str| line.get(name).map(plain).unwrap_or_default();
            let run = line.get("summary").or_else(|| line.get("run")).map(plain).unwrap_or_default();
            let details: Vec<String> = line
                .iter()
                .filter(|(name, _)| !COMMON_FIELDS.contains(&name.as_str()))
                .map(|(name, value)| format!("{name}={}", plain(value)))
                .collect();
            writeln!(
                out,
                "| {} | {run} | {} | {} | {} | {} | {} | {} |",
                cell("scenario"),
                cell("ops"),
                cell("seconds"),
                cell("opsPerSec"),
                cell("p50Ms"),
                cell("p99Ms"),
                details.join(", ")
            )?;
        }
        out.flush()?;
        Ok(())
    }
}

/// Fields that have a column of their own in the table.
const COMMON_FIELDS: [&str; 9] =
    ["scenario", "run", "summary", "ops", "seconds", "opsPerSec", "p50Ms", "p99Ms", "runs"];

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One line for several runs: the median of each number (the worst of each
/// failure count), every flag only if it held in every run, the rest as in
/// the first run.
fn summary(lines: &[Map<String, Value>]) -> Map<String, Value> {
    let mut summary = Map::new();
    let Some(first) = lines.first() else { return summary };
    for (name, value) in first {
        let merged = match value {
            Value::Number(_) => {
                let mut numbers: Vec<&Value> = lines.iter().filter_map(|line| line.get(name)).collect();
                numbers.sort_by(|a, b| a.as_f64().unwrap_or_default().total_cmp(&b.as_f64().unwrap_or_default()));
                let pick = if WORST_FIELDS.contains(&name.as_str()) { numbers.len() - 1 } else { numbers.len() / 2 };
                numbers.get(pick).map_or_else(|| value.clone(), |picked| (*picked).clone())
            }
            Value::Bool(_) => json!(lines.iter().all(|line| line.get(name) == Some(&Value::Bool(true)))),
            other => other.clone(),
        };
        summary.insert(name.clone(), merged);
    }
    let mut rates: Vec<f64> = lines.iter().filter_map(|line| line.get("opsPerSec")?.as_f64()).collect();
    rates.sort_by(f64::total_cmp);
    summary.remove("run");
    summary.insert("summary".to_owned(), json!("median"));
    summary.insert("runs".to_owned(), json!(lines.len()));
    summary.insert("opsPerSecMin".to_owned(), json!(rates.first().copied().unwrap_or_default()));
    summary.insert("opsPerSecMax".to_owned(), json!(rates.last().copied().unwrap_or_default()));
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let latencies = Latencies::of(&mut samples);
        assert_eq!(latencies.p50, Duration::from_millis(50));
        assert_eq!(latencies.p99, Duration::from_millis(99));
        assert_eq!(latencies.max, Duration::from_millis(100));
        assert_eq!(Latencies::of(&mut []).p99, Duration::ZERO);
    }

    #[test]
    fn a_summary_takes_medians_but_the_worst_failure_count() {
        let lines: Vec<Map<String, Value>> = [(10.0, 0, true), (30.0, 2, true), (20.0, 0, false)]
            .into_iter()
            .map(|(rate, oversold, consistent)| {
                let line = json!({"run": 1, "opsPerSec": rate, "oversold": oversold, "consistent": consistent});
                line.as_object().cloned().unwrap_or_default()
            })
            .collect();
        let summary = summary(&lines);
        assert_eq!(summary["opsPerSec"], json!(20.0));
        assert_eq!(summary["oversold"], json!(2), "counts stay integers");
        assert_eq!(summary["consistent"], json!(false));
        assert_eq!(summary["summary"], json!("median"));
        assert!(!summary.contains_key("run"));
    }
}
