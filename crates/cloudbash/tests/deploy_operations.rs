//! The AWS deployment (`deploy/template.yaml`) held to what an operator needs: every function is traced and writes
//! JSON log lines, the API's access log names the invocation that served each request, and the bus falling behind,
//! read-your-writes timing out and the API answering 5xx each raise an alarm on the alarm topic, beside a dashboard
//! of the functions' figures.

mod template;

use template::{Node, functions, owned, pairs, property, resource, resources, template};

// ---------------------------------------------------------------------------------------------------------------
// Operability: traces, log lines, alarms.
// ---------------------------------------------------------------------------------------------------------------

/// A function's own setting at `path`, else the one the template's Globals give every function.
fn function_setting<'a>(template: &'a Node, function: &'a Node, path: &[&str]) -> Option<&'a str> {
    property(function, path).or_else(|| template.at(&["Globals", "Function"])?.at(path)?.text())
}

#[test]
fn every_function_is_traced_and_writes_json_log_lines_to_its_own_log_group() {
    let template = template();
    let mut count = 0;
    for (id, function) in functions(&template) {
        count += 1;
        assert_eq!(function_setting(&template, function, &["Tracing"]), Some("Active"), "{id}: X-Ray tracing");
        assert_eq!(function_setting(&template, function, &["LoggingConfig", "LogFormat"]), Some("JSON"), "{id}");
        assert!(property(function, &["LoggingConfig", "LogGroup", "Ref"]).is_some(), "{id}: its own log group");
    }
    assert!(count >= 6, "the API's functions, the forwarder, the indexer, the projector, hold expiry, migrate");
}

#[test]
fn an_access_log_line_names_the_lambda_invocation_that_served_it() {
    let template = template();
    let format = property(resource(&template, "HttpApi"), &["AccessLogSettings", "Format"]).expect("an access log");
    let line: serde_json::Value = serde_json::from_str(format).expect("the access log format is a JSON object");
    assert_eq!(line["requestId"], "$context.requestId");
    assert_eq!(line["lambdaRequestId"], "$context.integration.requestId", "joins the function's log lines");
}

/// The `CLOUDBASH_FUNCTION` of every function: the values of the `Function` dimension of the functions' metrics.
fn function_names(template: &Node) -> Vec<String> {
    let mut names: Vec<String> = functions(template)
        .filter_map(|(_, function)| {
            function_setting(template, function, &["Environment", "Variables", "CLOUDBASH_FUNCTION"])
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// An alarm: its logical id, the resource, and its dimensions as `(name, value)`, sorted.
type Alarm<'a> = (&'a str, &'a Node, Vec<(String, String)>);

/// The alarms on `metric` of `namespace`, with their dimensions as `(name, value)`, sorted.
fn alarms_on<'a>(template: &'a Node, namespace: &str, metric: &str) -> Vec<Alarm<'a>> {
    resources(template)
        .iter()
        .filter(|(_, resource)| resource.get("Type").and_then(Node::text) == Some("AWS::CloudWatch::Alarm"))
        .filter(|(_, alarm)| property(alarm, &["Namespace"]) == Some(namespace))
        .filter(|(_, alarm)| property(alarm, &["MetricName"]) == Some(metric))
        .map(|(id, alarm)| {
            let mut dimensions = pairs(alarm.at(&["Properties", "Dimensions"]), "Name", "Value");
            dimensions.sort();
            (id.as_str(), alarm, dimensions)
        })
        .collect()
}

/// Whether `alarm` notifies the stack's alarm topic.
fn notifies_the_alarm_topic(alarm: &Node) -> bool {
    let actions = alarm.at(&["Properties", "AlarmActions"]).map(Node::items).unwrap_or_default();
    actions.iter().any(|action| action.get("Ref").and_then(Node::text) == Some("AlarmTopic"))
}

#[test]
fn the_read_models_falling_behind_the_bus_raises_an_alarm_from_the_projector_s_own_figure() {
    let template = template();
    let alarms = alarms_on(&template, "Cloudbash", "cloudbash_bus_consumer_lag_seconds");
    let projector = owned(&[("Function", "projector"), ("consumer", "projector")]);
    let (id, alarm, _) =
        alarms.iter().find(|(_, _, dimensions)| *dimensions == projector).expect("a projector lag alarm");
    assert!(function_names(&template).contains(&"projector".to_owned()), "a function is the projector");
    assert!(notifies_the_alarm_topic(alarm), "{id}");
    assert_eq!(property(alarm, &["Statistic"]), Some("Maximum"), "{id}");
    let threshold: f64 = property(alarm, &["Threshold"]).and_then(|value| value.parse().ok()).expect("a threshold");
    assert!(threshold <= 60.0, "{id}: a minute behind at most, in seconds: {threshold}");
}

#[test]
fn a_read_your_writes_timeout_raises_an_alarm() {
    let template = template();
    let alarms = alarms_on(&template, "Cloudbash", "cloudbash_read_your_writes_total");
    let timeouts = owned(&[("Function", "api"), ("outcome", "timeout")]);
    let (id, alarm, _) = alarms.iter().find(|(_, _, dimensions)| *dimensions == timeouts).expect("a timeout alarm");
    assert!(function_names(&template).contains(&"api".to_owned()), "a function is the API");
    assert!(notifies_the_alarm_topic(alarm), "{id}");
    assert_eq!(property(alarm, &["Statistic"]), Some("Sum"), "{id}");
    assert_eq!(property(alarm, &["Threshold"]), Some("0"), "{id}: the first timeout");
    assert_eq!(property(alarm, &["ComparisonOperator"]), Some("GreaterThanThreshold"), "{id}");
    assert!(property(alarm, &["Period"]).and_then(|period| period.parse::<u32>().ok()).is_some_and(|p| p <= 300));
}

#[test]
fn the_api_answering_5xx_raises_an_alarm() {
    let template = template();
    let alarms = alarms_on(&template, "AWS/ApiGateway", "5xx");
    let (id, alarm, _) = alarms.first().expect("an alarm on the API's 5xx");
    assert_eq!(alarm.at(&["Properties", "Dimensions"]).map(Node::items).unwrap_or_default().len(), 1, "{id}");
    let api = alarm.at(&["Properties", "Dimensions"]).map(Node::items).unwrap_or_default()[0];
    assert_eq!(api.at(&["Value", "Ref"]).and_then(Node::text), Some("HttpApi"), "{id}: the stack's API");
    assert!(notifies_the_alarm_topic(alarm), "{id}");
}

#[test]
fn the_dashboard_shows_the_api_the_commands_the_lag_read_your_writes_and_hold_expiry() {
    let template = template();
    let dashboard = resource(&template, "Dashboard");
    let body = dashboard.at(&["Properties", "DashboardBody", "Fn::Sub"]).and_then(Node::text).expect("a body");
    let body: serde_json::Value =
        serde_json::from_str(&body.replace("${AWS::Region}", "eu-west-1").replace("${HttpApi}", "api"))
            .expect("the dashboard's body is JSON");
    let text = body.to_string();
    for shown in [
        "\"5xx\"",
        "\"Latency\"",
        "cloudbash_http_request_duration_seconds",
        "cloudbash_commands_total",
        "cloudbash_append_duration_seconds",
        "cloudbash_bus_consumer_lag_seconds",
        "cloudbash_read_your_writes_total",
        "cloudbash_holds_expired_total",
    ] {
        assert!(text.contains(shown), "the dashboard shows {shown}");
    }
}
