//! Group commit: one writer thread owns the only write connection to the
//! log. Appends from any number of tasks queue on a bounded channel; the
//! writer drains whatever is waiting (up to [`APPENDS_PER_COMMIT_MAX`]),
//! checks each request's expected versions against its in-memory map of
//! stream heads, writes every admissible request in one transaction, syncs
//! once, and then answers each caller — a conflict fails only its own
//! request, never the batch.
//!
//! So throughput rises with concurrency: at one writer every append pays a
//! full sync; at 64, one sync carries dozens of appends. And because a single
//! thread assigns positions in commit order, a reader at position `p` can
//! never later find an event below `p` (no in-flight gaps).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, CommandId, CommandRecord, Commit, Position, StoreError, Version,
    VersionConflict, format_created,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::mpsc;

use crate::checkpointer::Nudge;
use crate::flush::{Acknowledgement, Acknowledger, Reply};
use crate::rows::sql_int;

/// Most appends that share one transaction and one sync.
pub(crate) const APPENDS_PER_COMMIT_MAX: usize = 512;

/// Appends waiting for the writer; callers beyond this wait to enqueue,
/// which is the backpressure of the whole write path.
pub(crate) const APPEND_QUEUE_MAX: usize = 4_096;

/// Below this many appends the writer lingers while the flusher syncs.
const LINGER_BATCH_BELOW: usize = 64;

/// Longest the writer lingers before committing a small batch.
const LINGER_MICROS_MAX: u64 = 500;

/// How often a lingering writer looks for more appends.
const LINGER_STEP_MICROS: u64 = 50;

/// Stream heads the writer remembers; past this it forgets them all and
/// reads heads from the table again as needed.
const STREAM_HEADS_MAX: usize = 1_000_000;

/// What the writer has done since the store opened. `appends / commits` is
/// the average number of appends that shared one transaction and one sync.
#[derive(Debug, Default)]
pub struct WriterStats {
    commits: AtomicU64,
    appends: AtomicU64,
    conflicts: AtomicU64,
    pub(crate) syncs: AtomicU64,
}

impl WriterStats {
    /// Transactions committed.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Append requests answered by a committed transaction (including
    /// conflicts and idempotent repeats, which were answered in one).
    pub fn appends(&self) -> u64 {
        self.appends.load(Ordering::Relaxed)
    }

    /// Append requests refused with a version conflict.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Syncs of the WAL file by the flusher (0 when SQLite syncs itself).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

pub(crate) struct PendingAppend {
    pub(crate) request: AppendRequest,
    pub(crate) reply: Reply,
}

pub(crate) type AppendSender = mpsc::Sender<PendingAppend>;

/// Starts the writer thread over `connection`. It ends when every sender is
/// dropped, after answering what is queued.
pub(crate) fn spawn(
    connection: Connection,
    acknowledger: Acknowledger,
    stats: Arc<WriterStats>,
    checkpointer: Nudge,
) -> Result<(AppendSender, std::thread::JoinHandle<()>), StoreError> {
    let (sender, receiver) = mpsc::channel(APPEND_QUEUE_MAX);
    connection.pragma_update(None, "wal_autocheckpoint", 0).map_err(StoreError::backend)?;
    let mut writer = Writer::new(connection, acknowledger, stats, checkpointer)?;
    let handle = std::thread::Builder::new()
        .name("es-sqlite-writer".into())
        .spawn(move || writer.run(receiver))
        .map_err(StoreError::backend)?;
    Ok((sender, handle))
}

struct Writer {
    connection: Connection,
    acknowledger: Acknowledger,
    /// Versions of streams as committed; filled lazily from the table.
    heads: HashMap<AggregateId, Version>,
    /// Position of the last committed event, as this writer knows it.
    last_position: u64,
    stats: Arc<WriterStats>,
    checkpointer: Nudge,
}

/// What one request of a batch turned into, before the batch commits.
enum Outcome {
    Written(Commit),
    Answered(Result<Appended, AppendError>),
}

impl Writer {
    fn new(
        connection: Connection,
        acknowledger: Acknowledger,
        stats: Arc<WriterStats>,
        checkpointer: Nudge,
    ) -> Result<Self, StoreError> {
        let last_position = max_position(&connection).map_err(StoreError::backend)?;
        Ok(Self { connection, acknowledger, heads: HashMap::new(), last_position, stats, checkpointer })
    }

    fn run(&mut self, mut receiver: mpsc::Receiver<PendingAppend>) {
        let mut batch = Vec::with_capacity(APPENDS_PER_COMMIT_MAX);
        while let Some(first) = receiver.blocking_recv() {
            batch.push(first);
            drain(&mut receiver, &mut batch);
            // While the flusher still syncs earlier batches, a small batch
            // committed now would be synced no sooner than one committed
            // once that sync ends; waiting lets it grow, and every commit
            // saved is a transaction's worth of writer time.
            let lingering = Instant::now();
            while batch.len() < LINGER_BATCH_BELOW
                && self.acknowledger.syncing()
                && lingering.elapsed() < Duration::from_micros(LINGER_MICROS_MAX)
            {
                std::thread::sleep(Duration::from_micros(LINGER_STEP_MICROS));
                drain(&mut receiver, &mut batch);
            }
            self.commit_batch(&mut batch);
        }
        self.acknowledger.finish();
    }

    fn commit_batch(&mut self, batch: &mut Vec<PendingAppend>) {
        if let Some(reason) = self.acknowledger.halted() {
            // Nothing written after a failed sync could be acknowledged.
            for pending in batch.drain(..) {
                let _ = pending.reply.send(Err(StoreError::Unavailable(reason.clone()).into()));
            }
            return;
        }
        let requests: Vec<&AppendRequest> = batch.iter().map(|pending| &pending.request).collect();
        let outcomes = match self.write(&requests) {
            Ok(outcomes) => outcomes,
            Err(error) => {
                // Nothing of this batch is committed. Forget what we believed
                // about the table and let each caller decide to retry.
                tracing::error!(%error, "group commit failed; the batch was rolled back");
                self.heads.clear();
                self.last_position = max_position(&self.connection).unwrap_or(self.last_position);
                let message = error.to_string();
                for pending in batch.drain(..) {
                    let error = StoreError::Unavailable(format!("commit failed: {message}"));
                    let _ = pending.reply.send(Err(error.into()));
                }
                return;
            }
        };
        self.checkpointer.commit_happened();
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats.appends.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let answers = batch
            .drain(..)
            .zip(outcomes)
            .map(|(pending, outcome)| {
                let answer = match outcome {
                    Outcome::Written(commit) => Ok(Appended::Committed(commit)),
                    Outcome::Answered(answer) => answer,
                };
                (pending.reply, answer)
            })
            .collect();
        self.acknowledger.acknowledge(Acknowledgement { answers, position: Position(self.last_position) });
    }

    /// Writes the admissible requests in one transaction and commits.
    fn write(&mut self, requests: &[&AppendRequest]) -> rusqlite::Result<Vec<Outcome>> {
        let transaction = self.connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let table_position = max_position(&transaction)?;
        if table_position != self.last_position {
            // Another process appended since our last batch: our heads may be stale.
            self.heads.clear();
            self.last_position = table_position;
        }
        let mut position = self.last_position;
        let mut batch_heads: HashMap<AggregateId, Version> = HashMap::new();
        let mut batch_commands: HashMap<CommandId, CommandRecord> = HashMap::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            // Requests were validated by `SqliteEventStore::append` before they queued.
            if let Some(first) = first_stored(&transaction, &batch_commands, &request.commands)? {
                outcomes.push(Outcome::Answered(Ok(Appended::AlreadyApplied(first))));
                continue;
            }
            if let Some(conflict) = find_conflict(&mut self.heads, &transaction, &batch_heads, request)? {
                self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                outcomes.push(Outcome::Answered(Err(conflict.into())));
                continue;
            }
            let mut versions = Vec::with_capacity(request.streams.len());
            let mut insert = transaction.prepare_cached(
                "INSERT INTO events (Position, AggregateId, AggregateVersion, Created, EventType, Data, EventId, \
                 SchemaVersion, Metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for stream in &request.streams {
                let mut version = head_in_batch(&mut self.heads, &transaction, &batch_heads, stream.aggregate_id)?;
                let aggregate_id = stream.aggregate_id.to_string();
                for event in &stream.events {
                    position += 1;
                    version = version.next();
                    let metadata = (!event.metadata.is_empty())
                        .then(|| serde_json::to_string(&event.metadata).expect("metadata always serializes"));
                    insert.execute(params![
                        sql_int(position),
                        aggregate_id,
                        sql_int(version.0),
                        format_created(event.created),
                        event.event_type,
                        event.data,
                        event.event_id.to_string(),
                        event.schema_version,
                        metadata,
                    ])?;
                }
                batch_heads.insert(stream.aggregate_id, version);
                versions.push((stream.aggregate_id, version));
            }
            for command in &request.commands {
                transaction
                    .prepare_cached("INSERT INTO commands (CommandId, Result, Position) VALUES (?1, ?2, ?3)")?
                    .execute(params![command.command_id.to_string(), command.result, sql_int(position)])?;
                batch_commands.insert(command.command_id, command.clone());
            }
            outcomes.push(Outcome::Written(Commit { position: Some(Position(position)), versions }));
        }
        transaction.commit()?;
        self.last_position = position;
        if self.heads.len() + batch_heads.len() > STREAM_HEADS_MAX {
            self.heads.clear();
        }
        self.heads.extend(batch_heads);
        Ok(outcomes)
    }
}

fn find_conflict(
    heads: &mut HashMap<AggregateId, Version>,
    connection: &Connection,
    batch_heads: &HashMap<AggregateId, Version>,
    request: &AppendRequest,
) -> rusqlite::Result<Option<VersionConflict>> {
    for stream in &request.streams {
        let actual = head_in_batch(heads, connection, batch_heads, stream.aggregate_id)?;
        if !stream.expected.admits(actual) {
            return Ok(Some(VersionConflict { aggregate_id: stream.aggregate_id, expected: stream.expected, actual }));
        }
    }
    Ok(None)
}

/// The stream's version including this batch's uncommitted writes.
fn head_in_batch(
    heads: &mut HashMap<AggregateId, Version>,
    connection: &Connection,
    batch_heads: &HashMap<AggregateId, Version>,
    aggregate_id: AggregateId,
) -> rusqlite::Result<Version> {
    if let Some(version) = batch_heads.get(&aggregate_id) {
        return Ok(*version);
    }
    if let Some(version) = heads.get(&aggregate_id) {
        return Ok(*version);
    }
    let version: Option<i64> = connection
        .prepare_cached("SELECT max(AggregateVersion) FROM events WHERE AggregateId = ?1")?
        .query_row([aggregate_id.to_string()], |row| row.get(0))?;
    let version = Version(version.map_or(0, |version| version.max(0) as u64));
    heads.insert(aggregate_id, version);
    Ok(version)
}

/// Takes whatever else waits, up to a full batch.
fn drain(receiver: &mut mpsc::Receiver<PendingAppend>, batch: &mut Vec<PendingAppend>) {
    while batch.len() < APPENDS_PER_COMMIT_MAX {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

/// Position of the last event in the file (0 when empty).
pub(crate) fn max_position(connection: &Connection) -> rusqlite::Result<u64> {
    let position: Option<i64> =
        connection.prepare_cached("SELECT max(Position) FROM events")?.query_row([], |row| row.get(0))?;
    Ok(position.map_or(0, |position| position.max(0) as u64))
}

/// The first of `commands` already stored, in this batch or before.
fn first_stored(
    connection: &Connection,
    batch: &HashMap<CommandId, CommandRecord>,
    commands: &[CommandRecord],
) -> rusqlite::Result<Option<CommandRecord>> {
    for command in commands {
        let first = match batch.get(&command.command_id) {
            Some(first) => Some(first.clone()),
            None => stored_command(connection, command.command_id)?,
        };
        if first.is_some() {
            return Ok(first);
        }
    }
    Ok(None)
}

pub(crate) fn stored_command(
    connection: &Connection,
    command_id: CommandId,
) -> rusqlite::Result<Option<CommandRecord>> {
    connection
        .prepare_cached("SELECT Result FROM commands WHERE CommandId = ?1")?
        .query_row([command_id.to_string()], |row| row.get::<_, String>(0))
        .optional()
        .map(|result| result.map(|result| CommandRecord { command_id, result }))
}
