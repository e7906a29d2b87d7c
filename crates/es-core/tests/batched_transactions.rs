//! Several commands decided one after the other and committed as one
//! append (`Transaction::absorb`): the append is all or nothing, a member
//! that does not continue where the batch leaves an aggregate is refused
//! before anything is written, and the batch stays within the kernel's
//! limits.

use std::sync::Arc;

use es_core::memory::InMemoryEventStore;
use es_core::{
    Aggregate, AggregateId, Appended, CodecError, CommandContext, DomainEvent, EventLog, EventStore, ExpectedVersion,
    Loaded, Repository, RepositoryError, SystemClock, Transaction, Version, decode_adjacent, encode_adjacent, limits,
};
use serde::{Deserialize, Serialize};

/// A counter that refuses to go above ten.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Capped {
    value: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum Added {
    Added { by: u64 },
}

impl DomainEvent for Added {
    fn event_type(&self) -> &'static str {
        "Added"
    }

    fn encode(&self) -> Result<String, CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        decode_adjacent(event_type, data)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("over the cap")]
struct OverCap;

impl Aggregate for Capped {
    const KIND: &'static str = "capped";
    type Event = Added;
    type Command = u64;
    type Error = OverCap;

    fn decide(&self, by: &u64) -> Result<Vec<Added>, OverCap> {
        if self.value + by > 10 {
            return Err(OverCap);
        }
        Ok(vec![Added::Added { by: *by }])
    }

    fn evolve(&mut self, event: &Added) {
        let Added::Added { by } = event;
        self.value += by;
    }
}

fn repository() -> (Arc<InMemoryEventStore>, Repository<Capped>) {
    let store = Arc::new(InMemoryEventStore::new());
    (store.clone(), Repository::new(EventLog::new(store, Arc::new(SystemClock))))
}

/// Decides `by` on `loaded` into a transaction of its own; the state after.
fn member(repository: &Repository<Capped>, loaded: &Loaded<Capped>, by: u64) -> (Transaction, Loaded<Capped>) {
    let mut transaction = Transaction::new(&CommandContext::default());
    let events = loaded.state.decide(&by).expect("under the cap");
    let after = transaction.record(repository, loaded, &events).expect("encodes");
    (transaction, after)
}

#[tokio::test]
async fn members_decided_one_after_the_other_commit_as_one_append() {
    let (store, counters) = repository();
    let (shared, other) = (AggregateId::random(), AggregateId::random());
    let mut batch = Transaction::new(&CommandContext::default());
    let mut state = counters.load(shared).await.expect("loads");
    for by in [1, 2, 3] {
        let (transaction, after) = member(&counters, &state, by);
        batch.absorb(transaction).expect("continues where the batch leaves the counter");
        state = after;
    }
    let (transaction, _) = member(&counters, &counters.load(other).await.expect("loads"), 4);
    batch.absorb(transaction).expect("another aggregate joins");
    assert_eq!((batch.aggregates(), batch.events()), (2, 4));

    let appended = batch.commit::<OverCap>(counters.log(), &()).await.expect("commits");
    let Appended::Committed(commit) = appended else { panic!("committed, not {appended:?}") };
    assert_eq!(commit.versions, vec![(shared, Version(3)), (other, Version(1))]);
    assert_eq!(store.head().await.expect("head").0, 4, "one append of four events");
    let cached = counters.load(shared).await.expect("loads");
    assert_eq!((cached.version, cached.state.value), (Version(3), 6), "the cache moved to the batch's end");
}

#[tokio::test]
async fn a_member_decided_on_another_state_is_refused_and_the_batch_left_unchanged() {
    let (_, counters) = repository();
    let id = AggregateId::random();
    let start = counters.load(id).await.expect("loads");
    let mut batch = Transaction::new(&CommandContext::default());
    let (first, _) = member(&counters, &start, 1);
    batch.absorb(first).expect("the first member joins");
    // Decided on the state before the first member's event, not after it.
    let (stale, _) = member(&counters, &start, 2);
    let conflict = batch.absorb(stale).expect_err("a member that does not continue the batch is refused");
    assert_eq!(conflict.expected, ExpectedVersion::Exact(Version(0)));
    assert_eq!(conflict.actual, Version(1));
    assert_eq!(batch.events(), 1, "the refused member left nothing behind");
}

#[tokio::test]
async fn a_batch_whose_first_member_is_stale_writes_nothing_at_all() {
    let (store, counters) = repository();
    let id = AggregateId::random();
    let stale = counters.load(id).await.expect("loads");
    // Another process moves the counter on behind the cache's back.
    let other_side = Repository::<Capped>::new(EventLog::new(store.clone(), Arc::new(SystemClock)));
    other_side.execute(id, 5, &CommandContext::default()).await.expect("the other writer commits");

    let mut batch = Transaction::new(&CommandContext::default());
    let (first, after) = member(&counters, &stale, 4);
    batch.absorb(first).expect("joins");
    let (second, _) = member(&counters, &after, 4);
    batch.absorb(second).expect("joins");
    let failed = batch.commit::<OverCap>(counters.log(), &()).await;
    assert!(matches!(failed, Err(RepositoryError::Conflict(_))), "{failed:?}");
    assert_eq!(store.head().await.expect("head").0, 1, "neither member was written");
    let refreshed = counters.load(id).await.expect("loads");
    assert_eq!(refreshed.state.value, 5, "the stale entry was refreshed from the log");
}

#[tokio::test]
async fn fits_with_counts_shared_aggregates_once_and_stops_at_the_kernels_limits() {
    let (_, counters) = repository();
    let mut batch = Transaction::new(&CommandContext::default());
    let mut states = Vec::new();
    for _ in 0..limits::AGGREGATES_PER_APPEND_MAX {
        let loaded = counters.load(AggregateId::random()).await.expect("loads");
        let (transaction, after) = member(&counters, &loaded, 1);
        assert!(batch.fits_with(&transaction));
        batch.absorb(transaction).expect("joins");
        states.push(after);
    }
    let (again, _) = member(&counters, &states[0], 1);
    assert!(batch.fits_with(&again), "an aggregate already in the batch adds no member");
    let newcomer = counters.load(AggregateId::random()).await.expect("loads");
    let (one_too_many, _) = member(&counters, &newcomer, 1);
    assert!(!batch.fits_with(&one_too_many), "a seventeenth aggregate does not fit");
}

#[tokio::test]
async fn a_freshly_minted_aggregate_is_new_without_reading_the_log() {
    let (_, counters) = repository();
    let loaded = counters.new_aggregate(AggregateId::random());
    assert!(loaded.is_new());
    assert_eq!(loaded.state.value, 0);
}
