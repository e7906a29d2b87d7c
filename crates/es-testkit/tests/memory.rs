//! Runs the whole conformance suite on the in-memory reference backend
//! (`es_core::memory`), so that the suite itself is known to pass on the
//! backend that defines the semantics before any durable backend is held
//! to it.

use std::sync::Arc;

use es_core::async_trait;
use es_core::memory::{InMemoryEventStore, InMemorySnapshots};
use es_testkit::{Backend, BackendFactory};

/// Makes empty in-memory backends.
struct InMemoryFactory;

#[async_trait]
impl BackendFactory for InMemoryFactory {
    async fn fresh(&self) -> Backend {
        Backend {
            store: Arc::new(InMemoryEventStore::new()),
            snapshots: Arc::new(InMemorySnapshots::default()),
            indexer: None,
        }
    }
}

es_testkit::conformance_tests!(InMemoryFactory);
