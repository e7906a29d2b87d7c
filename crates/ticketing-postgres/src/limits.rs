//! Every bound this crate enforces, in one place. Names carry the qualifier
//! last (`…_MAX`).

/// Connections in the pool that [`crate::connect`] opens. Lambda functions
/// run one invocation at a time, and a long-running poller applies one batch
/// per shard at a time: a few connections serve both, and many functions
/// times a few stay under PostgreSQL's `max_connections`.
pub const POOL_CONNECTIONS_MAX: u32 = 4;

/// Seconds to wait for a pooled connection before giving up (transient).
pub const POOL_ACQUIRE_SECONDS_MAX: u64 = 10;

/// Attempts of one batch's transaction when it loses to a concurrent one
/// (a deadlock or a serialization failure). Two consumers applying
/// overlapping batches lock rows of the same aggregates; one of them may
/// have to go again, and then finds most of the batch already applied.
pub const APPLY_ATTEMPTS_MAX: u32 = 8;

/// Events `rebuild` reads from the log per page.
pub const REBUILD_PAGE_EVENTS_MAX: u32 = es_core::limits::READ_PAGE_MAX;
