//! An `Inspection` reads a log and its read models as they are, beside a
//! running store or after it has stopped, and leaves the directory exactly
//! as it found it: no file created, none changed.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use es_core::{AggregateId, EventLog, EventStore, Position, ProjectionRunner, SystemClock};
use es_sqlite::{Checkpoint, Durability, Inspection, SqliteEventStore, SqliteProjection};
use support::{Counted, fill};

/// Every file in `dir` with its size and modification time.
fn listing(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    std::fs::read_dir(dir)
        .expect("the directory lists")
        .map(|entry| {
            let entry = entry.expect("an entry");
            let metadata = entry.metadata().expect("metadata");
            (entry.file_name().to_string_lossy().into_owned(), (metadata.len(), metadata.modified().expect("mtime")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_behind_the_log_shows_its_checkpoint_beside_the_running_store() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("log.db");
    let store = SqliteEventStore::open(&path, Durability::Normal).expect("opens");
    let aggregate = AggregateId::random();
    fill(&store, aggregate, 0, 3).await;
    let projection = std::sync::Arc::new(SqliteProjection::open(&store, Counted).expect("the projection opens"));
    let log = EventLog::new(
        std::sync::Arc::new(SqliteEventStore::open(&path, Durability::Normal).expect("opens")),
        std::sync::Arc::new(SystemClock),
    );
    ProjectionRunner::new(log, projection).catch_up().await.expect("catches up");
    fill(&store, aggregate, 3, 2).await;

    let inspection = Inspection::open(&path).expect("the files open read-only");
    assert_eq!(
        inspection.checkpoints().expect("read"),
        vec![Checkpoint { name: "counted".into(), position: Position(3), shape: 1 }]
    );
    assert_eq!(inspection.head().expect("read"), Position(5));
    let oldest = inspection.created_after(Position(3)).expect("read").expect("an event after 3");
    let fourth = store.read_all(Position(3), 1).await.expect("read")[0].created;
    assert_eq!(oldest, fourth);
    assert_eq!(inspection.created_after(Position(5)).expect("read"), None, "nothing after the head");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspecting_a_stopped_shop_leaves_its_files_as_they_were() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("log.db");
    {
        let store = SqliteEventStore::open(&path, Durability::Normal).expect("opens");
        fill(&store, AggregateId::random(), 0, 2).await;
        let _projection = SqliteProjection::open(&store, Counted).expect("the projection opens");
        store.close().await;
    }
    // Let the store's threads close their connections.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = listing(dir.path());

    let inspection = Inspection::open(&path).expect("the files open read-only");
    assert_eq!(inspection.head().expect("read"), Position(2));
    assert_eq!(inspection.checkpoints().expect("read").len(), 1);
    drop(inspection);

    assert_eq!(listing(dir.path()), before);
}

#[test]
fn a_directory_without_a_log_is_reported_and_left_empty() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let error = Inspection::open(dir.path().join("log.db")).expect_err("no log there");
    assert!(error.to_string().contains("there is no log"), "{error}");
    assert_eq!(listing(dir.path()).len(), 0);
}
