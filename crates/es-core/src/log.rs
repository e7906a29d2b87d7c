//! [`EventLog`]: the one door through which application code reaches the
//! log. It stamps `Created` from the clock, encodes domain events and upcasts
//! every record it hands out, whichever backend sits behind the
//! [`EventStore`] port (each backend validates appends itself).

use std::sync::Arc;

use thiserror::Error;

use crate::clock::Clock;
use crate::event::{CodecError, DomainEvent, UpcastError, Upcasters};
use crate::ids::{AggregateId, EventId, Position, Version};
use crate::limits;
use crate::record::{Metadata, NewEvent, RecordedEvent};
use crate::store::{AppendError, AppendRequest, Appended, EventStore, StoreError};
use crate::tail::Tail;

/// A record could not be read through the log.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An old record could not be upcast.
    #[error(transparent)]
    Upcast(#[from] UpcastError),
}

/// The event log with its clock and upcasters. Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    upcasters: Arc<Upcasters>,
    /// The newest events as subscribers read them (`tail.rs`).
    tail: Arc<Tail>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog").field("upcasters", &self.upcasters).finish_non_exhaustive()
    }
}

impl EventLog {
    /// A log over `store`, stamping times from `clock`, with no upcasters.
    pub fn new(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, upcasters: Arc::new(Upcasters::new()), tail: Arc::new(Tail::default()) }
    }

    /// The same log, upcasting with `upcasters` on every read.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = Arc::new(upcasters);
        // What was kept was upcast differently.
        self.tail = Arc::new(Tail::default());
        self
    }

    /// The storage port, for the few callers that need it raw (a bus that
    /// forwards records verbatim, the admin view of the log).
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The clock stamping `Created`.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Serializes a domain event into a record ready to append.
    pub fn encode<E: DomainEvent>(&self, event: &E, metadata: &Metadata) -> Result<NewEvent, CodecError> {
        Ok(NewEvent {
            event_id: EventId::random(),
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            data: event.encode()?,
            created: self.clock.now(),
            metadata: metadata.clone(),
        })
    }

    /// Appends atomically; see [`EventStore::append`] (which validates).
    pub async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        self.store.append(request).await
    }

    /// Every event of one aggregate after `after`, upcast, following pages.
    pub async fn load(&self, aggregate_id: AggregateId, after: Version) -> Result<Vec<RecordedEvent>, ReadError> {
        let mut events = Vec::new();
        let mut after = after;
        loop {
            let page = self.store.load(aggregate_id, after, limits::READ_PAGE_MAX).await?;
            let full = page.len() == limits::READ_PAGE_MAX as usize;
            if let Some(last) = page.last() {
                after = last.aggregate_version;
            }
            events.reserve(page.len());
            for record in page {
                events.push(self.upcasters.upcast(record)?);
            }
            if !full {
                return Ok(events);
            }
        }
    }

    /// One page of the whole log after `after`, upcast.
    pub async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, ReadError> {
        let page = self.store.read_all(after, limit.min(limits::READ_PAGE_MAX)).await?;
        self.upcast_all(page)
    }

    /// Like [`EventLog::read_all`], for subscribers: the events may come from
    /// the newest stretch another subscriber of this log just read, in a
    /// page shorter than `limit` even though more events follow; an empty
    /// page always comes from the store.
    pub(crate) async fn read_all_shared(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, ReadError> {
        if limit as usize > limits::TAIL_PAGE_EVENTS_MAX {
            // A reader catching up alone (a rebuild) shares nothing.
            return self.read_all(after, limit).await;
        }
        if let Some(page) = self.tail.get(after, limit) {
            return Ok(page);
        }
        let _turn = self.tail.reading().await;
        if let Some(page) = self.tail.get(after, limit) {
            return Ok(page);
        }
        let page = self.read_all(after, limit).await?;
        self.tail.put(after, &page);
        Ok(page)
    }

    fn upcast_all(&self, records: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>, ReadError> {
        if self.upcasters.is_empty() {
            return Ok(records);
        }
        records.into_iter().map(|record| Ok(self.upcasters.upcast(record)?)).collect()
    }
}
