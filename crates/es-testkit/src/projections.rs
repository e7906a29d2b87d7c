//! Cases for read models fed from the backend's log: a projection runner
//! catching up, the compare-and-set checkpoint refusing a duplicate delivery,
//! and a rebuild matching the live read model.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use es_core::memory::MemoryProjection;
use es_core::{AggregateId, EventId, Position, Projection, ProjectionError, ProjectionRunner, RecordedEvent, rebuild};

use crate::BackendFactory;
use crate::support::{commit_at, ids, number_of, numbered, read_everything, read_page};

/// A read model that remembers everything it was fed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Tally {
    sum: u64,
    per_aggregate: BTreeMap<AggregateId, u64>,
    order: Vec<EventId>,
}

fn fold(tally: &mut Tally, event: &RecordedEvent) -> Result<(), String> {
    tally.sum += number_of(event)?;
    *tally.per_aggregate.entry(event.aggregate_id).or_default() += 1;
    tally.order.push(event.event_id);
    Ok(())
}

fn tally_of(events: &[RecordedEvent]) -> Tally {
    let mut tally = Tally::default();
    for event in events {
        fold(&mut tally, event).expect("every event of these cases is numbered");
    }
    tally
}

/// Appends `count` single-event commits alternating over two aggregates that
/// already hold `already` events each, numbering from `first`.
async fn alternate(
    store: &dyn es_core::EventStore,
    aggregates: [AggregateId; 2],
    already: u64,
    first: u64,
    count: u64,
) {
    for index in 0..count {
        let aggregate = aggregates[(index % 2) as usize];
        let version = already + index / 2;
        commit_at(store, aggregate, version, vec![numbered(first + index)]).await;
    }
}

/// A counting projection over the tally.
fn counting_projection(applied: &Arc<AtomicUsize>) -> Arc<MemoryProjection<Tally>> {
    let applied = Arc::clone(applied);
    Arc::new(MemoryProjection::new("tally", move |tally: &mut Tally, event: &RecordedEvent| {
        applied.fetch_add(1, Ordering::SeqCst);
        fold(tally, event)
    }))
}

/// `ProjectionRunner::catch_up` applies the whole log in batches and stops at
/// the head; after more commits it continues from its checkpoint, so the read
/// model equals a fold of the log with every event applied once.
pub async fn a_projection_runner_catches_up_with_the_whole_log(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let aggregates = [AggregateId::random(), AggregateId::random()];
    alternate(store, aggregates, 0, 1, 8).await;
    backend.settle().await;
    let applied = Arc::new(AtomicUsize::new(0));
    let projection = counting_projection(&applied);
    let runner =
        ProjectionRunner::new(backend.log(), Arc::clone(&projection) as Arc<dyn Projection>).with_batch_size(3);
    let status = runner.status();

    let head = store.head().await.expect("head");
    assert_eq!(runner.catch_up().await.expect("catch_up"), head, "catch_up returns the head it reached");
    assert_eq!(projection.position().await.expect("position"), head, "the checkpoint is at the head");
    assert_eq!(projection.read(Tally::clone), tally_of(&read_everything(store).await), "the read model folds the log");
    assert_eq!(applied.load(Ordering::SeqCst), 8, "each event applied once");
    assert_eq!(status.borrow().position, head, "the runner publishes its position");

    alternate(store, aggregates, 4, 9, 5).await;

    backend.settle().await;
    let head = store.head().await.expect("head");
    assert_eq!(runner.catch_up().await.expect("catch_up"), head);
    let log = read_everything(store).await;
    assert_eq!(projection.read(Tally::clone), tally_of(&log), "the second catch-up applied only the new events");
    assert_eq!(projection.read(|tally| tally.order.clone()), ids(&log));
    assert_eq!(applied.load(Ordering::SeqCst), 13, "no event was applied twice");
    assert_eq!(runner.catch_up().await.expect("catch_up"), head, "a catch-up at the head applies nothing");
    assert_eq!(applied.load(Ordering::SeqCst), 13);
}

/// A batch delivered again (read after a position the projection has left)
/// is refused with `ProjectionError::Moved` naming both positions, and the
/// read model and its checkpoint do not change; the next real batch applies.
pub async fn a_duplicate_delivery_to_a_projection_is_refused_and_changes_nothing(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let aggregates = [AggregateId::random(), AggregateId::random()];
    alternate(store, aggregates, 0, 1, 6).await;
    backend.settle().await;
    let applied = Arc::new(AtomicUsize::new(0));
    let projection = counting_projection(&applied);
    let runner =
        ProjectionRunner::new(backend.log(), Arc::clone(&projection) as Arc<dyn Projection>).with_batch_size(2);
    let head = runner.catch_up().await.expect("catch_up");
    let before = projection.read(Tally::clone);
    let log = read_everything(store).await;

    for stale in [Position::START, log[1].position, log[4].position] {
        let batch = read_page(store, stale, 3).await;
        assert!(!batch.is_empty());
        match projection.apply(stale, &batch).await {
            Err(ProjectionError::Moved { name, expected, actual }) => {
                assert_eq!((name.as_str(), expected, actual), ("tally", stale, head), "Moved names both positions");
            }
            other => panic!("a duplicate delivery after {stale} must be refused as Moved, got {other:?}"),
        }
        assert_eq!(projection.read(Tally::clone), before, "a refused batch changes nothing");
        assert_eq!(
            projection.position().await.expect("position"),
            head,
            "a refused batch does not move the checkpoint"
        );
    }
    assert_eq!(applied.load(Ordering::SeqCst), 6, "nothing of a refused batch was applied");

    alternate(store, aggregates, 3, 7, 1).await;

    backend.settle().await;
    let fresh = read_page(store, head, 10).await;
    projection.apply(head, &fresh).await.expect("the next real batch applies");
    assert_eq!(projection.read(Tally::clone), tally_of(&read_everything(store).await));
}

/// `rebuild` replays the whole log into a fresh generation and swaps it in:
/// the result equals the live read model it replaced (every event was applied
/// again, once), progress reaches the head, and the live runner carries on
/// from the rebuilt checkpoint without applying anything twice.
pub async fn a_rebuilt_projection_equals_the_live_one(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let log = backend.log();
    let aggregates = [AggregateId::random(), AggregateId::random()];
    alternate(store, aggregates, 0, 1, 12).await;
    backend.settle().await;
    let applied = Arc::new(AtomicUsize::new(0));
    let projection = counting_projection(&applied);
    let runner = ProjectionRunner::new(log.clone(), Arc::clone(&projection) as Arc<dyn Projection>).with_batch_size(5);
    let head = runner.catch_up().await.expect("catch_up");
    let live = projection.read(Tally::clone);
    assert_eq!(applied.load(Ordering::SeqCst), 12);

    let mut progress = Vec::new();
    let rebuilt_at = rebuild(&log, &*projection, |position, of| progress.push((position, of))).await.expect("rebuild");
    assert_eq!(rebuilt_at, head, "the rebuild reached the head");
    assert_eq!(projection.read(Tally::clone), live, "the rebuilt read model equals the live one");
    assert_eq!(applied.load(Ordering::SeqCst), 24, "the rebuild applied every event once more");
    assert_eq!(progress.last(), Some(&(head, head)), "progress ends at the head");
    assert_eq!(projection.position().await.expect("position"), head);

    alternate(store, aggregates, 6, 13, 2).await;

    backend.settle().await;
    runner.catch_up().await.expect("catch_up after the rebuild");
    assert_eq!(projection.read(Tally::clone), tally_of(&read_everything(store).await));
    assert_eq!(applied.load(Ordering::SeqCst), 26, "the runner continued from the rebuilt checkpoint");
}
