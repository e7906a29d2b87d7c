//! `cloudbash status` as an operator runs it: with `--data-dir` beside a
//! running `serve`, after it has stopped, and on a data directory whose read
//! models are behind its log; with the AWS backends' flags; and with `--url`,
//! reading what a running process serves. It must see what the shop has
//! done, and leave the directory as it found it.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::Utc;
use es_core::{AggregateId, AppendRequest, EventId, EventStore, ExpectedVersion, Metadata, NewEvent, Version};
use es_sqlite::{DATABASE_FILE, Durability, SqliteEventStore};
use reqwest::Client;
use serde_json::Value;
use support::{BINARY, Backend, Caller, Server, concert_on_sale, eventually, token, user};

/// Every read model of the embedded shop.
const READ_MODELS: [&str; 7] = ["catalogue", "venues", "ticket_types", "carts", "orders", "attendees", "sales"];

/// `cloudbash status` with `flags`, its output parsed when `--json` is among them.
fn status(data_dir: &Path, flags: &[&str]) -> String {
    let output =
        Command::new(BINARY).arg("status").arg("--data-dir").arg(data_dir).args(flags).output().expect("status runs");
    assert!(output.status.success(), "status: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

fn status_json(data_dir: &Path) -> Value {
    serde_json::from_str(&status(data_dir, &["--json"])).expect("JSON")
}

/// Each read model's (position, lag in events, lag in seconds), by name.
fn read_models(status: &Value) -> BTreeMap<String, (u64, u64, f64)> {
    status["readModels"]
        .as_array()
        .expect("read models")
        .iter()
        .map(|model| {
            let figures = (
                model["position"].as_u64().expect("a position"),
                model["lagEvents"].as_u64().expect("a lag in events"),
                model["lagSeconds"].as_f64().expect("a lag in seconds"),
            );
            (model["name"].as_str().expect("a name").to_owned(), figures)
        })
        .collect()
}

/// Names, sizes and modification times of the files in `dir`; of a WAL's shared-memory file (`-shm`), which
/// every reader beside a WAL writes its read mark into, the name only.
fn files(dir: &Path) -> BTreeMap<String, Option<(u64, std::time::SystemTime)>> {
    std::fs::read_dir(dir)
        .expect("the directory lists")
        .map(|entry| {
            let entry = entry.expect("an entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let metadata = entry.metadata().expect("metadata");
            let contents = (!name.ends_with("-shm")).then(|| (metadata.len(), metadata.modified().expect("mtime")));
            (name, contents)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_every_read_model_caught_up_beside_a_running_shop_and_after_it_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &Backend::Embedded);
    let admin =
        Caller { http: Client::new(), base: server.base.clone(), token: Some(token(dir.path(), &user(), true)) };
    concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 100).await;

    let running = eventually("every read model caught up", || async {
        let found = status_json(dir.path());
        read_models(&found).values().all(|&(_, lag, _)| lag == 0).then_some(found)
    })
    .await;
    let head = running["head"].as_u64().expect("a head");
    assert!(head >= 5, "a venue, a concert, a ticket type, a schedule and a publication: {head}");
    let expected: BTreeMap<String, (u64, u64, f64)> =
        READ_MODELS.iter().map(|name| ((*name).to_owned(), (head, 0, 0.0))).collect();
    assert_eq!(read_models(&running), expected);
    assert_eq!(running["source"], "files");
    assert!(running["readModels"][0].get("lastError").is_none(), "read from files the last error is not known");

    server.stop();
    let before = files(dir.path());
    assert_eq!(read_models(&status_json(dir.path())), expected, "the same after the shop stopped");
    let table = status(dir.path(), &[]);
    assert!(table.starts_with(&format!("log head: {head} (read from the files)\n")), "{table}");
    assert_eq!(table.matches("unknown (read from files)").count(), READ_MODELS.len(), "{table}");
    assert_eq!(files(dir.path()), before, "status changed no database or WAL and made no file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_behind_the_log_shows_how_many_events_and_how_long() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &Backend::Embedded);
    let admin =
        Caller { http: Client::new(), base: server.base.clone(), token: Some(token(dir.path(), &user(), true)) };
    concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 100).await;
    server.stop();
    let caught_up = status_json(dir.path())["head"].as_u64().expect("a head");

    // Two events reach the log while no read model runs, the first recorded a minute ago.
    let store = SqliteEventStore::open(dir.path().join(DATABASE_FILE), Durability::Normal).expect("the log opens");
    let minute_ago = es_core::truncate_to_millis(Utc::now() - chrono::Duration::seconds(60));
    let events = [minute_ago, es_core::truncate_to_millis(Utc::now())].map(|created| NewEvent {
        event_id: EventId::random(),
        event_type: "StatusProbed".into(),
        schema_version: 1,
        data: "{}".into(),
        created,
        metadata: Metadata::default(),
    });
    let append = AppendRequest::single(AggregateId::random(), ExpectedVersion::Exact(Version(0)), events.to_vec());
    store.append(append).await.expect("the append succeeds");
    store.close().await;
    drop(store);

    let behind = status_json(dir.path());
    assert_eq!(behind["head"].as_u64(), Some(caught_up + 2));
    for (name, (position, lag_events, lag_seconds)) in read_models(&behind) {
        assert_eq!((position, lag_events), (caught_up, 2), "{name}");
        assert!((60.0..3_600.0).contains(&lag_seconds), "{name} lags since the older event: {lag_seconds}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_aws_backends_status_shows_the_index_head_and_each_read_model_caught_up() {
    let backend = Backend::aws().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &backend);
    let admin =
        Caller { http: Client::new(), base: server.base.clone(), token: Some(token(dir.path(), &user(), true)) };
    concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 100).await;
    let serve = backend.serve_flags();
    let carts = serve.iter().position(|flag| flag == "--carts-table").map(|at| serve[at + 1].as_str());
    let mut flags: Vec<&str> = backend.rebuild_flags().iter().map(String::as_str).collect();
    flags.extend(["--carts-table", carts.expect("the carts table"), "--json"]);

    let found = eventually("the log indexed and every read model caught up", || async {
        let found: Value = serde_json::from_str(&status(dir.path(), &flags)).expect("JSON");
        let models = found["readModels"].as_array().expect("read models");
        let caught_up = models.iter().all(|model| model["lagEvents"] == 0);
        (found["head"].as_u64() >= Some(5) && caught_up).then_some(found)
    })
    .await;
    assert_eq!(found["source"], "aws");
    let names: Vec<&str> = found["readModels"]
        .as_array()
        .expect("read models")
        .iter()
        .map(|model| {
            assert!(model["position"].is_null(), "no position on the bus: {model}");
            assert_eq!(model["lagSeconds"], 0.0);
            model["name"].as_str().expect("a name")
        })
        .collect();
    assert_eq!(names, ["carts", "catalogue", "venues", "ticket_types", "orders", "attendees", "sales"]);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_url_status_shows_what_the_running_process_serves_last_errors_included() {
    let served = serde_json::json!({"head": 9, "readModels": [
        {"name": "catalogue", "position": 9, "lagEvents": 0, "lagSeconds": 0.0, "lastError": null},
        {"name": "sales", "position": 6, "lagEvents": 3, "lagSeconds": 2.5, "lastError": "disk full"}
    ]});
    let app = axum::Router::new().route("/status", axum::routing::get(move || async move { axum::Json(served) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let nowhere = tempfile::tempdir().expect("temp dir");
    let run = |flags: Vec<String>| {
        let data_dir = nowhere.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            status(&data_dir, &flags)
        })
    };

    let table = run(vec!["--url".into(), url.clone()]).await.expect("status ran");
    assert!(table.starts_with("log head: 9 (reported by the running process)\n"), "{table}");
    assert!(table.lines().any(|line| line.starts_with("sales") && line.ends_with("  disk full")), "{table}");
    assert!(table.lines().any(|line| line.starts_with("catalogue") && line.ends_with("  none")), "{table}");
    let json: Value =
        serde_json::from_str(&run(vec!["--url".into(), url, "--json".into()]).await.expect("ran")).expect("JSON");
    assert_eq!(json["source"], "process");
    assert_eq!(json["readModels"][1]["lastError"], "disk full");
    assert!(files(nowhere.path()).is_empty(), "the data directory is not read");
}

#[test]
fn a_directory_without_a_shop_is_an_error_and_stays_empty() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(BINARY).arg("status").arg("--data-dir").arg(dir.path()).output().expect("status runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("there is no log"), "{output:?}");
    assert!(files(dir.path()).is_empty(), "nothing created");
}
