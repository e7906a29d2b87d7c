//! Behaviour only the SQLite backend has: projections whose rows and
//! checkpoint share a transaction, rebuilds into a fresh generation,
//! durability across reopening, the append-only triggers, several stores on
//! one file, and group commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, EventId, EventStore, ExpectedVersion, Metadata, NewEvent,
    Position, Projection, ProjectionError, ProjectionRunner, RecordedEvent, Version, rebuild,
};
use es_core::{EventLog, SystemClock};
use es_sqlite::{ApplyError, Durability, SqliteEventStore, SqliteProjection, SqliteProjector, TableSpec, Tables};
use rusqlite::params;

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: EventId::random(),
        event_type: "Counted".into(),
        schema_version: 1,
        data: format!(r#"{{"n":{n}}}"#),
        created: es_core::truncate_to_millis(Utc::now()),
        metadata: Metadata::default(),
    }
}

async fn append(store: &SqliteEventStore, aggregate: AggregateId, expected: Version, n: u64) -> Appended {
    store
        .append(AppendRequest::single(aggregate, ExpectedVersion::Exact(expected), vec![event(n)]))
        .await
        .expect("append succeeds")
}

/// Counts events per aggregate; can be told to fail once at one position.
struct StreamCounts {
    fail_at: AtomicU64,
    shape: u32,
}

impl StreamCounts {
    fn failing_at(position: u64) -> Self {
        Self { fail_at: AtomicU64::new(position), shape: 1 }
    }

    fn of_shape(shape: u32) -> Self {
        Self { fail_at: AtomicU64::new(0), shape }
    }
}

const COUNT_TABLES: &[TableSpec] = &[TableSpec {
    name: "stream_counts",
    columns: "aggregate_id TEXT PRIMARY KEY, events INTEGER NOT NULL, last_version INTEGER NOT NULL",
    indexes: &[],
}];

impl SqliteProjector for StreamCounts {
    fn name(&self) -> &str {
        "stream_counts"
    }

    fn shape(&self) -> u32 {
        self.shape
    }

    fn tables(&self) -> &[TableSpec] {
        COUNT_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        if self.fail_at.compare_exchange(event.position.0, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return Err(format!("told to fail at {}", event.position).into());
        }
        let table = tables.name("stream_counts");
        tables.connection().execute(
            &format!(
                "INSERT INTO {table} (aggregate_id, events, last_version) VALUES (?1, 1, ?2) \
                 ON CONFLICT (aggregate_id) DO UPDATE SET events = events + 1, last_version = excluded.last_version \
                 WHERE excluded.last_version > last_version"
            ),
            params![event.aggregate_id.to_string(), event.aggregate_version.0 as i64],
        )?;
        Ok(())
    }
}

fn counts(store: &SqliteEventStore) -> Vec<(String, i64, i64)> {
    let connection = rusqlite::Connection::open(store.read_models_path()).expect("open");
    let mut statement = connection
        .prepare("SELECT aggregate_id, events, last_version FROM stream_counts ORDER BY aggregate_id")
        .expect("prepare");
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

async fn ten_streams_of_ten(store: &SqliteEventStore) -> Vec<AggregateId> {
    let aggregates: Vec<AggregateId> = (0..10).map(|_| AggregateId::random()).collect();
    for round in 0..10 {
        for aggregate in &aggregates {
            append(store, *aggregate, Version(round), round).await;
        }
    }
    aggregates
}

fn open(dir: &tempfile::TempDir) -> SqliteEventStore {
    SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal).expect("open store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_that_fails_mid_batch_writes_nothing_and_resumes_without_skipping_or_repeating() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(&dir));
    ten_streams_of_ten(&store).await;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));

    // The consumer dies at event 55 of a 100-event batch, before its checkpoint commits.
    let crashing = Arc::new(SqliteProjection::open(&store, StreamCounts::failing_at(55)).expect("projection"));
    let runner = ProjectionRunner::new(log.clone(), crashing.clone()).with_batch_size(100);
    let error = runner.catch_up().await.expect_err("the projector fails at 55");
    assert!(matches!(error, ProjectionError::Apply { position: Position(55), .. }), "{error}");
    assert_eq!(crashing.position().await.expect("position"), Position::START);
    assert!(counts(&store).is_empty(), "the failed batch left rows behind");
    drop(runner);
    drop(crashing);

    // A restarted consumer picks up from the checkpoint.
    let restarted = Arc::new(SqliteProjection::open(&store, StreamCounts::failing_at(0)).expect("projection"));
    let position =
        ProjectionRunner::new(log, restarted.clone()).with_batch_size(100).catch_up().await.expect("catch up");
    assert_eq!(position, Position(100));
    let counts = counts(&store);
    assert_eq!(counts.len(), 10);
    assert!(counts.iter().all(|(_, events, last)| *events == 10 && *last == 10), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_batch_is_refused_by_the_checkpoint_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(&dir));
    ten_streams_of_ten(&store).await;
    let projection = SqliteProjection::open(&store, StreamCounts::failing_at(0)).expect("projection");
    let batch = store.read_all(Position::START, 50).await.expect("read");
    projection.apply(Position::START, &batch).await.expect("first delivery");
    let before = counts(&store);
    let error = projection.apply(Position::START, &batch).await.expect_err("second delivery");
    assert!(matches!(error, ProjectionError::Moved { actual: Position(50), .. }), "{error}");
    assert_eq!(counts(&store), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_fills_a_fresh_generation_while_the_old_one_serves_then_swaps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(&dir));
    let aggregates = ten_streams_of_ten(&store).await;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let projection = Arc::new(SqliteProjection::open(&store, StreamCounts::failing_at(0)).expect("projection"));
    ProjectionRunner::new(log.clone(), projection.clone()).catch_up().await.expect("catch up");
    let live = counts(&store);

    let mut seen_during_rebuild = Vec::new();
    let mut reports = 0;
    let position = rebuild(&log, &*projection, |_, _| {
        reports += 1;
        seen_during_rebuild = counts(&store);
    })
    .await
    .expect("rebuild");
    assert_eq!(position, Position(100));
    assert!(reports > 0);
    assert_eq!(seen_during_rebuild, live, "readers saw the half-built generation");
    assert_eq!(counts(&store), live, "the rebuilt read model differs from the live one");

    // Only the new generation's tables remain, and the live runner continues on it.
    let connection = rusqlite::Connection::open(store.read_models_path()).expect("open");
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'stream_counts_g%'")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(tables, vec!["stream_counts_g2".to_owned()]);
    append(&store, aggregates[0], Version(10), 10).await;
    ProjectionRunner::new(log, projection.clone()).catch_up().await.expect("catch up after swap");
    assert_eq!(counts(&store)[0].1 + counts(&store)[1..].iter().map(|row| row.1).sum::<i64>(), 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_are_there_after_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log.db");
    let aggregate = AggregateId::random();
    {
        let store = SqliteEventStore::open(&path, Durability::Full).expect("open");
        for n in 0..5 {
            append(&store, aggregate, Version(n), n).await;
        }
        store.close().await;
        let refused = store.append(AppendRequest::single(aggregate, ExpectedVersion::Any, vec![event(9)])).await;
        assert!(matches!(refused, Err(AppendError::Store(_))), "a closed store accepted an append");
    }
    let store = SqliteEventStore::open(&path, Durability::Full).expect("reopen");
    let events = store.load(aggregate, Version::INITIAL, 100).await.expect("load");
    assert_eq!(events.iter().map(|event| event.aggregate_version.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    // The writer resumes after the last position and version.
    let Appended::Committed(commit) = append(&store, aggregate, Version(5), 5).await else {
        panic!("expected a commit")
    };
    assert_eq!(commit.position, Some(Position(6)));
    assert_eq!(commit.versions, vec![(aggregate, Version(6))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_refuses_updates_and_deletes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    append(&store, AggregateId::random(), Version::INITIAL, 1).await;
    let connection = rusqlite::Connection::open(store.path()).expect("open");
    let update = connection.execute("UPDATE events SET Data = '{}'", []);
    let delete = connection.execute("DELETE FROM events", []);
    assert!(update.is_err_and(|error| error.to_string().contains("append-only")));
    assert!(delete.is_err_and(|error| error.to_string().contains("append-only")));
    assert_eq!(store.read_all(Position::START, 10).await.expect("read").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_still_detect_conflicts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = open(&dir);
    let second = open(&dir);
    let aggregate = AggregateId::random();
    append(&first, aggregate, Version(0), 0).await;
    // The second store has never seen this aggregate and reads its head from the file.
    append(&second, aggregate, Version(1), 1).await;
    // The first store's cached head is stale; the expected version still guards.
    let stale =
        first.append(AppendRequest::single(aggregate, ExpectedVersion::Exact(Version(1)), vec![event(2)])).await;
    assert!(matches!(stale, Err(AppendError::Conflict(conflict)) if conflict.actual == Version(2)));
    let Appended::Committed(commit) = append(&first, aggregate, Version(2), 2).await else {
        panic!("expected a commit")
    };
    assert_eq!(commit.position, Some(Position(3)));
    let versions: Vec<u64> = second
        .load(aggregate, Version::INITIAL, 10)
        .await
        .expect("load")
        .iter()
        .map(|e| e.aggregate_version.0)
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_transactions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Full).expect("open"));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let aggregate = AggregateId::random();
                for n in 0..20 {
                    append(&store, aggregate, Version(n), n).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    let stats = store.stats();
    assert_eq!(stats.appends(), 64 * 20);
    assert!(stats.commits() < stats.appends() / 2, "{} commits for {} appends", stats.commits(), stats.appends());
    assert_eq!(store.head().await.expect("head"), Position(64 * 20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_pages_read_in_two_halves_are_exactly_the_requested_range() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    for _ in 0..50 {
        let events = (0..64).map(event).collect();
        store
            .append(AppendRequest::single(AggregateId::random(), ExpectedVersion::NoStream, events))
            .await
            .expect("append");
    }
    let positions = |events: Vec<RecordedEvent>| events.iter().map(|event| event.position.0).collect::<Vec<_>>();
    let page = store.read_all(Position::START, 3_001).await.expect("read");
    assert_eq!(positions(page), (1..=3_001).collect::<Vec<_>>());
    let tail = store.read_all(Position(2_500), 10_000).await.expect("read");
    assert_eq!(positions(tail), (2_501..=3_200).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_says_it_is_writable_until_its_writer_has_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    assert_eq!(store.writable(), Ok(()));
    append(&store, AggregateId::random(), Version(0), 1).await;
    store.close().await;
    assert_eq!(store.writable(), Err("the log is closed".to_owned()), "a closed log is not ready for appends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_kept_in_the_log_file_by_an_older_release_are_built_again_beside_it_and_dropped_from_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(&dir));
    ten_streams_of_ten(&store).await;
    // What an older release left in the log's file: the read model's table, view and checkpoint.
    let log_file = rusqlite::Connection::open(store.path()).expect("open");
    log_file
        .execute_batch(
            "CREATE TABLE projections (Name TEXT NOT NULL, Generation INTEGER NOT NULL, Position INTEGER NOT NULL, \
               Live INTEGER NOT NULL, PRIMARY KEY (Name, Generation)) STRICT;
             INSERT INTO projections VALUES ('stream_counts', 3, 100, 1);
             CREATE TABLE stream_counts_g3 (aggregate_id TEXT PRIMARY KEY, events INTEGER, last_version INTEGER);
             INSERT INTO stream_counts_g3 VALUES ('stale', 1, 1);
             CREATE VIEW stream_counts AS SELECT * FROM stream_counts_g3;",
        )
        .expect("the old layout");

    let projection = Arc::new(SqliteProjection::open(&store, StreamCounts::failing_at(0)).expect("projection"));
    assert_eq!(projection.position().await.expect("position"), Position::START, "the new file starts from the log");
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    ProjectionRunner::new(log, projection).catch_up().await.expect("catch up");
    let counts = counts(&store);
    assert_eq!(counts.len(), 10);
    assert!(counts.iter().all(|(_, events, _)| *events == 10), "{counts:?}");

    let left: i64 = log_file
        .query_row("SELECT count(*) FROM sqlite_master WHERE name LIKE 'stream_counts%'", [], |row| row.get(0))
        .expect("schema");
    let checkpoints: i64 =
        log_file.query_row("SELECT count(*) FROM projections", [], |row| row.get(0)).expect("checkpoints");
    assert_eq!((left, checkpoints), (0, 0), "the old read model is still in the log's file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_with_the_consumer_positions_table_of_an_older_release_opens_without_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log.db");
    let aggregate = AggregateId::random();
    {
        let store = SqliteEventStore::open(&path, Durability::Normal).expect("open");
        append(&store, aggregate, Version::INITIAL, 1).await;
        store.close().await;
    }
    rusqlite::Connection::open(&path)
        .and_then(|file| {
            file.execute_batch("CREATE TABLE checkpoints (Consumer TEXT PRIMARY KEY, Position INTEGER NOT NULL) STRICT")
        })
        .expect("the old table");

    let store = SqliteEventStore::open(&path, Durability::Normal).expect("reopen");
    let tables: i64 = rusqlite::Connection::open(&path)
        .and_then(|file| {
            file.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'checkpoints'", [], |row| row.get(0))
        })
        .expect("schema");
    assert_eq!(tables, 0, "the unused table is still in the log's file");
    let events = store.load(aggregate, Version::INITIAL, 10).await.expect("load");
    assert_eq!(events.len(), 1, "the log is as it was");
    append(&store, aggregate, Version(1), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_opened_in_a_new_shape_is_built_again_from_the_log_and_one_in_the_same_shape_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(&dir));
    ten_streams_of_ten(&store).await;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let first = Arc::new(SqliteProjection::open(&store, StreamCounts::of_shape(1)).expect("projection"));
    ProjectionRunner::new(log.clone(), first.clone()).catch_up().await.expect("catch up");
    // A rebuild begun and never finished leaves a generation behind.
    drop(es_core::Rebuildable::stage(&*first).await.expect("a rebuild begins"));
    drop(first);

    let same = Arc::new(SqliteProjection::open(&store, StreamCounts::of_shape(1)).expect("projection"));
    assert_eq!(same.position().await.expect("position"), Position(100), "the same shape was built again");
    drop(same);

    let reshaped = Arc::new(SqliteProjection::open(&store, StreamCounts::of_shape(2)).expect("projection"));
    assert_eq!(reshaped.position().await.expect("position"), Position::START);
    assert!(counts(&store).is_empty(), "rows of the old shape are still read");
    ProjectionRunner::new(log, reshaped.clone()).catch_up().await.expect("catch up");
    let counts = counts(&store);
    assert_eq!(counts.len(), 10);
    assert!(counts.iter().all(|(_, events, _)| *events == 10), "{counts:?}");
    let old_shape: i64 = rusqlite::Connection::open(store.read_models_path())
        .expect("open")
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'stream_counts_g1'", [], |row| row.get(0))
        .expect("schema");
    assert_eq!(old_shape, 0, "the old shape's table was kept");
}
