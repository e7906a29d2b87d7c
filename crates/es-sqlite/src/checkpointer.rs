//! Moves WAL frames back into the database file on its own thread.
//!
//! By default SQLite checkpoints inside whichever commit crosses 1,000 WAL
//! pages, which would put that copying (and its sync of the database file)
//! on the group-commit writer — the one thread every append waits for. The
//! writer turns automatic checkpoints off and nudges this thread after each
//! commit instead; it runs a `PASSIVE` checkpoint, which never blocks the
//! writer or readers, at most every [`CHECKPOINT_INTERVAL_MILLIS`].

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use es_core::StoreError;

use crate::pool::{self, Durability};

/// Shortest pause between two checkpoints.
const CHECKPOINT_INTERVAL_MILLIS: u64 = 50;

/// Wakes the checkpointer after a commit; never blocks.
#[derive(Debug)]
pub(crate) struct Nudge(SyncSender<()>);

impl Nudge {
    pub(crate) fn commit_happened(&self) {
        match self.0.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

/// Starts the checkpointer for the database at `path`. It ends when the
/// returned [`Nudge`] is dropped, after a last checkpoint.
pub(crate) fn spawn(path: PathBuf, durability: Durability) -> Result<Nudge, StoreError> {
    let connection = pool::open(&path, durability).map_err(StoreError::backend)?;
    let (nudge, nudges) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("es-sqlite-checkpoint".into())
        .spawn(move || run(&connection, &nudges))
        .map_err(StoreError::backend)?;
    Ok(Nudge(nudge))
}

fn run(connection: &rusqlite::Connection, nudges: &Receiver<()>) {
    let interval = Duration::from_millis(CHECKPOINT_INTERVAL_MILLIS);
    let mut last = Instant::now();
    loop {
        match nudges.recv() {
            Ok(()) => {}
            Err(_) => {
                checkpoint(connection);
                return;
            }
        }
        // Let commits accumulate: one checkpoint per interval at most.
        let wait = interval.saturating_sub(last.elapsed());
        match nudges.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                checkpoint(connection);
                return;
            }
        }
        checkpoint(connection);
        last = Instant::now();
    }
}

fn checkpoint(connection: &rusqlite::Connection) {
    let result = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(0));
    if let Err(error) = result {
        tracing::warn!(%error, "WAL checkpoint failed; the next one will retry");
    }
}
