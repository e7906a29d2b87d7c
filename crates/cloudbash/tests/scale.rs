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

use std::sync::Arc;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::{Backend, Caller, Server, concert_on_sale, eventually, token, user};

/// Fans racing for one concert's tickets, spread over four servers.
const FANS: usize = 400;
/// The concert's tickets.
const TICKETS: u32 = 100;

/// Clients creating venues at once, spread over the servers.
const CLIENTS: usize = 16;
/// Venues each client creates, one after the other.
const VENUES_EACH: usize = 3;

/// The cases take turns: each counts calls in flight, and the other's four
/// servers and 400 fans beside it starve its clients of CPU (seen as 7 of 16
/// appends in flight on a loaded machine), which measures the machine rather
/// than the design.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The latency proxy in front of the DynamoDB emulator.
struct Proxy {
    child: Child,
    url: String,
}

impl Proxy {
    /// The proxy in front of the DynamoDB emulator that `scripts/services.sh` started.
    fn in_front_of_the_emulator() -> Proxy {
        let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("scripts/services.sh names the emulator");
        ticketing_testkit::services::assert_local("AWS_ENDPOINT_URL_DYNAMODB");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/latency-proxy/latency_proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--upstream", upstream.as_str(), "--port", "0", "--delay-ms", "50"])
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
    let _alone = ONE_AT_A_TIME.lock().await;
    let proxy = Proxy::in_front_of_the_emulator();
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
    for server in &servers {
        let ready = Caller { http: Client::new(), base: server.base.clone(), token: None };
        ready.expect(Method::GET, "/ready", None, StatusCode::OK).await;
    }
    proxy.reset().await;

    // Every client connects first and then starts with the others, so that
    // connection set-up on a loaded machine does not spread their appends out.
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let caller = Caller { http: Client::new(), base: servers[client % 2].base.clone(), token: Some(admin.clone()) };
        let start = Arc::clone(&start);
        clients.push(tokio::spawn(async move {
            caller.expect(Method::GET, "/ready", None, StatusCode::OK).await;
            start.wait().await;
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

/// Four `serve` processes on one DynamoDB log, 400 fans racing for the 100
/// tickets of one concert: exactly 100 are sold, every other fan hears "sold
/// out", nobody gets a 5xx; and the concert's holds are not queued behind one
/// stream version: its buckets take appends from several processes at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_servers_sell_one_hot_concert_side_by_side_and_never_oversell() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let proxy = Proxy::in_front_of_the_emulator();
    let backend = Backend::aws().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let through_proxy = [("AWS_ENDPOINT_URL_DYNAMODB", proxy.url.as_str())];
    // One process runs the bus; the others serve requests only, as containers behind a load balancer would. The
    // emulator answers a few hundred calls a second, all of them under one lock, so the race takes it a minute
    // where DynamoDB would take seconds: the requests get the time it needs.
    let servers: Vec<Server> = (0..4)
        .map(|index| {
            let flags: &[&str] = if index == 0 {
                &["--request-timeout-secs", "180"]
            } else {
                &["--request-timeout-secs", "180", "--no-bus"]
            };
            Server::start_in(dir.path(), &backend, flags, &through_proxy)
        })
        .collect();
    let admin =
        Caller { http: Client::new(), base: servers[0].base.clone(), token: Some(token(dir.path(), &user(), true)) };
    let (concert_id, ticket_type_id) = concert_on_sale(&admin, "Hot Show", "Utrecht", TICKETS).await;
    let fans: Vec<Caller> = (0..FANS)
        .map(|fan| Caller {
            http: Client::new(),
            base: servers[fan % servers.len()].base.clone(),
            token: Some(token(dir.path(), &user(), false)),
        })
        .collect();
    proxy.reset().await;

    let attempts = fans.into_iter().map(|fan| {
        let body = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 1});
        tokio::spawn(async move {
            let (status, problem) = fan.send(Method::POST, "/cart/items", Some(body)).await;
            if status != StatusCode::CREATED {
                return (status, problem);
            }
            fan.send(Method::POST, "/cart/checkout", None).await
        })
    });
    let (mut orders, mut sold_out, mut unexpected) = (0, 0, Vec::new());
    for attempt in attempts.collect::<Vec<_>>() {
        let (status, body) = attempt.await.expect("a fan's task");
        match status {
            StatusCode::CREATED => orders += 1,
            StatusCode::CONFLICT => sold_out += 1,
            other => unexpected.push(format!("{other}: {body}")),
        }
    }
    let stats = proxy.stats().await;
    assert!(
        unexpected.is_empty(),
        "{} unexpected answers, the first {:?}: {stats}",
        unexpected.len(),
        unexpected.first()
    );
    assert_eq!((orders, sold_out), (TICKETS as usize, FANS - TICKETS as usize));

    // Every write of the race was a fan's hold or checkout on this concert.
    let (transactions, at_once) = counted(&stats, |name| name.starts_with("TransactWriteItems "));
    eprintln!("{orders} orders from {FANS} fans: {transactions} transactions, at most {at_once} in flight");
    assert!(at_once >= 4, "the concert takes at least 4 appends at once, not {at_once}: {stats}");

    let concert_uri = format!("/concerts/{concert_id}");
    eventually("no ticket is left", || async {
        let concert = admin.expect(Method::GET, &concert_uri, None, StatusCode::OK).await;
        (concert["ticketTypes"][0]["available"] == 0).then_some(())
    })
    .await;
    let attendees_uri = format!("/concerts/{concert_id}/attendees?limit=100");
    eventually("100 attendees", || async {
        let attendees = admin.expect(Method::GET, &attendees_uri, None, StatusCode::OK).await;
        (attendees["items"].as_array().expect("attendees").len() == TICKETS as usize).then_some(())
    })
    .await;
    for server in servers {
        server.stop();
    }
}
