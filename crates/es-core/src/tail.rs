//! The newest stretch of the log as subscribers last read it, shared by
//! every subscriber of one [`crate::EventLog`].
//!
//! A process runs one subscriber per read model (and one for each process
//! manager), and a commit wakes all of them at once to read the same few
//! events. Each would read and decode the same rows. Instead, the first to
//! find events missing reads them from the store (the others wait for it)
//! and keeps them here; the rest copy them from memory.
//!
//! What is kept is always a run of the log exactly as the store returned
//! it: every event after some position up to the run's last one, none
//! skipped. So a subscriber reading from here sees what it would have read
//! from the store, only perhaps in shorter pages; an empty page always
//! comes from the store itself.

use std::sync::Mutex;

use crate::ids::Position;
use crate::limits;
use crate::record::RecordedEvent;

/// Every event after `after`, up to the last of `events`, in log order.
#[derive(Debug)]
struct Run {
    after: Position,
    events: Vec<RecordedEvent>,
}

impl Run {
    fn last(&self) -> Position {
        self.events.last().map_or(self.after, |event| event.position)
    }
}

/// The shared run, and the turn to read a missing stretch from the store.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    run: Mutex<Option<Run>>,
    reading: tokio::sync::Mutex<()>,
}

impl Tail {
    /// At most `limit` events after `after`, if the run holds any.
    pub(crate) fn get(&self, after: Position, limit: u32) -> Option<Vec<RecordedEvent>> {
        let run = self.run.lock().ok()?;
        let run = run.as_ref()?;
        if after < run.after || after >= run.last() {
            return None;
        }
        let first = run.events.partition_point(|event| event.position <= after);
        let end = run.events.len().min(first + limit as usize);
        Some(run.events[first..end].to_vec())
    }

    /// Keeps `page`, read from the store after `after`: appended to the run
    /// if it continues it, in its place otherwise.
    pub(crate) fn put(&self, after: Position, page: &[RecordedEvent]) {
        if page.is_empty() {
            return;
        }
        let Ok(mut run) = self.run.lock() else { return };
        match run.as_mut() {
            Some(kept) if kept.last() == after => kept.events.extend_from_slice(page),
            _ => *run = Some(Run { after, events: page.to_vec() }),
        }
        if let Some(kept) = run.as_mut()
            && kept.events.len() > limits::TAIL_EVENTS_MAX
        {
            let drop = kept.events.len() - limits::TAIL_EVENTS_MAX;
            kept.after = kept.events[drop - 1].position;
            kept.events.drain(..drop);
        }
    }

    /// The turn to read from the store: whoever waited for it looks here
    /// again first, since the reader before may have brought its events.
    pub(crate) async fn reading(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.reading.lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AggregateId, EventId, Version};
    use crate::record::Metadata;

    fn event(position: u64) -> RecordedEvent {
        RecordedEvent {
            position: Position(position),
            aggregate_id: AggregateId::random(),
            aggregate_version: Version(1),
            created: chrono::Utc::now(),
            event_type: "Tested".to_owned(),
            data: "{}".to_owned(),
            event_id: EventId::random(),
            schema_version: 1,
            metadata: Metadata::default(),
        }
    }

    fn positions(events: &[RecordedEvent]) -> Vec<u64> {
        events.iter().map(|event| event.position.0).collect()
    }

    #[test]
    fn a_kept_run_answers_reads_inside_it_and_nothing_outside() {
        let tail = Tail::default();
        tail.put(Position(10), &[event(11), event(12), event(13)]);
        assert_eq!(tail.get(Position(10), 2).map(|page| positions(&page)), Some(vec![11, 12]));
        assert_eq!(tail.get(Position(11), 10).map(|page| positions(&page)), Some(vec![12, 13]));
        assert!(tail.get(Position(13), 10).is_none(), "after the run's end, the store must answer");
        assert!(tail.get(Position(9), 10).is_none(), "before the run, events may be missing");
    }

    #[test]
    fn a_page_that_continues_the_run_extends_it_and_any_other_replaces_it() {
        let tail = Tail::default();
        tail.put(Position(0), &[event(1), event(2)]);
        tail.put(Position(2), &[event(3)]);
        assert_eq!(tail.get(Position(0), 10).map(|page| positions(&page)), Some(vec![1, 2, 3]));
        tail.put(Position(7), &[event(8)]);
        assert!(tail.get(Position(0), 10).is_none(), "the old run was replaced, not joined across a gap");
        assert_eq!(tail.get(Position(7), 10).map(|page| positions(&page)), Some(vec![8]));
    }

    #[test]
    fn the_run_keeps_only_the_newest_events() {
        let tail = Tail::default();
        let many: Vec<RecordedEvent> = (1..=limits::TAIL_EVENTS_MAX as u64 + 5).map(event).collect();
        tail.put(Position(0), &many);
        assert!(tail.get(Position(0), 1).is_none(), "the oldest events were dropped");
        assert_eq!(tail.get(Position(5), 1).map(|page| positions(&page)), Some(vec![6]));
    }
}
