//! The lost-update race, run for real: many writers read the same version of
//! one aggregate and all try to append the next one. The backend must let
//! exactly one through per version, refuse the rest, and keep every event it
//! acknowledged at the version it acknowledged.

use std::sync::Arc;

use es_core::limits::READ_PAGE_MAX;
use es_core::{AggregateId, AppendError, AppendRequest, Appended, EventId, ExpectedVersion, Version};
use tokio::sync::Barrier;

use crate::BackendFactory;
use crate::support::{
    assert_increasing_positions, ids, load_everything, numbered, positions_at_commit, read_everything, versions,
};

const WRITERS: usize = 32;
const ROUNDS: u64 = 50;

/// What one writer saw in one round.
#[derive(Debug)]
struct Attempt {
    round: u64,
    writer: usize,
    read: Result<Version, String>,
    event_id: EventId,
    outcome: Outcome,
}

#[derive(Debug)]
enum Outcome {
    Won(Version),
    Lost { expected: es_core::ExpectedVersion, actual: Version, aggregate_id: AggregateId },
    Failed(String),
}

/// 32 writers, 50 rounds. In each round every writer reads the aggregate's
/// head version, waits until all have read, then appends one event expecting
/// that version. Exactly one wins per round, at the next version; every other
/// gets a conflict naming the winner's version. The final stream has versions
/// 1..=50 without gaps or duplicates, and every acknowledged event sits at the
/// version its append reported.
pub async fn racing_writers_on_one_aggregate_each_win_exactly_once_per_version(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let aggregate = AggregateId::random();
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&backend.store);
        let barrier = Arc::clone(&barrier);
        // A writer never panics: one that did would leave the others waiting
        // at the barrier. Everything it sees is reported and judged below.
        tasks.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                let read = match store.load(aggregate, Version::INITIAL, READ_PAGE_MAX).await {
                    Ok(events) => Ok(events.last().map_or(Version::INITIAL, |last| last.aggregate_version)),
                    Err(error) => Err(error.to_string()),
                };
                barrier.wait().await;
                let event = numbered(writer as u64 * 1_000 + round);
                let event_id = event.event_id;
                let outcome = match &read {
                    Err(error) => Outcome::Failed(format!("reading the head failed: {error}")),
                    Ok(head) => {
                        let request = AppendRequest::single(aggregate, ExpectedVersion::Exact(*head), vec![event]);
                        match store.append(request).await {
                            Ok(Appended::Committed(commit)) => match commit.versions.as_slice() {
                                [(id, version)] if *id == aggregate => Outcome::Won(*version),
                                other => Outcome::Failed(format!("the commit reports versions {other:?}")),
                            },
                            Ok(Appended::AlreadyApplied(record)) => Outcome::Failed(format!(
                                "an append without a command id was AlreadyApplied: {record:?}"
                            )),
                            Err(AppendError::Conflict(conflict)) => Outcome::Lost {
                                expected: conflict.expected,
                                actual: conflict.actual,
                                aggregate_id: conflict.aggregate_id,
                            },
                            Err(error) => Outcome::Failed(error.to_string()),
                        }
                    }
                };
                attempts.push(Attempt { round, writer, read, event_id, outcome });
            }
            attempts
        }));
    }
    let mut attempts = Vec::new();
    for task in tasks {
        attempts.extend(task.await.expect("a writer task does not panic"));
    }
    assert_eq!(attempts.len(), WRITERS * ROUNDS as usize);

    let mut acknowledged: Vec<(Version, EventId)> = Vec::new();
    for round in 0..ROUNDS {
        let in_round: Vec<&Attempt> = attempts.iter().filter(|attempt| attempt.round == round).collect();
        let head = Version(round);
        let mut winners = Vec::new();
        for attempt in &in_round {
            let writer = attempt.writer;
            assert_eq!(attempt.read, Ok(head), "round {round}, writer {writer}: every writer reads the same head");
            match &attempt.outcome {
                Outcome::Won(version) => {
                    assert_eq!(*version, head.next(), "round {round}: the winner appended the next version");
                    winners.push(attempt.event_id);
                    acknowledged.push((*version, attempt.event_id));
                }
                Outcome::Lost { expected, actual, aggregate_id } => {
                    assert_eq!(
                        *aggregate_id, aggregate,
                        "round {round}, writer {writer}: conflict on the raced aggregate"
                    );
                    assert_eq!(*expected, ExpectedVersion::Exact(head), "round {round}, writer {writer}");
                    assert_eq!(
                        *actual,
                        head.next(),
                        "round {round}, writer {writer}: the conflict names the winner's version"
                    );
                }
                Outcome::Failed(error) => panic!("round {round}, writer {writer}: {error}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one of {WRITERS} writers wins, not {}", winners.len());
    }

    let stream = load_everything(&*backend.store, aggregate).await;
    assert_eq!(versions(&stream), (1..=ROUNDS).collect::<Vec<_>>(), "versions 1..={ROUNDS}, no gap, no duplicate");
    if positions_at_commit(&*backend.store) {
        assert_increasing_positions(&stream);
    }
    for (version, event_id) in acknowledged {
        let stored = &stream[version.0 as usize - 1];
        assert_eq!(stored.event_id, event_id, "the event acknowledged at version {version} is stored at it");
    }
    backend.settle().await;
    let log = read_everything(&*backend.store).await;
    assert_eq!(ids(&log), ids(&stream), "the log holds exactly the winners, nothing from the losers");
    assert_increasing_positions(&log);
    let last = log[log.len() - 1].position;
    assert_eq!(backend.store.head().await.expect("head"), last);
    assert_eq!(*backend.store.commits().borrow(), last, "the commit signal holds the head");
}
