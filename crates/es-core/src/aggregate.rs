//! Aggregates as pure functions: `decide` turns a command into events (or
//! refuses it), `evolve` folds an event into the state. No I/O, no clock, no
//! randomness: whatever a decision needs arrives inside the command.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::event::DomainEvent;

/// A consistency boundary: one stream of events and the rules that guard it.
///
/// The state is `Serialize + DeserializeOwned` so that repositories can keep
/// snapshots of it; bump [`Aggregate::SHAPE_VERSION`] whenever its serialized
/// shape changes, and every older snapshot is ignored.
pub trait Aggregate: Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// A stable name for the kind of aggregate (`concert`), used for snapshots
    /// and diagnostics.
    const KIND: &'static str;

    /// The shape of the serialized state, for snapshot invalidation.
    const SHAPE_VERSION: u32 = 1;

    /// The events of this aggregate.
    type Event: DomainEvent;
    /// What callers ask of it.
    type Command: Send + Sync;
    /// Why it refuses a command.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides what happens: the events a command causes, or why it cannot.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Applies one event to the state. Must not fail: an event is a fact.
    fn evolve(&mut self, event: &Self::Event);
}
