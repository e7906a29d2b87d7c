//! Moves WAL frames back into the database file on its own thread.
//!
//! By default SQLite checkpoints inside whichever commit crosses 1,000 WAL
//! pages, which would put that copying (and its sync of the database file)
//! on the group-commit writer — the one thread every append waits for. The
//! writer turns automatic checkpoints off and nudges this thread after each
//! commit instead; it runs a `PASSIVE` checkpoint, which never blocks the
//! writer or readers, at most every [`CHECKPOINT_INTERVAL_MILLIS`].
//!
//! Under a steady stream of commits a passive checkpoint never catches up
//! with the writer, so SQLite never starts the WAL over: it grew to 280 MB
//! in a 10-second benchmark, and every checkpoint sorted all of its frames
//! again. Once the WAL holds [`WAL_FRAMES_RESTART_MIN`] frames, a `RESTART`
//! checkpoint copies the rest and lets the next commit start the WAL from
//! the beginning; it holds writers back for at most
//! [`RESTART_WAIT_MAX_MILLIS`] while readers of old frames finish, and
//! gives up (to try again later) rather than wait longer.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use es_core::StoreError;

use crate::pool::{self, Durability};

/// Shortest pause between two checkpoints.
const CHECKPOINT_INTERVAL_MILLIS: u64 = 50;

/// WAL frames (pages) from which a checkpoint starts the WAL over: 16 MB
/// with SQLite's 4 KB pages.
const WAL_FRAMES_RESTART_MIN: i64 = 4_096;

/// Longest a restarting checkpoint waits for readers, holding writers back.
const RESTART_WAIT_MAX_MILLIS: u64 = 20;

/// Wakes the checkpointer after a commit; never blocks. The log's writer
/// and every read model of the file hold one (no connection checkpoints
/// by itself).
#[derive(Clone, Debug)]
pub(crate) struct Nudge(SyncSender<()>);

impl Nudge {
    pub(crate) fn commit_happened(&self) {
        match self.0.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

/// Starts the checkpointer for the database at `path`. It ends when the
/// returned [`Nudge`] and all its clones are dropped, after a last
/// checkpoint.
pub(crate) fn spawn(path: PathBuf, durability: Durability) -> Result<Nudge, StoreError> {
    let connection = pool::open(&path, durability).map_err(StoreError::backend)?;
    // Only a restarting checkpoint waits, and it must not wait long.
    connection.busy_timeout(Duration::from_millis(RESTART_WAIT_MAX_MILLIS)).map_err(StoreError::backend)?;
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
    // The row is (busy, frames in the WAL, frames checkpointed).
    let passive = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(1));
    match passive {
        Ok(frames) if frames >= WAL_FRAMES_RESTART_MIN => {
            let restart = connection.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get::<_, i64>(0));
            match restart {
                Ok(0) => {}
                Ok(_) => tracing::debug!(frames, "the WAL is still in use; restarting it later"),
                Err(error) => tracing::warn!(%error, "restarting the WAL failed; the next checkpoint will retry"),
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "WAL checkpoint failed; the next one will retry"),
    }
}
