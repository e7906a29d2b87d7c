//! A SQLite projection answers `position` from memory (the API asks it
//! after every command). These tests hold that answer to the checkpoint in
//! the file: it follows every batch applied, it is read again after a swap
//! made in this process, and after a swap made by another process the next
//! batch is refused as `Moved` and the answer corrected — it never runs
//! ahead of what the live generation holds once a batch has been tried.

mod support;

use std::sync::Arc;

use es_core::{AggregateId, EventLog, Position, Projection, ProjectionError, Rebuildable, RecordedEvent, SystemClock};
use es_sqlite::{Durability, SqliteEventStore, SqliteProjection};
use support::Counted;

async fn fill(store: &SqliteEventStore, events: u64) {
    support::fill(store, AggregateId::random(), 0, events).await;
}

async fn page(log: &EventLog, after: Position, limit: u32) -> Vec<RecordedEvent> {
    log.read_all(after, limit).await.expect("the log reads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_position_follows_every_batch_and_a_swap_in_this_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal).expect("store"));
    fill(&store, 10).await;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let live = SqliteProjection::open(&store, Counted).expect("projection");
    assert_eq!(live.position().await.expect("position"), Position::START);

    live.apply(Position::START, &page(&log, Position::START, 6).await).await.expect("applies");
    assert_eq!(live.position().await.expect("position"), Position(6));

    // A rebuild in this process, stopped short of the live position.
    let staged = live.stage().await.expect("stages");
    staged.apply(Position::START, &page(&log, Position::START, 4).await).await.expect("applies");
    staged.promote().await.expect("promotes");
    assert_eq!(live.position().await.expect("position"), Position(4), "the swap is seen at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_by_another_process_is_noticed_at_the_next_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("log.db");
    let store = Arc::new(SqliteEventStore::open(&path, Durability::Normal).expect("store"));
    fill(&store, 10).await;
    let log = EventLog::new(store.clone(), Arc::new(SystemClock));
    let live = SqliteProjection::open(&store, Counted).expect("projection");
    live.apply(Position::START, &page(&log, Position::START, 8).await).await.expect("applies");
    assert_eq!(live.position().await.expect("position"), Position(8));

    // Another process rebuilds up to position 3 and swaps.
    let other_store = SqliteEventStore::open(&path, Durability::Normal).expect("a second store on the file");
    let other = SqliteProjection::open(&other_store, Counted).expect("projection");
    let staged = other.stage().await.expect("stages");
    staged.apply(Position::START, &page(&log, Position::START, 3).await).await.expect("applies");
    staged.promote().await.expect("promotes");

    // This process's next batch is refused by the new generation, and the
    // position corrected to what the file holds.
    let next = live.apply(Position(8), &page(&log, Position(8), 2).await).await;
    assert!(matches!(next, Err(ProjectionError::Moved { actual: Position(3), .. })), "{next:?}");
    assert_eq!(live.position().await.expect("position"), Position(3));
    live.apply(Position(3), &page(&log, Position(3), 7).await).await.expect("continues from the new generation");
    assert_eq!(live.position().await.expect("position"), Position(10));
    assert_eq!(other.position().await.expect("position"), Position(10), "the file agrees");
    other_store.close().await;
}
