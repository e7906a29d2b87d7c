//! `cloudbash bench` as a user runs it, every scenario at a tiny size: the
//! built binary with `--json`, each line parsed. These check that the
//! scenarios run and that what they report holds together (every command
//! accounted for, nothing oversold, the log and the read models agreeing),
//! not how fast anything is.

use std::process::Command;

use serde_json::Value;

/// Runs `cloudbash bench <args> --json` and returns its lines as JSON.
fn bench(args: &[&str]) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_cloudbash"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .env("RUST_LOG", "warn")
        .output()
        .expect("cloudbash runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench {args:?} failed: {stderr}");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))).collect()
}

fn number(line: &Value, field: &str) -> f64 {
    line[field].as_f64().unwrap_or_else(|| panic!("{field} is not a number in {line}"))
}

/// The fields every line carries.
fn assert_common_fields(line: &Value, scenario: &str) {
    assert_eq!(line["scenario"], scenario, "{line}");
    for field in ["ops", "seconds", "opsPerSec", "p50Ms", "p99Ms"] {
        assert!(number(line, field) >= 0.0, "{field} in {line}");
    }
    assert!(number(line, "p50Ms") <= number(line, "p99Ms"), "p50 above p99 in {line}");
}

#[test]
fn append_acknowledges_every_command_and_the_log_holds_every_event() {
    let lines = bench(&["append", "--aggregates", "20", "--events-per-aggregate", "3", "--writers", "4"]);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_common_fields(line, "append");
    assert_eq!(line["ops"], 60);
    assert_eq!(line["events"], 60);
    assert_eq!(line["writers"], 4);
    assert_eq!(line["sync"], "full");
}

#[test]
fn append_batch_writes_ten_events_per_command() {
    let args =
        ["append-batch", "--aggregates", "10", "--events-per-aggregate", "20", "--writers", "2", "--sync", "normal"];
    let line = &bench(&args)[0];
    assert_common_fields(line, "append-batch");
    assert_eq!((line["ops"].as_u64(), line["events"].as_u64()), (Some(20), Some(200)));
    assert_eq!(line["eventsPerCommand"], 10);
    assert_eq!(line["sync"], "normal");
}

#[test]
fn contended_commands_on_hot_aggregates_either_commit_or_give_up() {
    let args = ["contended", "--writers", "6", "--hot", "2", "--commands", "60", "--repositories", "2"];
    let line = &bench(&args)[0];
    assert_common_fields(line, "contended");
    assert_eq!(number(line, "ops") + number(line, "gaveUp"), 60.0, "every command is accounted for: {line}");
    assert!(number(line, "appends") >= number(line, "ops"), "{line}");
    assert!(line["conflicts"].is_u64());
}

#[test]
fn replay_folds_every_event_of_the_log() {
    let line = &bench(&["replay", "--events", "500", "--aggregates", "7"])[0];
    assert_common_fields(line, "replay");
    assert_eq!(line["ops"], 500);
    assert_eq!(line["aggregates"], 7);
    assert!(number(line, "rawEventsPerSec") > 0.0);
}

#[test]
fn rehydrate_loads_both_concerts_with_and_without_snapshots() {
    let lines = bench(&["rehydrate", "--short-events", "10", "--long-events", "250", "--loads", "5"]);
    assert_eq!(lines.len(), 4, "two concerts, snapshots on and off");
    for line in &lines {
        assert_common_fields(line, "rehydrate");
        assert_eq!(line["ops"], 5);
        assert_eq!(line["version"], line["events"], "a load reaches the head: {line}");
    }
    let variants: Vec<&str> = lines.iter().filter_map(|line| line["variant"].as_str()).collect();
    assert_eq!(
        variants,
        [
            "10 events, snapshots on",
            "250 events, snapshots on",
            "10 events, snapshots off",
            "250 events, snapshots off"
        ]
    );
    assert!(lines[1]["p99RatioToShort"].is_number());
}

#[test]
fn lag_sees_every_commit_reach_the_read_models() {
    let line = &bench(&["lag", "--rate", "200", "--seconds", "0.5"])[0];
    assert_common_fields(line, "lag");
    assert_eq!(line["purchases"], 20);
    assert_eq!(line["ops"], 100, "five events per purchase");
    assert!(number(line, "commits") >= 1.0);
    assert_eq!(line["readModels"], 7);
}

#[test]
fn a_flash_sale_over_http_sells_every_ticket_once_and_the_log_and_read_models_agree() {
    for via in ["api", "pages"] {
        let args = ["flash-sale", "--tickets", "20", "--buyers", "40", "--connections", "4", "--via", via];
        let line = &bench(&args)[0];
        assert_common_fields(line, "flash-sale");
        assert_eq!(line["via"], via, "{line}");
        assert_eq!(line["purchases"], 20, "{line}");
        assert_eq!(line["refusedSoldOut"], 20, "{line}");
        assert_eq!(line["oversold"], 0, "{line}");
        assert_eq!(line["orphanHolds"], 0, "{line}");
        assert_eq!(line["errors5xx"], 0, "{line}");
        assert_eq!(line["otherErrors"], 0, "{line}");
        assert_eq!(line["lostPurchases"], 0, "{line}");
        assert_eq!(line["versionsOverQuantity"], 0, "{line}");
        assert_eq!((line["soldLog"].as_u64(), line["soldReadModel"].as_u64()), (Some(20), Some(20)));
        assert_eq!((line["orderTicketsLog"].as_u64(), line["orderTicketsReadModel"].as_u64()), (Some(20), Some(20)));
        assert_eq!(line["consistent"], true, "{line}");
        assert_eq!(line["soldOut"], true, "{line}");
        assert_eq!(line["requestsPerPurchase"], 2.0, "{line}");
        assert!(number(line, "httpCeilingRequestsPerSec") > 0.0, "the ceiling is measured in the same run: {line}");
        assert!(number(line, "shareOfCeiling") > 0.0, "{line}");
    }
}

#[test]
fn several_runs_end_with_a_line_of_medians() {
    let args = ["append", "--aggregates", "4", "--events-per-aggregate", "2", "--writers", "2", "--runs", "3"];
    let lines = bench(&args);
    assert_eq!(lines.len(), 4, "three runs and their summary");
    let runs: Vec<u64> = lines[..3].iter().filter_map(|line| line["run"].as_u64()).collect();
    assert_eq!(runs, [1, 2, 3]);
    let summary = &lines[3];
    assert_eq!(summary["summary"], "median");
    assert_eq!(summary["runs"], 3);
    assert_eq!(summary["ops"], 8, "counts stay integers");
    assert!(number(summary, "opsPerSecMin") <= number(summary, "opsPerSecMax"));
}

#[test]
fn without_json_the_figures_come_as_a_table() {
    let output = Command::new(env!("CARGO_BIN_EXE_cloudbash"))
        .args(["bench", "append", "--aggregates", "4", "--events-per-aggregate", "2", "--writers", "2"])
        .output()
        .expect("cloudbash runs");
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).expect("utf-8 output");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "header, rule and one row: {table}");
    assert!(lines[0].starts_with("| scenario | run | ops |"));
    assert!(lines[2].starts_with("| append | 1 | 8 |"), "{table}");
}

#[test]
fn the_http_floor_answers_every_request() {
    let line = &bench(&["http-floor", "--requests", "200", "--connections", "4"])[0];
    assert_common_fields(line, "http-floor");
    assert_eq!(line["ops"], 200);
    assert_eq!(line["failed"], 0, "{line}");
}

/// A running `cloudbash serve` in `data_dir`, stopped when dropped.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_flash_sale_on_a_running_server_sells_every_ticket_once() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudbash"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cloudbash serve starts");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut banner).expect("a banner");
    let _server = Serving(child);
    let url = banner.trim().strip_prefix("listening on ").expect("the first line names the address").to_owned();
    let data_dir = dir.path().to_str().expect("a UTF-8 path");

    let args = ["flash-sale", "--tickets", "10", "--buyers", "25", "--connections", "3", "--url", &url];
    let line = &bench(&[&args[..], &["--data-dir", data_dir]].concat())[0];
    assert_common_fields(line, "flash-sale");
    assert_eq!(line["server"], url.as_str());
    assert_eq!((line["purchases"].as_u64(), line["refusedSoldOut"].as_u64()), (Some(10), Some(15)), "{line}");
    assert_eq!((line["oversold"].as_u64(), line["orphanHolds"].as_u64()), (Some(0), Some(0)), "{line}");
    assert_eq!(line["errors5xx"], 0, "{line}");
    assert_eq!(line["consistent"], true, "{line}");
}
