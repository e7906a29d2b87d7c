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
//! **A failed sync stops the log.** On Linux a failed `fsync` may drop the
//! dirty pages it was asked to write, and a later sync that succeeds says
//! nothing about them: acknowledging a later batch after a later sync could
//! acknowledge events whose predecessors are lost. So the first failed sync
//! halts the log ([`Halt`]): its batches and every later one are answered
//! "unavailable", the writer refuses new appends, and readiness reports it,
//! until the process restarts and SQLite recovers the WAL.
//!
//! [`Durability::Full`]: crate::Durability::Full

use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use es_core::{AppendError, Appended, Position, StoreError};
use tokio::sync::{oneshot, watch};

use crate::writer::WriterStats;

/// Batches waiting for the flusher; the writer blocks beyond this, which
/// bounds how far commits run ahead of the disk.
const BATCHES_AHEAD_MAX: usize = 64;

pub(crate) type Reply = oneshot::Sender<Result<Appended, AppendError>>;

/// Why the log stopped accepting appends, once it has: set by the first
/// failed sync, never cleared (a restart recovers the WAL).
#[derive(Debug, Default)]
pub(crate) struct Halt {
    reason: Mutex<Option<String>>,
}

impl Halt {
    pub(crate) fn halt(&self, reason: String) {
        self.reason.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(reason);
    }

    pub(crate) fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

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
        /// Set once a sync has failed.
        halt: Arc<Halt>,
    },
}

impl Acknowledger {
    /// A flusher syncing `wal`.
    pub(crate) fn pipelined(
        wal: File,
        commits: watch::Sender<Position>,
        stats: Arc<WriterStats>,
        halt: Arc<Halt>,
    ) -> Result<Self, StoreError> {
        let (jobs, received) = std::sync::mpsc::sync_channel(BATCHES_AHEAD_MAX);
        let unsynced = Arc::new(AtomicUsize::new(0));
        let flushed = Arc::clone(&unsynced);
        let halted = Arc::clone(&halt);
        let flusher = std::thread::Builder::new()
            .name("es-sqlite-flush".into())
            .spawn(move || flush(|| wal.sync_data(), &received, &commits, &stats, &flushed, &halted))
            .map_err(StoreError::backend)?;
        Ok(Acknowledger::Pipelined { jobs: Some(jobs), flusher: Some(flusher), unsynced, halt })
    }

    /// Why the log stopped accepting appends, if it has.
    pub(crate) fn halted(&self) -> Option<String> {
        match self {
            Acknowledger::Immediate { .. } => None,
            Acknowledger::Pipelined { halt, .. } => halt.reason(),
        }
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
    mut sync: impl FnMut() -> std::io::Result<()>,
    received: &std::sync::mpsc::Receiver<Acknowledgement>,
    commits: &watch::Sender<Position>,
    stats: &WriterStats,
    unsynced: &AtomicUsize,
    halt: &Halt,
) {
    let mut ready = Vec::new();
    while let Ok(first) = received.recv() {
        ready.push(first);
        while let Ok(next) = received.try_recv() {
            ready.push(next);
        }
        // After a failed sync no later sync proves anything: acknowledge nothing more.
        let synced = match halt.reason() {
            Some(reason) => Err(std::io::Error::other(reason)),
            None => {
                stats.syncs.fetch_add(1, Ordering::Relaxed);
                sync()
            }
        };
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
                let message = format!("commit not confirmed durable: {error}");
                if halt.reason().is_none() {
                    tracing::error!(%error, "syncing the WAL failed; the log accepts no more appends until restarted");
                    halt.halt(format!("the log stopped after a failed sync of its WAL ({error}); restart the process"));
                }
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use es_core::Commit;

    use super::*;

    /// A batch of one append, and the receiver of its answer.
    fn batch(position: u64) -> (Acknowledgement, oneshot::Receiver<Result<Appended, AppendError>>) {
        let (reply, answer) = oneshot::channel();
        let appended = Ok(Appended::Committed(Commit { position: Some(Position(position)), versions: Vec::new() }));
        (Acknowledgement { answers: vec![(reply, appended)], position: Position(position) }, answer)
    }

    #[test]
    fn after_a_failed_sync_nothing_more_is_acknowledged_even_when_later_syncs_would_succeed() {
        let (jobs, received) = std::sync::mpsc::sync_channel(8);
        let commits = watch::Sender::new(Position::START);
        let halt = Arc::new(Halt::default());
        let syncs = Arc::new(AtomicUsize::new(0));
        let flusher = {
            let (commits, halt, syncs) = (commits.clone(), Arc::clone(&halt), Arc::clone(&syncs));
            std::thread::spawn(move || {
                let mut outcomes = VecDeque::from([Ok(()), Err(std::io::Error::other("EIO"))]);
                let sync = || {
                    syncs.fetch_add(1, Ordering::SeqCst);
                    outcomes.pop_front().unwrap_or(Ok(()))
                };
                flush(sync, &received, &commits, &WriterStats::default(), &AtomicUsize::new(3), &halt);
            })
        };
        // One batch per sync: the next is handed over once the last is answered.
        let mut acknowledged = Vec::new();
        for position in 1..=3 {
            let (acknowledgement, answer) = batch(position);
            jobs.send(acknowledgement).expect("the flusher runs");
            acknowledged.push(matches!(answer.blocking_recv(), Ok(Ok(_))));
        }
        drop(jobs);
        flusher.join().expect("the flusher ends");

        assert_eq!(acknowledged, [true, false, false], "the failed batch and every later one are refused");
        assert_eq!(syncs.load(Ordering::SeqCst), 2, "no sync is trusted after a failed one, so none is tried");
        assert!(halt.reason().is_some_and(|reason| reason.contains("restart")), "the log says it stopped");
        assert_eq!(*commits.borrow(), Position(1), "subscribers never hear of a batch after the failed sync");
    }
}
