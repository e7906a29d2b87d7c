//! Every bound the HTTP layer enforces, in one place, so a reader sees what the API accepts without reading the
//! handlers (see docs/style.md, rule 1).

use std::time::Duration;

/// The largest request body any route accepts. Commands are small JSON documents; anything larger is a mistake
/// or an attack, and buffering it would cost memory per connection.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

/// The longest bearer token read from an `Authorization` header. Cognito access tokens are about 1 KiB; a longer
/// one is refused before any base64 decoding or signature work is spent on it.
pub const BEARER_TOKEN_BYTES_MAX: usize = 8 * 1024;

/// How far the clocks of the token issuer and this server may disagree when checking `exp` and `iat`.
pub const TOKEN_CLOCK_SKEW_MAX: Duration = Duration::from_secs(30);

/// The lifetime of a locally issued token when the caller does not choose one; Cognito's default for access
/// tokens is one hour too.
pub const TOKEN_LIFETIME_DEFAULT: Duration = Duration::from_secs(60 * 60);

/// The size of a signing secret: a new one has exactly this many random bytes (256 bits, the HS256 key size) and a
/// stored one with fewer is refused as truncated.
pub const SECRET_BYTES_MIN: usize = 32;

/// The largest signing secret file read; an operator may supply a longer key than ours, but not an arbitrary file.
pub const SECRET_BYTES_MAX: usize = 1024;

/// What a 503 for a command that kept conflicting (`AppError::Busy`) advises in `Retry-After`: contention on one
/// aggregate passes within moments, and retrying with the same `Idempotency-Key` is safe.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How many events the ticket index reads from the log per page while catching up.
pub const TICKET_INDEX_PAGE_EVENTS: u32 = 500;

/// How long a successful command's response waits for the read models to reach the log's head as read right after
/// the command, so that the same client's next GET shows what it did. Past this the response goes out anyway, with
/// a warning: a lagging projection slows answers down but never fails a command that is already committed.
pub const READ_YOUR_WRITES_WAIT_MAX: Duration = Duration::from_secs(2);

/// How long to sleep between two looks at the read models' position while waiting for them. Projections advance
/// without a signal this process can wait on, so the wait polls; a look costs one checkpoint read per read model.
pub const READ_YOUR_WRITES_POLL_INTERVAL: Duration = Duration::from_millis(2);

/// The largest log position a client may name (`?after=`, `Last-Event-ID`): the log's backends keep positions as
/// signed 64-bit integers (SQLite's `INTEGER`), so no event can lie beyond it, and a larger one is a 400 rather than
/// a position the store cannot even be asked about.
pub const LOG_POSITION_MAX: u64 = i64::MAX as u64;

/// Events in a page of `GET /events` when the caller does not say.
pub const EVENTS_PAGE_DEFAULT: u32 = 100;

/// Most events in a page of `GET /events`: the log is read on request, and an administrator's tool pages on.
pub const EVENTS_PAGE_MAX: u32 = 1_000;

/// Most live streams of the log (`GET /events/live`) open at once: each holds a subscription that reads the log on
/// every commit, and the live view is an organiser's tool, not a public feed.
pub const LIVE_STREAMS_MAX: usize = 32;

/// Longest a live stream stays open; the client then reconnects with `Last-Event-ID`, which checks its token again.
pub const LIVE_STREAM_DURATION_MAX: Duration = Duration::from_secs(5 * 60);

/// How often an idle live stream sends a comment, so that proxies and the client see the connection is alive.
pub const LIVE_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Most events a live stream reads from the log at once.
pub const LIVE_BATCH_EVENTS: u32 = 100;
