//! DynamoDB's own bounds and the backend's tuning, named once. The kernel's
//! limits (`es_core::limits`) are chosen so that every valid append fits
//! these; the backend still checks, because a record's other attributes
//! (metadata, keys) count too.

use std::time::Duration;

/// Actions in one `TransactWriteItems` call.
pub const TRANSACT_ITEMS_MAX: usize = 100;

/// Bytes in one `TransactWriteItems` call, all items together.
pub const TRANSACT_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Bytes in one item, attribute names included.
pub const ITEM_BYTES_MAX: usize = 400 * 1024;

/// Positions per partition of the log-order index: the index's partition
/// key is `Position / LOG_PAGE_EVENTS`, so one partition never holds more
/// than this many entries and a full read walks the partitions in order.
pub const LOG_PAGE_EVENTS: u64 = 4_096;

/// Appends from other processes can move the log's head between this
/// process reading it and committing; each time the append is retried with
/// the head the failed condition returned. Past this many attempts the
/// append gives up as `Unavailable` (nothing was written).
pub const HEAD_ATTEMPTS_MAX: u32 = 64;

/// Longest pause between attempts when transactions collide.
pub const CONTENTION_BACKOFF_MAX: Duration = Duration::from_millis(200);

/// The log-order index is updated asynchronously. A read that finds a gap
/// below the head (a committed position the index does not show yet) waits
/// this long at most for it before answering with the part before the gap.
pub const INDEX_LAG_WAIT_MAX: Duration = Duration::from_secs(5);

/// Pause between looks at the index while waiting for it.
pub const INDEX_LAG_POLL: Duration = Duration::from_millis(20);

/// Positions per partition of the index table: an index batch's partition
/// key is `First / EPOCH_POSITIONS`, so one partition never holds more than
/// this many positions and a full read walks the partitions in order. Only
/// the indexer writes there, one item per batch of many events.
pub const EPOCH_POSITIONS: u64 = 1_000_000;

/// Events in one index batch. Each run of an aggregate costs at most ~60
/// bytes of the batch item, so even a batch of single-event runs stays far
/// below the 400 KB item limit.
pub const INDEX_BATCH_EVENTS_MAX: usize = 4_096;

/// Attempts of one index batch when another indexer wrote the same position
/// first, and of a batch read that DynamoDB leaves partly unprocessed.
pub const ATTEMPTS_MAX: u32 = 64;

/// Keys in one `BatchGetItem` call.
pub const BATCH_GET_KEYS_MAX: usize = 100;
