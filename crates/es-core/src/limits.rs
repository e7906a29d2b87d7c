//! Every bound the kernel enforces, in one place, so that a reader can see the
//! limits of the system without hunting for magic numbers. Names carry the
//! qualifier last (`…_MAX`), as in TigerBeetle's style guide.

/// Most events one append may carry over all its aggregates. DynamoDB's
/// `TransactWriteItems` takes 100 actions; an append needs one per event and
/// per command record, and at most two version checks per aggregate (see
/// [`RECORDS_PER_APPEND_MAX`]). Keeping the kernel's limits inside that
/// means every backend can honour the same atomicity.
pub const EVENTS_PER_APPEND_MAX: usize = 64;

/// Most records one append may write: events plus command records (one per
/// command id carried; commands sharing an append carry one each). With two
/// version checks per aggregate: 66 + 2 × 16 = 98 of DynamoDB's 100 actions.
/// A single command with the most events and its id fits.
pub const RECORDS_PER_APPEND_MAX: usize = EVENTS_PER_APPEND_MAX + 2;

/// Most aggregates one atomic append may touch.
pub const AGGREGATES_PER_APPEND_MAX: usize = 16;

/// Most `Data` bytes one append may carry over all its events. DynamoDB's
/// transactions stop at 4 MB in all; the records' other attributes need the
/// rest.
pub const APPEND_DATA_BYTES_MAX: usize = 3 * 1024 * 1024;

/// Largest `Data` payload of one event, in bytes. DynamoDB items stop at
/// 400 KB; the rest of the record and its metadata must fit beside it.
pub const EVENT_DATA_BYTES_MAX: usize = 256 * 1024;

/// Longest `EventType` name.
pub const EVENT_TYPE_BYTES_MAX: usize = 128;

/// Most events one `read_all` or `load` page returns.
pub const READ_PAGE_MAX: u32 = 10_000;

/// Events a subscription asks for per batch when the caller does not say.
pub const SUBSCRIPTION_BATCH_DEFAULT: u32 = 1_000;

/// How often a repository retries a command after a version conflict before
/// giving up with [`crate::RepositoryError::TooManyConflicts`]. Every conflict
/// means another writer committed, so the shop as a whole moves on; the limit
/// only stops one command from losing for ever. Within one process commands on
/// an aggregate take turns and rarely conflict; several processes on one
/// DynamoDB log (four servers, 400 fans, one concert: `cargo test -p
/// cloudbash --test scale`) made some commands lose 8 rounds in a row, and
/// none 32 in the runs made. The request's time limit bounds the wait as well.
pub const COMMAND_ATTEMPTS_MAX: u32 = 32;

/// Ceiling of the pause after a first version conflict; it doubles with
/// each further conflict of the same command.
pub const CONFLICT_BACKOFF_BASE_MICROS: u64 = 1_000;

/// Ceiling of the pause between attempts of one command, however many
/// conflicts it met.
pub const CONFLICT_BACKOFF_MAX_MICROS: u64 = 50_000;

/// Aggregate states kept in a repository's in-memory cache.
pub const CACHED_AGGREGATES_MAX: usize = 10_000;

/// A repository writes a snapshot once this many events have accumulated
/// since the last one.
pub const SNAPSHOT_EVERY_EVENTS: u64 = 100;

/// Longest a live subscription sleeps when no commit has woken it. Commits in
/// this process wake it at once; the timer only catches writers in another
/// process that share the same log.
pub const IDLE_WAKE_MILLIS: u64 = 1_000;

/// Longest pause between retries when a projection keeps failing.
pub const PROJECTION_RETRY_BACKOFF_MAX_MILLIS: u64 = 5_000;

/// Stripes of a repository's per-aggregate command lock. Commands on one
/// aggregate in one process take turns instead of conflicting; distinct
/// aggregates rarely share a stripe.
pub const COMMAND_LOCK_STRIPES: usize = 1_024;

/// Newest events a log keeps in memory for its subscribers, so that a
/// commit read by every subscriber of a process is read from the store once.
pub const TAIL_EVENTS_MAX: usize = 8_192;

/// Largest page a subscriber shares through the newest events in memory;
/// larger pages are read by one catching-up reader (a rebuild, a replay)
/// that nobody follows closely.
pub const TAIL_PAGE_EVENTS_MAX: usize = 2_048;
