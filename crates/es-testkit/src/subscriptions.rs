//! Cases for live subscriptions over the backend: a waiting subscription is
//! woken by the backend's commit signal (not by the idle timer), stops on
//! cancellation, and every subscriber sees every event once and in order,
//! even while writers commit concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use es_core::limits::IDLE_WAKE_MILLIS;
use es_core::{AggregateId, CancellationToken, EventId, RecordedEvent, StartFrom, Subscription, Version};
use tokio::time::{Instant, timeout};

use crate::BackendFactory;
use crate::support::{assert_increasing_positions, commit_at, ids, numbered, position_of, read_everything};

/// How long a woken subscription may take to deliver: a quarter of the idle
/// timer, so only the commit signal can wake it in time.
const WAKE_WITHIN: Duration = Duration::from_millis(IDLE_WAKE_MILLIS / 4);

/// How long a case lets a subscription wait before committing, to be sure it
/// is asleep (well below the idle timer, so the timer cannot be what wakes it).
const SETTLE: Duration = Duration::from_millis(IDLE_WAKE_MILLIS / 10);

/// A subscription waiting at the head gets a commit made while it waits
/// within a quarter of the idle timer — so the backend's commit signal woke
/// it, not the timer — and delivers exactly the committed events, each time.
pub async fn a_waiting_subscription_wakes_promptly_on_a_commit(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let log = backend.log();
    let aggregate = AggregateId::random();
    commit_at(&*backend.store, aggregate, 0, vec![numbered(0)]).await;
    backend.settle().await;
    let mut subscription = Subscription::start(&log, StartFrom::End).await.expect("start");
    let shutdown = CancellationToken::new();

    for round in 1..=3_u64 {
        let token = shutdown.clone();
        let waiting = tokio::spawn(async move {
            let batch = subscription.next_batch(&token).await;
            (subscription, batch)
        });
        tokio::time::sleep(SETTLE).await;
        assert!(!waiting.is_finished(), "round {round}: next_batch returned before anything was committed");
        let events = vec![numbered(round), numbered(round + 100)];
        let expected = events.iter().map(|event| event.event_id).collect::<Vec<_>>();
        let commit = commit_at(&*backend.store, aggregate, 1 + (round - 1) * 2, events).await;
        // Promptness counts from the commit's acknowledgement (or, where the log is ordered after the commit, from its
        // indexer's pass), when its signal goes out: how long the commit itself takes (a remote store under load) says
        // nothing about how the subscription was woken.
        backend.settle().await;
        let Ok(joined) = timeout(WAKE_WITHIN, waiting).await else {
            panic!("round {round}: a waiting subscription was not woken within {WAKE_WITHIN:?} of a commit");
        };
        let (returned, batch) = joined.expect("the waiting task does not panic");
        let batch = batch.expect("next_batch succeeds").expect("not cancelled");
        assert_eq!(ids(&batch), expected, "round {round}: the batch holds exactly the new commit");
        subscription = returned;
        assert_eq!(
            subscription.position(),
            position_of(&backend, &commit).await,
            "the subscription moved to the commit"
        );
    }
}

/// A subscription waiting at the head returns `None` promptly once its token
/// is cancelled, and at once if the token was cancelled before it waited.
pub async fn a_waiting_subscription_returns_none_when_cancelled(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let log = backend.log();
    commit_at(&*backend.store, AggregateId::random(), 0, vec![numbered(0)]).await;
    let mut subscription = Subscription::start(&log, StartFrom::End).await.expect("start");
    let position = subscription.position();

    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let waiting =
        tokio::spawn(
            async move { (subscription.next_batch(&token).await.expect("next_batch").is_none(), subscription) },
        );
    tokio::time::sleep(SETTLE).await;
    assert!(!waiting.is_finished(), "next_batch returned with nothing committed and no cancellation");
    shutdown.cancel();
    let Ok(joined) = timeout(WAKE_WITHIN, waiting).await else {
        panic!("a waiting subscription did not notice its cancellation within {WAKE_WITHIN:?}");
    };
    let (stopped, mut subscription) = joined.expect("the waiting task does not panic");
    assert!(stopped, "a cancelled subscription returns None");
    assert_eq!(subscription.position(), position, "cancellation does not move the subscription");

    let started = Instant::now();
    assert!(subscription.next_batch(&shutdown).await.expect("next_batch").is_none(), "a cancelled token gives None");
    assert!(started.elapsed() < WAKE_WITHIN, "an already cancelled token stops next_batch at once");
}

/// Reads with `subscription` until `count` events have arrived (or the
/// deadline of the case passes).
async fn collect(mut subscription: Subscription, count: usize, shutdown: CancellationToken) -> Vec<RecordedEvent> {
    let mut seen = Vec::new();
    while seen.len() < count {
        match subscription.next_batch(&shutdown).await {
            Ok(Some(batch)) => seen.extend(batch),
            Ok(None) => break,
            Err(error) => panic!("a subscription failed: {error}"),
        }
    }
    seen
}

/// Three subscriptions with different batch sizes, started before, between
/// and after commits, each see every event exactly once, in commit order.
pub async fn independent_subscriptions_each_see_every_event_in_order(factory: &dyn BackendFactory) {
    const APPENDS: u64 = 15;
    let backend = factory.fresh().await;
    let log = backend.log();
    let aggregates = [AggregateId::random(), AggregateId::random(), AggregateId::random()];
    let shutdown = CancellationToken::new();
    let total = APPENDS as usize * 2;
    let mut readers = Vec::new();
    for (index, round) in (0..APPENDS).enumerate() {
        if round % 7 == 0 {
            let batch_size = [1, 3, 1_000][readers.len() % 3];
            let subscription =
                Subscription::start(&log, StartFrom::Beginning).await.expect("start").with_batch_size(batch_size);
            readers.push(tokio::spawn(collect(subscription, total, shutdown.clone())));
        }
        let aggregate = aggregates[index % 3];
        let version = round / 3 * 2;
        commit_at(&*backend.store, aggregate, version, vec![numbered(round), numbered(round + 100)]).await;
    }
    backend.settle().await;
    let expected = read_everything(&*backend.store).await;
    assert_eq!(expected.len(), total, "the log holds every event written");
    assert_eq!(readers.len(), 3);
    for (index, reader) in readers.into_iter().enumerate() {
        let Ok(joined) = timeout(Duration::from_secs(30), reader).await else {
            panic!("subscription {index} did not deliver all {total} events");
        };
        let seen = joined.expect("a reader does not panic");
        assert_eq!(seen, expected, "subscription {index} sees every event once, in commit order");
    }
    shutdown.cancel();
}

/// While eight writers commit to their own aggregates at once, a live
/// subscription (small batches) sees every committed event exactly once,
/// never skipping one that commits late with a lower position, and each
/// aggregate in version order.
pub async fn a_subscription_following_concurrent_writers_misses_nothing(factory: &dyn BackendFactory) {
    const WRITERS: usize = 8;
    const EVENTS_EACH: u64 = 25;
    let backend = factory.fresh().await;
    let log = backend.log();
    let shutdown = CancellationToken::new();
    let total = WRITERS * EVENTS_EACH as usize;
    let subscription = Subscription::start(&log, StartFrom::Beginning).await.expect("start").with_batch_size(7);
    let reader = tokio::spawn(collect(subscription, total, shutdown.clone()));

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&backend.store);
        writers.push(tokio::spawn(async move {
            let aggregate = AggregateId::random();
            let mut written = Vec::new();
            for n in 0..EVENTS_EACH {
                let event = numbered(writer as u64 * 1_000 + n);
                written.push(event.event_id);
                let request =
                    es_core::AppendRequest::single(aggregate, es_core::ExpectedVersion::Exact(Version(n)), vec![event]);
                if let Err(error) = store.append(request).await {
                    return Err(format!("writer {writer}: {error}"));
                }
                tokio::task::yield_now().await;
            }
            Ok((aggregate, written))
        }));
    }
    let mut written: HashMap<AggregateId, Vec<EventId>> = HashMap::new();
    for writer in writers {
        let (aggregate, events) = writer.await.expect("a writer does not panic").expect("every append commits");
        written.insert(aggregate, events);
    }
    backend.settle().await;
    let Ok(joined) = timeout(Duration::from_secs(30), reader).await else {
        panic!("the subscription did not deliver all {total} events");
    };
    let seen = joined.expect("the reader does not panic");
    shutdown.cancel();

    assert_eq!(seen.len(), total, "the subscription delivered every event");
    assert_increasing_positions(&seen);
    let unique: HashSet<EventId> = seen.iter().map(|event| event.event_id).collect();
    assert_eq!(unique.len(), total, "no event was delivered twice");
    for (aggregate, events) in &written {
        let delivered: Vec<EventId> =
            seen.iter().filter(|event| event.aggregate_id == *aggregate).map(|event| event.event_id).collect();
        assert_eq!(&delivered, events, "aggregate {aggregate} delivered whole and in version order");
    }
    assert_eq!(seen, read_everything(&*backend.store).await, "the live view equals the log read afterwards");
}
