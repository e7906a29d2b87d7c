//! The backend every route test runs against, as the binary composes it: a `Shop` on a real SQLite file, the shop's
//! read models in the same file, and one background `ProjectionRunner` per read model, so that read-your-writes is
//! tested the way it happens in production (the test never catches the read models up by hand).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use es_core::{CancellationToken, EventLog, ManualClock, ProjectionRunner, SnapshotStore};
use es_sqlite::{Durability, SqliteEventStore};
use tempfile::TempDir;
use ticketing_app::queries::ReadSide;
use ticketing_app::{RandomTicketCodes, Shop};
use ticketing_sqlite::{ReadModels, SqliteQueries};

/// The shop's clock at the start of every test.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 10, 0, 0).single().expect("a valid time")
}

/// A shop and its read models on a fresh file, with projections running until this is dropped.
pub(crate) struct Backend {
    /// The shop's log and command handlers.
    pub(crate) shop: Arc<Shop>,
    /// The read models' answers.
    pub(crate) queries: ReadSide,
    runners: CancellationToken,
    _dir: TempDir,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.runners.cancel();
    }
}

/// Opens a backend and starts its projection runners on the current tokio runtime.
pub(crate) fn backend() -> Backend {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store =
        Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal).expect("the store opens"));
    let clock = Arc::new(ManualClock::new(start()));
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    let read_models = ReadModels::open(&store).expect("the read models open");
    let queries = SqliteQueries::open(&read_models).expect("the queries open");
    let log = EventLog::new(store, clock.clone());
    let shop = Arc::new(Shop::new(log.clone(), Some(snapshots), clock.clone(), Arc::new(RandomTicketCodes)));
    let runners = CancellationToken::new();
    for projection in read_models.projections() {
        tokio::spawn(ProjectionRunner::new(log.clone(), projection).run(runners.clone()));
    }
    Backend { shop, queries: ReadSide::of(Arc::new(queries)), runners, _dir: dir }
}
