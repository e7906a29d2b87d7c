//! The serverless profile at cloud scale, shown by structure rather than by
//! speed: every DynamoDB call goes through `tools/latency-proxy`, which adds
//! a cloud round trip (50 ms) in front of the emulator and counts the calls
//! in flight. A log that serialises its appends (one head item, one lock per
//! process) shows at once as one append in flight per process, however fast
//! or slow the emulator is.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Caller, Server, token, user};

/// Clients creating venues at once, spread over the servers.
const CLIENTS: usize = 16;
/// Venues each client creates, one after the other.
const VENUES_EACH: usize = 3;

/// The latency proxy in front of the DynamoDB emulator.
struct Proxy {
    child: Child,
    url: String,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/latency-proxy/latency_proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--upstream", upstream, "--port", "0", "--delay-ms", "50"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the proxy starts");
        let mut first = String::new();
        let stdout = child.stdout.take().expect("stdout is piped");
        BufReader::new(stdout).read_line(&mut first).expect("the proxy names its address");
        let url = first.trim().strip_prefix("listening on ").expect("the proxy's first line").to_owned();
        Proxy { child, url }
    }

    async fn reset(&self) {
        Client::new().post(format!("{}/__proxy/reset", self.url)).send().await.expect("the proxy answers");
    }

    async fn stats(&self) -> Value {
        let answer = Client::new().get(format!("{}/__proxy/stats", self.url)).send().await.expect("the proxy answers");
        answer.json().await.expect("JSON stats")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls and most in flight at once of the proxy's counters whose name
/// matches `wanted` (operation and tables, e.g. `PutItem events-…`).
fn counted(stats: &Value, wanted: impl Fn(&str) -> bool) -> (u64, u64) {
    let tables = stats["tables"].as_object().expect("per-table counts");
    tables.iter().filter(|(name, _)| wanted(name)).fold((0, 0), |(calls, most), (_, counter)| {
        let count = |field: &str| counter[field].as_u64().expect("a count");
        (calls + count("calls"), most.max(count("maxInFlight")))
    })
}

/// Two `serve` processes on one DynamoDB log, sixteen clients creating
/// distinct venues: the appends do not queue behind each other (within a
/// process or across the two), and each costs one write call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_append_to_one_dynamodb_log_in_parallel_with_one_write_per_append() {
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("scripts/services.sh names the emulator");
    ticketing_testkit::services::assert_local("AWS_ENDPOINT_URL_DYNAMODB");
    let proxy = Proxy::start(&upstream);
    let backend = Backend::aws().await;
    let Backend::Aws { serve, .. } = &backend else { unreachable!("an AWS backend") };
    let events_table = serve.iter().skip_while(|flag| *flag != "--events-table").nth(1).expect("the events table");
    let dir = tempfile::tempdir().expect("temp dir");
    let through_proxy = [("AWS_ENDPOINT_URL_DYNAMODB", proxy.url.as_str())];
    let servers = [
        Server::start_in(dir.path(), &backend, &[], &through_proxy),
        Server::start_in(dir.path(), &backend, &[], &through_proxy),
    ];
    let admin = token(dir.path(), &user(), true);
    proxy.reset().await;

    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let caller = Caller { http: Client::new(), base: servers[client % 2].base.clone(), token: Some(admin.clone()) };
        clients.push(tokio::spawn(async move {
            for venue in 0..VENUES_EACH {
                let body = json!({"name": format!("Hall {client}-{venue}"), "address": "Quay 1", "city": "Utrecht", "capacity": 900});
                caller.expect(Method::POST, "/venues", Some(body), StatusCode::CREATED).await;
            }
        }));
    }
    for client in clients {
        client.await.expect("a client does not panic");
    }
    let stats = proxy.stats().await;

    let appends = (CLIENTS * VENUES_EACH) as u64;
    let names_events =
        |name: &str| name.split(' ').nth(1).is_some_and(|tables| tables.split('+').any(|t| t == events_table));
    let (puts, puts_at_once) = counted(&stats, |name| name.starts_with("PutItem ") && names_events(name));
    let (transactions, _) = counted(&stats, |name| name.starts_with("TransactWriteItems ") && names_events(name));
    eprintln!(
        "{appends} appends: {puts} PutItem, {transactions} TransactWriteItems on the events table; at most {puts_at_once} in flight"
    );
    assert_eq!(puts + transactions, appends, "one write call per append, no retries: {stats}");
    assert_eq!(transactions, 0, "a one-event append without a command id is a single PutItem: {stats}");
    assert!(puts_at_once >= 8, "at least 8 appends in flight at once over two processes, not {puts_at_once}: {stats}");
    let (head_writes, _) = counted(&stats, |name| {
        name.contains("-log")
            && !name.starts_with("Get")
            && !name.starts_with("Query")
            && !name.starts_with("BatchGet")
            && name.starts_with("Transact")
    });
    assert_eq!(head_writes, 0, "no append writes the log table: {stats}");
    for server in servers {
        server.stop();
    }
}
