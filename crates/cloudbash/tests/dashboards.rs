//! The Grafana dashboard (`deploy/grafana/cloudbash.json`) read as data and
//! held to the metrics the host exports, so that a metric renamed on one
//! side and not the other fails here instead of leaving an empty panel: every
//! query names only metrics of [`METRICS`] (a histogram by its `_bucket`,
//! `_sum` or `_count` series), every panel has a query, and the data source
//! is the one the dashboard asks for when imported.

use std::path::PathBuf;

use serde_json::Value;

/// What a metric is: a histogram is queried through its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every metric the host exports on `/metrics`.
const METRICS: &[(&str, Kind)] = &[
    ("cloudbash_http_request_duration_seconds", Kind::Histogram),
    ("cloudbash_commands_total", Kind::Counter),
    ("cloudbash_command_conflicts_total", Kind::Counter),
    ("cloudbash_append_duration_seconds", Kind::Histogram),
    ("cloudbash_round_commands", Kind::Histogram),
    ("cloudbash_read_your_writes_total", Kind::Counter),
    ("cloudbash_read_your_writes_wait_seconds", Kind::Histogram),
    ("cloudbash_holds_expired_total", Kind::Counter),
    ("cloudbash_log_head_position", Kind::Gauge),
    ("cloudbash_read_model_position", Kind::Gauge),
    ("cloudbash_read_model_lag_events", Kind::Gauge),
    ("cloudbash_read_model_lag_seconds", Kind::Gauge),
    ("cloudbash_read_model_failing", Kind::Gauge),
    ("cloudbash_bus_consumer_lag_seconds", Kind::Gauge),
];

/// Words of PromQL that are not metric names.
const KEYWORDS: &[&str] =
    &["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"];

/// PromQL's aggregations, which may stand apart from their parenthesis (`sum by (route) (…)`).
const AGGREGATIONS: &[&str] =
    &["sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile"];

/// Whether `name` is a series the host exports.
fn exported(name: &str) -> bool {
    METRICS.iter().any(|&(metric, kind)| match kind {
        Kind::Counter | Kind::Gauge => name == metric,
        Kind::Histogram => ["_bucket", "_sum", "_count"].iter().any(|suffix| name == format!("{metric}{suffix}")),
    })
}

/// The metric names in a PromQL expression: its identifiers that are neither
/// functions, aggregations, keywords, label names (in matchers and grouping lists) nor
/// inside strings or ranges.
fn metric_names(expression: &str) -> Vec<String> {
    let characters: Vec<char> = expression.chars().collect();
    let (mut names, mut index) = (Vec::new(), 0);
    // A grouping list's parenthesis follows a keyword; a call's, a function.
    let mut previous_word = String::new();
    while index < characters.len() {
        let character = characters[index];
        let closing = match character {
            '{' => Some('}'),
            '[' => Some(']'),
            '"' => Some('"'),
            '(' if KEYWORDS.contains(&previous_word.as_str()) => Some(')'),
            _ => None,
        };
        if let Some(closing) = closing {
            let rest = characters[index + 1..].iter().position(|&c| c == closing).expect("every bracket closes");
            index += rest + 2;
            previous_word.clear();
            continue;
        }
        if character.is_ascii_alphabetic() || character == '_' {
            let start = index;
            while index < characters.len()
                && (characters[index].is_ascii_alphanumeric() || characters[index] == '_' || characters[index] == ':')
            {
                index += 1;
            }
            let word: String = characters[start..index].iter().collect();
            let next = characters[index..].iter().find(|c| !c.is_whitespace());
            if next != Some(&'(') && !KEYWORDS.contains(&word.as_str()) && !AGGREGATIONS.contains(&word.as_str()) {
                names.push(word.clone());
            }
            previous_word = word;
            continue;
        }
        if character.is_ascii_digit() || character == '.' {
            // A number: no metric starts with a digit.
            while index < characters.len() && (characters[index].is_ascii_alphanumeric() || characters[index] == '.') {
                index += 1;
            }
            continue;
        }
        if !character.is_whitespace() {
            previous_word.clear();
        }
        index += 1;
    }
    names
}

fn dashboard() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/cloudbash.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard is readable");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every panel, rows' nested ones included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        all.push(panel);
        all.extend(panel["panels"].as_array().into_iter().flatten());
    }
    all
}

#[test]
fn the_expression_reader_finds_metrics_and_nothing_else() {
    let expression = r#"histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{instance=~"$instance", status=~"5.."}[$__rate_interval]))) / ignoring(outcome) group_left sum(b_total) + up"#;
    assert_eq!(metric_names(expression), ["a_bucket", "b_total", "up"]);
}

#[test]
fn every_query_of_the_dashboard_names_only_metrics_the_host_exports() {
    let dashboard = dashboard();
    let mut seen = 0;
    for panel in panels(&dashboard).into_iter().filter(|panel| panel["type"] != "row") {
        let title = panel["title"].as_str().expect("a title");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title:?} queries nothing");
        for target in targets {
            let expression = target["expr"].as_str().expect("a PromQL expression");
            let names = metric_names(expression);
            assert!(!names.is_empty(), "panel {title:?}: {expression} names no metric");
            for name in names {
                assert!(exported(&name), "panel {title:?} queries {name}, which the host does not export");
            }
            seen += 1;
        }
    }
    for variable in dashboard["templating"]["list"].as_array().expect("variables") {
        // Grafana's `label_values(metric, label)`: the metric is its first argument.
        let query = variable["definition"].as_str().expect("a definition");
        let arguments = query.strip_prefix("label_values(").and_then(|rest| rest.strip_suffix(')'));
        let metric = arguments.and_then(|arguments| arguments.split(',').next()).expect("label_values(metric, label)");
        let name = metric.trim();
        assert!(exported(name), "variable {} reads {name}, which the host does not export", variable["name"]);
    }
    assert!(seen >= METRICS.len(), "a query per metric at least");
}

#[test]
fn every_metric_the_host_exports_has_a_panel() {
    let dashboard = dashboard();
    let expressions: Vec<&str> = panels(&dashboard)
        .into_iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .map(|target| target["expr"].as_str().expect("a PromQL expression"))
        .collect();
    for (metric, _) in METRICS {
        assert!(expressions.iter().any(|expression| expression.contains(metric)), "no panel shows {metric}");
    }
}

#[test]
fn the_dashboard_asks_for_its_prometheus_when_imported() {
    let dashboard = dashboard();
    let inputs = dashboard["__inputs"].as_array().expect("inputs");
    assert!(inputs.iter().any(|input| input["name"] == "DS_PROMETHEUS" && input["pluginId"] == "prometheus"));
    for panel in panels(&dashboard).into_iter().filter(|panel| panel["type"] != "row") {
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {}", panel["title"]);
        for target in panel["targets"].as_array().expect("targets") {
            assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {}", panel["title"]);
        }
    }
}
