//! The kernel's conformance suite on the SQLite backend: the same cases the
//! in-memory reference passes, on a real file in a temporary directory.

use std::sync::{Arc, Mutex};

use es_sqlite::{Durability, SqliteEventStore};
use es_testkit::{Backend, BackendFactory};

/// Each backend lives in its own temporary directory; the factory lives as
/// long as the case and removes the directories when it is dropped.
struct SqliteFactory {
    durability: Durability,
    dirs: Mutex<Vec<tempfile::TempDir>>,
}

impl SqliteFactory {
    fn new(durability: Durability) -> Self {
        Self { durability, dirs: Mutex::default() }
    }
}

#[es_core::async_trait]
impl BackendFactory for SqliteFactory {
    async fn fresh(&self) -> Backend {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), self.durability).expect("open"));
        self.dirs.lock().expect("no test panics while holding the lock").push(dir);
        Backend { store: store.clone(), snapshots: store, indexer: None }
    }
}

/// `synchronous=NORMAL`: answers straight from the writer.
mod normal {
    use super::*;
    es_testkit::conformance_tests!(SqliteFactory::new(Durability::Normal));
}

/// `Durability::Full`: answers from the flusher after the WAL is synced.
mod full {
    use super::*;
    es_testkit::conformance_tests!(SqliteFactory::new(Durability::Full));
}
