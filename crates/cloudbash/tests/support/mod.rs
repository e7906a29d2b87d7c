//! What the tests of the real binary share: a running `cloudbash serve`,
//! the backends it runs on (fresh tables, stream and database on the local
//! services for the AWS configuration), tokens, and an HTTP caller.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

pub const BINARY: &str = env!("CARGO_BIN_EXE_cloudbash");

/// A running `cloudbash serve`.
pub struct Server {
    child: Child,
    pub base: String,
    /// Where `/metrics` and `/status` are served, when asked for with `--metrics-addr`.
    pub operations: Option<String>,
}

/// The backends a shop runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Embedded,
    /// The AWS configuration: `serve` flags, and `rebuild` flags.
    Aws {
        serve: Vec<String>,
        rebuild: Vec<String>,
    },
}

impl Backend {
    /// Fresh tables, stream and database on the local services, provisioned
    /// with `cloudbash aws provision` as a developer would.
    pub async fn aws() -> Backend {
        for variable in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "AWS_ENDPOINT_URL_KINESIS"] {
            ticketing_testkit::services::assert_local(variable);
        }
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (events, stream, carts) =
            (format!("events-{unique}"), format!("stream-{unique}"), format!("carts-{unique}"));
        let provisioned = Command::new(BINARY)
            .args(["aws", "provision", "--bus", "kinesis", "--events-table", &events, "--stream", &stream])
            .args(["--carts-table", &carts])
            .output()
            .expect("cloudbash runs");
        assert!(provisioned.status.success(), "provision: {}", String::from_utf8_lossy(&provisioned.stderr));
        let database_url = ticketing_testkit::services::fresh_database("shop").await;
        let serve = [
            "--event-store",
            "dynamodb",
            "--events-table",
            &events,
            "--bus",
            "kinesis",
            "--stream",
            &stream,
            "--read-db",
            "postgres",
            "--database-url",
            &database_url,
            "--cart-store",
            "dynamodb",
            "--carts-table",
            &carts,
        ];
        let rebuild = [
            "--event-store",
            "dynamodb",
            "--events-table",
            &events,
            "--read-db",
            "postgres",
            "--database-url",
            &database_url,
        ];
        Backend::Aws {
            serve: serve.iter().map(|flag| (*flag).to_owned()).collect(),
            rebuild: rebuild.iter().map(|flag| (*flag).to_owned()).collect(),
        }
    }

    pub fn serve_flags(&self) -> &[String] {
        match self {
            Backend::Embedded => &[],
            Backend::Aws { serve, .. } => serve,
        }
    }

    pub fn rebuild_flags(&self) -> &[String] {
        match self {
            Backend::Embedded => &[],
            Backend::Aws { rebuild, .. } => rebuild,
        }
    }
}

impl Server {
    pub fn start(data_dir: &Path, backend: &Backend) -> Server {
        Server::start_with(data_dir, backend, &[])
    }

    pub fn start_with(data_dir: &Path, backend: &Backend, flags: &[&str]) -> Server {
        Server::start_in(data_dir, backend, flags, &[])
    }

    /// A server with extra flags and environment variables.
    pub fn start_in(data_dir: &Path, backend: &Backend, flags: &[&str], env: &[(&str, &str)]) -> Server {
        Server::spawn(data_dir, backend, flags, env, None)
    }

    /// A server whose log lines (standard error, at the level `serve` chooses) go to `log`.
    pub fn start_logging_to(data_dir: &Path, flags: &[&str], log: std::fs::File) -> Server {
        Server::spawn(data_dir, &Backend::Embedded, flags, &[], Some(log))
    }

    fn spawn(
        data_dir: &Path,
        backend: &Backend,
        flags: &[&str],
        env: &[(&str, &str)],
        log: Option<std::fs::File>,
    ) -> Server {
        let mut command = Command::new(BINARY);
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(backend.serve_flags())
            .args(flags)
            .stdout(Stdio::piped());
        match log {
            Some(log) => command.stderr(Stdio::from(log)),
            None => command.env("RUST_LOG", "warn").stderr(Stdio::inherit()),
        };
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("cloudbash starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout);
        let mut first = String::new();
        lines.read_line(&mut first).expect("the banner is readable");
        let base = first.trim().strip_prefix("listening on ").expect("the first line names the address").to_owned();
        let mut operations = None;
        if flags.contains(&"--metrics-addr") {
            let mut line = String::new();
            while lines.read_line(&mut line).expect("the banner is readable") > 0 {
                if let Some(rest) = line.trim().strip_prefix("metrics:") {
                    let url = rest.split_whitespace().next().expect("the metrics line names the address");
                    operations = Some(url.trim_end_matches("/metrics").to_owned());
                    break;
                }
                line.clear();
            }
        }
        // Keep reading what the server prints, as a terminal would.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        Server { child, base, operations }
    }

    /// Stops the server the way an operator does (SIGTERM) and waits.
    pub fn stop(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("the server exits");
        assert!(exit.success(), "graceful shutdown ends with success, not {exit}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn token(data_dir: &Path, sub: &str, admin: bool) -> String {
    let mut command = Command::new(BINARY);
    command.args(["token", "--data-dir"]).arg(data_dir).args(["--sub", sub]);
    if admin {
        command.arg("--admin");
    }
    let output = command.output().expect("cloudbash token runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

pub fn user() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// One client of the API with a bearer token.
#[derive(Clone)]
pub struct Caller {
    pub http: Client,
    pub base: String,
    pub token: Option<String>,
}

impl Caller {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") };
        (status, body)
    }

    pub async fn expect(&self, method: Method, path: &str, body: Option<Value>, status: StatusCode) -> Value {
        let (actual, body) = self.send(method.clone(), path, body).await;
        assert_eq!(actual, status, "{method} {path}: {body}");
        body
    }
}

/// How long the read side may take to show what was committed when the
/// emulators are loaded by the whole suite (read-your-writes gives up after
/// 2 s and answers anyway).
pub const CONVERGE_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// Asks `check` until it answers, or fails after [`CONVERGE_MAX`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + CONVERGE_MAX;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: not so after {CONVERGE_MAX:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Creates a venue and a published concert with one ticket type.
pub async fn concert_on_sale(admin: &Caller, name: &str, city: &str, quantity: u32) -> (String, String) {
    let venue = admin
        .expect(
            Method::POST,
            "/venues",
            Some(json!({"name": format!("{name} Hall"), "address": "Main Street 1", "city": city, "capacity": 5000})),
            StatusCode::CREATED,
        )
        .await;
    let concert = admin
        .expect(
            Method::POST,
            "/concerts",
            Some(json!({"name": name, "venueId": venue["id"], "genre": "rock"})),
            StatusCode::CREATED,
        )
        .await;
    let concert_id = concert["id"].as_str().expect("an id").to_owned();
    let ticket_type = admin
        .expect(
            Method::POST,
            &format!("/concerts/{concert_id}/ticket-types"),
            Some(json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": quantity})),
            StatusCode::CREATED,
        )
        .await;
    admin
        .expect(
            Method::POST,
            &format!("/concerts/{concert_id}/schedule"),
            Some(json!({"startsAt": "2031-06-01T20:00:00Z", "endsAt": "2031-06-01T23:00:00Z"})),
            StatusCode::OK,
        )
        .await;
    admin.expect(Method::POST, &format!("/concerts/{concert_id}/publish"), None, StatusCode::OK).await;
    (concert_id, ticket_type["id"].as_str().expect("an id").to_owned())
}
