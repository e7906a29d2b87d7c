//! Acknowledging appends only once they are durable, without making the
//! writer wait for the disk.
//!
//! With `synchronous=FULL`, SQLite syncs the WAL inside every commit, so the
//! group-commit writer sits idle for the length of a sync before it can even
//! start the next transaction. Instead, with [`Durability::Full`] the writer
//! commits with `synchronous=NORMAL` (frames written, no sync) and hands the
//! batch's answers to a flusher thread. The flusher syncs the `-wal` file
//! once for every batch that arrived meanwhile and only then answers the
//! callers and wakes subscribers. Meanwhile the writer already builds the
//! next transaction: one core writes while the disk syncs.
//!
//! This is exactly as durable as `FULL`: WAL recovery keeps the longest
//! prefix of frames ending in a valid commit frame, so once the file is
//! synced past a batch's commit frame that batch survives a power cut, and
//! nothing later can survive without it. A caller is never answered before
//! its sync.
//!
//! [`Durability::Full`]: crate::Durability::Full

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use es_core::{AppendError, Appended, Position, StoreError};
use tokio::sync::{oneshot, watch};

use crate::writer::WriterStats;

/// Batches waiting for the flusher; the writer blocks beyond this, which
/// bounds how far commits run ahead of the disk.
const BATCHES_AHEAD_MAX: usize = 64;

pub(crate) type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// One committed batch's answers.
pub(crate) struct Acknowledgement {
    pub(crate) answers: Vec<(Reply, Result<Appended, AppendError>)>,
    pub(crate) position: Position,
}

/// Answers callers once their batch is durable.
pub(crate) enum Acknowledger {
    /// SQLite synced at commit, or durability is not asked for: answer now.
    Immediate { commits: watch::Sender<Position> },
    /// A flusher thread syncs the WAL file, then answers.
    Pipelined {
        jobs: Option<std::sync::mpsc::SyncSender<Acknowledgement>>,
        flusher: Option<JoinHandle<()>>,
        /// Batches handed to the flusher and not yet answered.
        unsynced: Arc<AtomicUsize>,
    },
}

impl Acknowledger {
    /// A flusher syncing `wal`.
    pub(crate) fn pipelined(
        wal: File,
        commits: watch::Sender<Position>,
        stats: Arc<WriterStats>,
    ) -> Result<Self, StoreError> {
        let (jobs, received) = std::sync::mpsc::sync_channel(BATCHES_AHEAD_MAX);
        let unsynced = Arc::new(AtomicUsize::new(0));
        let flushed = Arc::clone(&unsynced);
        let flusher = std::thread::Builder::new()
            .name("es-sqlite-flush".into())
            .spawn(move || flush(&wal, &received, &commits, &stats, &flushed))
            .map_err(StoreError::backend)?;
        Ok(Acknowledger::Pipelined { jobs: Some(jobs), flusher: Some(flusher), unsynced })
    }

    /// Whether the flusher is still syncing batches committed earlier: a
    /// batch committed now would not be synced before those anyway.
    pub(crate) fn syncing(&self) -> bool {
        match self {
            Acknowledger::Immediate { .. } => false,
            Acknowledger::Pipelined { unsynced, .. } => unsynced.load(Ordering::Acquire) > 0,
        }
    }

    /// Answers a committed batch (now, or after its sync).
    pub(crate) fn acknowledge(&self, acknowledgement: Acknowledgement) {
        match self {
            Acknowledger::Immediate { commits } => {
                commits.send_replace(acknowledgement.position);
                answer(acknowledgement.answers);
            }
            Acknowledger::Pipelined { jobs, unsynced, .. } => {
                let jobs = jobs.as_ref().expect("the flusher channel lives until finish()");
                unsynced.fetch_add(1, Ordering::AcqRel);
                if let Err(returned) = jobs.send(acknowledgement) {
                    unsynced.fetch_sub(1, Ordering::AcqRel);
                    // The flusher is gone (it only stops after a panic): the
                    // batch is committed but its durability is unknown.
                    fail(returned.0.answers, "the WAL flusher has stopped");
                }
            }
        }
    }

    /// Waits until every batch handed over has been answered.
    pub(crate) fn finish(&mut self) {
        if let Acknowledger::Pipelined { jobs, flusher, .. } = self {
            jobs.take();
            if let Some(flusher) = flusher.take() {
                let _ = flusher.join();
            }
        }
    }
}

fn flush(
    wal: &File,
    received: &std::sync::mpsc::Receiver<Acknowledgement>,
    commits: &watch::Sender<Position>,
    stats: &WriterStats,
    unsynced: &AtomicUsize,
) {
    let mut ready = Vec::new();
    while let Ok(first) = received.recv() {
        ready.push(first);
        while let Ok(next) = received.try_recv() {
            ready.push(next);
        }
        let synced = wal.sync_data();
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        let position = ready.iter().map(|batch| batch.position).max().unwrap_or_default();
        // Before answering: a caller answered now may append at once, and
        // the writer must not linger for a sync that is already over.
        unsynced.fetch_sub(ready.len(), Ordering::AcqRel);
        match synced {
            Ok(()) => {
                commits.send_replace(position);
                for batch in ready.drain(..) {
                    answer(batch.answers);
                }
            }
            Err(error) => {
                tracing::error!(%error, "syncing the WAL failed; callers are told the outcome is unknown");
                let message = format!("commit not confirmed durable: {error}");
                for batch in ready.drain(..) {
                    fail(batch.answers, &message);
                }
            }
        }
    }
}

fn answer(answers: Vec<(Reply, Result<Appended, AppendError>)>) {
    for (reply, answer) in answers {
        // A caller that stopped waiting still had its events committed; it
        // will find them (or its command id) when it looks.
        let _ = reply.send(answer);
    }
}

fn fail(answers: Vec<(Reply, Result<Appended, AppendError>)>, message: &str) {
    for (reply, _) in answers {
        let _ = reply.send(Err(StoreError::Unavailable(message.to_owned()).into()));
    }
}
