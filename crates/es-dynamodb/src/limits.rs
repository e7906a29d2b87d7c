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

/// Longest pause between attempts when transactions collide.
pub const CONTENTION_BACKOFF_MAX: Duration = Duration::from_millis(200);

/// Aggregates whose current version a store remembers, so that an append at
/// a version it has seen needs no read to prove that version exists.
pub const KNOWN_VERSIONS_MAX: usize = 100_000;

/// Positions per partition of the index table: an index batch's partition
/// key is `First / EPOCH_POSITIONS`, so one partition never holds more than
/// this many positions and a full read walks the partitions in order. Only
/// the indexer writes there, one item per batch of many events.
pub const EPOCH_POSITIONS: u64 = 1_000_000;

/// Events in one index batch. Each run of an aggregate costs at most ~60
/// bytes of the batch item, so even a batch of single-event runs stays far
/// below the 400 KB item limit.
pub const INDEX_BATCH_EVENTS_MAX: usize = 4_096;

/// Attempts of one append when transactions collide or DynamoDB throttles,
/// of one index batch when another indexer wrote the same position first,
/// and of a batch read that DynamoDB leaves partly unprocessed. Past it the
/// call gives up as `Unavailable` (an append has then written nothing).
pub const ATTEMPTS_MAX: u32 = 64;

/// Keys in one `BatchGetItem` call.
pub const BATCH_GET_KEYS_MAX: usize = 100;
