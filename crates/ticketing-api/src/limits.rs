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

/// `Retry-After` of a 503 when the storage cannot be reached: long enough
/// for a throttled or restarting backend to recover.
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(2);

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

/// How much of an oversized request body is read and thrown away before its 413 goes out. A server that answers
/// while the client is still sending, and then closes, leaves unread bytes in the kernel's receive buffer; the
/// kernel answers those with a TCP reset, which destroys the 413 on its way to the client. Reading the rest first
/// lets the client see the answer. Four times the limit covers a client that overshoots by a few documents, and
/// costs at most that much reading per refused request, never memory (the bytes are discarded as they arrive). A
/// body declared larger than this is refused at once, and the connection closed.
pub const OVERSIZED_BODY_DRAIN_BYTES_MAX: usize = 4 * REQUEST_BODY_BYTES_MAX;

/// How long a client may take to send a request's headers, from the moment the connection is idle (just accepted,
/// or after the previous response). Browsers and API clients send headers in one packet; a connection that stays
/// silent holds a socket and a task for nothing, and thousands of them (slowloris) would shut everyone else out.
/// Ten seconds is generous for a slow mobile link and short enough to free a socket quickly.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server works on one request before answering 503 instead. The slowest legitimate request is a
/// command that waits for a conflict to pass and then up to [`READ_YOUR_WRITES_WAIT_MAX`] for the read models; a
/// request still running after half a minute is stuck, and its caller has long given up. Only the time to the
/// response's head counts, so a live stream of the log (which then streams for minutes) is not cut off. Reading
/// the request body counts too, so a client trickling a body is bounded.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Most connections open at once; past it the server stops accepting, and new connections wait in the kernel's
/// listen queue until one closes. Each costs a file descriptor and a task with its buffers (tens of KiB). 4096 is
/// well above what the flash-sale benchmark opens (256 clients) and below the usual container limit of open files.
pub const CONNECTIONS_MAX: usize = 4096;

/// Most requests being worked on at once; past it a request is refused with a 503 at once (load shedding) rather
/// than queued, because a queue only adds waiting to every request once the log or the read models are the
/// bottleneck. A thousand is four times the flash-sale benchmark's clients, each with one request in flight.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 1024;

/// What a 503 for a full server advises in `Retry-After`: requests in flight finish within moments.
pub const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Commands (POST, PUT, PATCH, DELETE) a caller may send per second on average. A person at the shop sends a
/// command every few seconds; an organiser's script setting up a concert sends a handful at once. Twenty a second
/// stops one caller from flooding the log while never touching a person or the flash-sale benchmark, whose
/// clients each send one command at a time with their own token.
pub const COMMANDS_PER_SECOND: u32 = 20;

/// Commands a caller may send at once after being quiet: the size of its token bucket. Twice the rate, so a
/// script that creates a venue, a concert and its ticket types in a burst is never slowed down.
pub const COMMAND_BURST: u32 = 40;

/// Most callers whose command rate is tracked at once. Callers whose bucket has refilled are forgotten first (they
/// are no different from a caller never seen); only when that frees nothing is the longest-quiet caller dropped.
/// An entry is under a hundred bytes, so the map stays within a few MiB.
pub const RATE_LIMITED_CALLERS_MAX: usize = 65_536;

/// Connections the kernel holds for the server before it accepts them: a burst of new clients, and those waiting
/// while [`CONNECTIONS_MAX`] are open. Past it the kernel drops new connection attempts, which clients retry only
/// after a second or more. The kernel caps it at `net.core.somaxconn` (4096 on current Linux).
pub const LISTEN_BACKLOG: u32 = 4096;

/// When a client told "not ready" may ask again: readiness changes with the
/// log and the read models, which a second is enough to see move.
pub const NOT_READY_RETRY_AFTER: Duration = Duration::from_secs(1);
