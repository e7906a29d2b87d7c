//! What an operator sees of a running `serve`: the metrics on its
//! operations address, parsed as a Prometheus server would, the JSON log
//! lines, and how a read model that stops shows on `/metrics`, `/status`
//! and `/ready`.

mod support;

use std::collections::HashMap;

use prom_text_format_parser::ValueType;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Caller, Server, concert_on_sale, eventually, token, user};

/// The series of one scrape, read with a parser of Prometheus's text format that refuses anything malformed: each
/// series (name and sorted labels) with its value, a histogram with its count.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn of(operations: &str) -> Scrape {
        let response = reqwest::get(format!("{operations}/metrics")).await.expect("the metrics answer");
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.expect("a body");
        let scrape = prom_text_format_parser::Scrape::parse(&text).expect("Prometheus's text format");
        let mut series = HashMap::new();
        for metric in scrape.metrics {
            for sample in metric.samples {
                let kept = match (metric.kind, sample.value.value_type) {
                    (prom_text_format_parser::Type::Histogram, ValueType::Count) => true,
                    (prom_text_format_parser::Type::Histogram | prom_text_format_parser::Type::Summary, _) => false,
                    (_, ValueType::Sample) => true,
                    _ => false,
                };
                if kept {
                    let mut labels: Vec<String> =
                        sample.labels.iter().map(|label| format!("{}={}", label.key, label.value)).collect();
                    labels.sort();
                    series.insert(format!("{}{{{}}}", metric.name, labels.join(",")), sample.value.value.as_f64());
                }
            }
        }
        Scrape(series)
    }

    fn value(&self, series: &str) -> f64 {
        *self.0.get(series).unwrap_or_else(|| panic!("no series {series} among {:?}", self.0.keys()))
    }
}

fn admin_and_fan(server: &Server, data_dir: &std::path::Path) -> (Caller, Caller) {
    let http = reqwest::Client::new();
    let admin = Caller { http: http.clone(), base: server.base.clone(), token: Some(token(data_dir, &user(), true)) };
    let fan = Caller { http, base: server.base.clone(), token: Some(token(data_dir, &user(), false)) };
    (admin, fan)
}

/// Reserves `quantity` tickets and checks out with `request_id`; the order's id.
async fn buy(fan: &Caller, concert_id: &str, ticket_type_id: &str, quantity: u32, request_id: &str) -> String {
    let item = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": quantity});
    fan.expect(Method::POST, "/cart/items", Some(item), StatusCode::CREATED).await;
    let response = fan
        .http
        .post(format!("{}/cart/checkout", fan.base))
        .bearer_auth(fan.token.as_deref().expect("a token"))
        .header("x-request-id", request_id)
        .send()
        .await
        .expect("checkout answers");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], request_id);
    let order: Value = response.json().await.expect("JSON");
    order["orderId"].as_str().expect("an order id").to_owned()
}

/// The ticket codes of an order.
async fn codes(fan: &Caller, order_id: &str) -> Vec<String> {
    let seen = fan.expect(Method::GET, &format!("/orders/{order_id}"), None, StatusCode::OK).await;
    let tickets = seen["tickets"].as_array().expect("tickets");
    tickets.iter().map(|ticket| ticket["code"].as_str().expect("a code").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_and_json_logs_tell_the_story_of_a_sale_and_nothing_private() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let data_dir = dir.path().join("data");
    let server = Server::start_logging_to(&data_dir, &["--metrics-addr", "127.0.0.1:0", "--log-format", "json"], log);
    let operations = server.operations.clone().expect("the operations address");
    let (admin, fan) = admin_and_fan(&server, &data_dir);

    let (concert_id, ticket_type_id) = concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 100).await;
    let first = buy(&fan, &concert_id, &ticket_type_id, 2, "story-checkout-1").await;
    let second = buy(&fan, &concert_id, &ticket_type_id, 1, "story-checkout-2").await;
    let mut codes = codes(&fan, &first).await;
    codes.extend(self::codes(&fan, &second).await);
    let door = format!("/concerts/{concert_id}/tickets/{}/check-in", codes[0]);
    admin.expect(Method::POST, &door, None, StatusCode::OK).await;
    admin.expect(Method::POST, &door, None, StatusCode::CONFLICT).await;
    let bad = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 0});
    fan.expect(Method::POST, "/cart/items", Some(bad), StatusCode::UNPROCESSABLE_ENTITY).await;

    // At rest every read model has applied the whole log.
    let scrape = eventually("the read models catch up", || async {
        let scrape = Scrape::of(&operations).await;
        let names = ["catalogue", "venues", "ticket_types", "carts", "orders", "attendees", "sales"];
        names
            .iter()
            .all(|name| scrape.value(&format!("cloudbash_read_model_lag_events{{read_model={name}}}")) == 0.0)
            .then_some(scrape)
    })
    .await;
    assert_eq!(scrape.value("cloudbash_commands_total{command=checkout,outcome=ok}"), 2.0);
    assert_eq!(scrape.value("cloudbash_commands_total{command=reserve,outcome=ok}"), 2.0);
    assert_eq!(scrape.value("cloudbash_commands_total{command=check_in,outcome=ok}"), 1.0);
    assert_eq!(scrape.value("cloudbash_commands_total{command=check_in,outcome=refused}"), 1.0);
    let head = scrape.value("cloudbash_log_head_position{}");
    assert!(head > 0.0);
    assert_eq!(scrape.value("cloudbash_read_model_position{read_model=orders}"), head);
    assert_eq!(scrape.value("cloudbash_read_model_lag_seconds{read_model=orders}"), 0.0);
    assert_eq!(scrape.value("cloudbash_read_model_failing{read_model=orders}"), 0.0);
    // The route's template, never the path with its ticket code.
    let door_route = "/concerts/{concertId}/tickets/{code}/check-in";
    assert_eq!(
        scrape.value(&format!("cloudbash_http_request_duration_seconds{{method=POST,route={door_route},status=200}}")),
        1.0
    );
    assert_eq!(
        scrape.value(&format!("cloudbash_http_request_duration_seconds{{method=POST,route={door_route},status=409}}")),
        1.0
    );
    assert_eq!(
        scrape.value("cloudbash_http_request_duration_seconds{method=POST,route=/cart/checkout,status=201}"),
        2.0
    );
    assert_eq!(scrape.value("cloudbash_http_request_duration_seconds{method=POST,route=/cart/items,status=422}"), 1.0);
    // Every command that changed something was waited for until the read models showed it.
    let appended_commands = 2.0 + 2.0 + 1.0 + 5.0; // checkouts, reservations, a check-in, the concert's set-up
    assert_eq!(scrape.value("cloudbash_read_your_writes_total{outcome=shown}"), appended_commands);
    assert_eq!(scrape.value("cloudbash_read_your_writes_wait_seconds{}"), appended_commands);
    // One request at a time: each of those commands appended alone, in a round of one.
    assert_eq!(scrape.value("cloudbash_append_duration_seconds{}"), appended_commands);
    assert_eq!(scrape.value("cloudbash_round_commands{}"), appended_commands);
    assert!(!scrape.0.contains_key("cloudbash_read_your_writes_total{outcome=timeout}"));
    server.stop();

    let text = std::fs::read_to_string(&log_path).expect("the log");
    for private in
        codes.iter().map(String::as_str).chain([admin.token.as_deref(), fan.token.as_deref()].into_iter().flatten())
    {
        assert!(!text.contains(private), "the log holds a ticket code or a token: {private}");
    }
    assert!(!text.contains('@'), "the log holds no e-mail address");
    let lines: Vec<Value> =
        text.lines().map(|line| serde_json::from_str(line).expect("each line is one JSON object")).collect();
    let request_of = |line: &Value| -> Option<String> {
        let spans = line["spans"].as_array()?;
        spans
            .iter()
            .find(|span| span["name"] == "request")
            .map(|span| span["request_id"].as_str().expect("an id").to_owned())
    };
    for id in ["story-checkout-1", "story-checkout-2"] {
        let of_request: Vec<&Value> = lines.iter().filter(|line| request_of(line).as_deref() == Some(id)).collect();
        let messages: Vec<&str> = of_request.iter().filter_map(|line| line["fields"]["message"].as_str()).collect();
        assert_eq!(messages, ["command answered", "request served"], "the lines of {id}");
        assert_eq!(of_request[0]["spans"][1]["command"], "checkout");
        assert_eq!(of_request[1]["fields"]["status"], 201);
        assert_eq!(of_request[1]["spans"][0]["route"], "/cart/checkout");
    }
    // Every line written while a request was served names it: a command's and a request's lines alike.
    let served =
        lines.iter().filter(|line| line["target"].as_str().is_some_and(|target| target.starts_with("ticketing_")));
    for line in served {
        assert!(request_of(line).is_some(), "a line of a request without its id: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_that_stops_shows_its_growing_lag_and_error_until_it_is_taken_out_of_traffic() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("a log file");
    let data_dir = dir.path().join("data");
    let flags = ["--metrics-addr", "127.0.0.1:0", "--ready-lag-max-secs", "2"];
    let server = Server::start_logging_to(&data_dir, &flags, log);
    let operations = server.operations.clone().expect("the operations address");
    let (admin, fan) = admin_and_fan(&server, &data_dir);
    let (concert_id, ticket_type_id) = concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 100).await;

    // The orders read model can no longer write: its batches fail, the others go on.
    let read_models = rusqlite::Connection::open(data_dir.join("cloudbash-read-models.db")).expect("the read models");
    read_models
        .execute_batch(
            "CREATE TRIGGER stop_orders BEFORE INSERT ON orders_g1 BEGIN SELECT RAISE(ABORT, 'orders stopped'); END;",
        )
        .expect("a trigger");
    buy(&fan, &concert_id, &ticket_type_id, 1, "after-the-stop").await;

    let scrape = eventually("the orders read model fails", || async {
        let scrape = Scrape::of(&operations).await;
        (scrape.value("cloudbash_read_model_failing{read_model=orders}") == 1.0).then_some(scrape)
    })
    .await;
    assert!(scrape.value("cloudbash_read_model_lag_events{read_model=orders}") >= 1.0);
    assert_eq!(scrape.value("cloudbash_read_model_lag_events{read_model=sales}"), 0.0);
    let status: Value = reqwest::get(format!("{operations}/status")).await.expect("status").json().await.expect("JSON");
    let orders = status["readModels"]
        .as_array()
        .expect("read models")
        .iter()
        .find(|model| model["name"] == "orders")
        .cloned()
        .expect("orders");
    assert!(orders["lastError"].as_str().expect("an error").contains("orders stopped"), "{orders}");
    // The person on call sees it too.
    let printed = std::process::Command::new(support::BINARY).args(["status", "--url", &operations]).output();
    let printed = String::from_utf8(printed.expect("status runs").stdout).expect("UTF-8");
    let line = printed.lines().find(|line| line.starts_with("orders ")).expect("a line for orders");
    assert!(line.contains("orders stopped"), "{printed}");

    // Its lag in seconds grows, on /metrics and /ready, until /ready takes the server out of traffic.
    let ready = format!("{}/ready", server.base);
    let response = reqwest::get(&ready).await.expect("ready");
    if response.status() == StatusCode::OK {
        let answer: Value = response.json().await.expect("JSON");
        let models = answer["readModels"].as_array().expect("read models");
        let orders = models.iter().find(|model| model["name"] == "orders").expect("orders");
        assert!(orders["lagEvents"].as_u64().expect("a count") >= 1, "{answer}");
    }
    let refused = eventually("/ready says no", || async {
        let response = reqwest::get(&ready).await.expect("ready");
        (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
    })
    .await;
    let problem: Value = refused.json().await.expect("a problem");
    assert!(problem["detail"].as_str().expect("a detail").contains("read model orders"), "{problem}");
    let later = Scrape::of(&operations).await;
    assert!(later.value("cloudbash_read_model_lag_seconds{read_model=orders}") > 2.0);

    // Once it can write again, it catches up and the server is ready.
    read_models.execute_batch("DROP TRIGGER stop_orders;").expect("the trigger goes");
    eventually("the server is ready again", || async {
        (reqwest::get(&ready).await.expect("ready").status() == StatusCode::OK).then_some(())
    })
    .await;
    let caught_up = Scrape::of(&operations).await;
    assert_eq!(caught_up.value("cloudbash_read_model_lag_events{read_model=orders}"), 0.0);
    assert_eq!(caught_up.value("cloudbash_read_model_failing{read_model=orders}"), 0.0);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_aws_backends_each_consumer_of_the_bus_reports_its_lag() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let backend = Backend::aws().await;
    let server = Server::start_with(dir.path(), &backend, &["--metrics-addr", "127.0.0.1:0"]);
    let operations = server.operations.clone().expect("the operations address");
    let (admin, _) = admin_and_fan(&server, dir.path());
    concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 10).await;

    // Each poller reports after every read; caught up, each is 0 seconds behind.
    eventually("every consumer reports its lag", || async {
        let scrape = Scrape::of(&operations).await;
        let lag = |consumer: &str| {
            scrape.0.get(&format!("cloudbash_bus_consumer_lag_seconds{{consumer={consumer}}}")).copied()
        };
        ["indexer", "forwarder", "kinesis"].iter().all(|consumer| lag(consumer) == Some(0.0)).then_some(())
    })
    .await;
    server.stop();
}

/// A stand-in OpenTelemetry collector: keeps the body of every OTLP/HTTP export of traces.
async fn collector() -> (String, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&received);
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| async move {
            kept.lock().expect("not poisoned").extend_from_slice(&body);
            // An empty ExportTraceServiceResponse: everything was accepted.
            ([(axum::http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::new())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_collector_each_request_and_command_is_sent_as_a_span_of_its_trace() {
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Quiet log lines (the support's RUST_LOG=warn) do not make the traces any thinner.
    let env = [("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let server = Server::start_in(dir.path(), &Backend::Embedded, &["--otlp-endpoint", &endpoint], &env);
    let (admin, fan) = admin_and_fan(&server, dir.path());
    let (concert_id, ticket_type_id) = concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 10).await;
    buy(&fan, &concert_id, &ticket_type_id, 1, "trace-me-1").await;

    // Protobuf keeps strings as they are: the spans' names and attributes can be looked for in the bytes.
    let holds = |text: &str| {
        let bytes = received.lock().expect("not poisoned");
        bytes.windows(text.len()).any(|window| window == text.as_bytes())
    };
    eventually("the checkout's spans reach the collector", || async {
        ["trace-me-1", "/cart/checkout", "checkout", "command", "cloudbash"]
            .iter()
            .all(|text| holds(text))
            .then_some(())
    })
    .await;
    server.stop();
}
