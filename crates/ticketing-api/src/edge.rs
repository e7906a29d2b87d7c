//! The limits at the HTTP edge: what protects the server from a misbehaving client, or from itself, before a request
//! reaches a handler. Each answers with a problem like every other error, so clients parse one shape.
//!
//! - A panicking handler becomes a 500 problem, and the connection and the server carry on ([`with_edge`]).
//! - A request still unanswered after [`REQUEST_TIMEOUT`] becomes a 503, and past [`REQUESTS_IN_FLIGHT_MAX`]
//!   requests at once a new one is refused with a 503 at once instead of queueing ([`with_edge`]).
//! - An oversized body is read and thrown away (up to [`OVERSIZED_BODY_DRAIN_BYTES_MAX`]) before its 413 goes out
//!   ([`refuse_oversized_body`]), so that the client reads the 413 instead of a connection reset.
//! - Each caller may send [`COMMANDS_PER_SECOND`] commands a second on average, [`COMMAND_BURST`] at once
//!   ([`limit_commands`]); past that a command is a 429 with `Retry-After`. Reads are not limited here: they
//!   cost no writes to the log, and the in-flight cap bounds them.
//!
//! The header-read timeout and the cap on connections live with the accept loop, in `server.rs`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH, EXPECT, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use uuid::Uuid;

use crate::auth::AuthState;
use crate::json::body_too_large;
use crate::limits::{
    COMMAND_BURST, COMMANDS_PER_SECOND, CONNECTIONS_MAX, HEADER_READ_TIMEOUT, OVERLOADED_RETRY_AFTER,
    OVERSIZED_BODY_DRAIN_BYTES_MAX, RATE_LIMITED_CALLERS_MAX, REQUEST_BODY_BYTES_MAX, REQUEST_TIMEOUT,
    REQUESTS_IN_FLIGHT_MAX,
};
use crate::problem::Problem;

/// The edge limits of one server; [`EdgeLimits::default`] is the production setting, from `limits.rs`. Hosts change
/// single values from their configuration (a short header timeout in a test, a different command rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// How long a client may take to send a request's headers ([`HEADER_READ_TIMEOUT`]).
    pub header_read_timeout: Duration,
    /// How long a request may take to its response's head ([`REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// Most connections open at once ([`CONNECTIONS_MAX`]).
    pub connections_max: usize,
    /// Most requests worked on at once ([`REQUESTS_IN_FLIGHT_MAX`]).
    pub requests_in_flight_max: usize,
    /// Each caller's command rate.
    pub commands: CommandRate,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            connections_max: CONNECTIONS_MAX,
            requests_in_flight_max: REQUESTS_IN_FLIGHT_MAX,
            commands: CommandRate::default(),
        }
    }
}

/// How many commands one caller may send: `per_second` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandRate {
    /// The bucket's refill rate, in commands per second; at least one.
    pub per_second: u32,
    /// The bucket's size; at least one.
    pub burst: u32,
}

impl Default for CommandRate {
    fn default() -> Self {
        Self { per_second: COMMANDS_PER_SECOND, burst: COMMAND_BURST }
    }
}

/// Wraps a whole application (API and pages) in the limits every request shares, outermost first: each request is
/// observed under its id (`request_id.rs`), so that even a panic's or a timeout's problem names it; a panic anywhere
/// below becomes a 500 problem; a request unanswered after `request_timeout` becomes a 503; past
/// `requests_in_flight_max` requests at once, a new one is refused with a 503.
pub fn with_edge(app: Router, limits: &EdgeLimits) -> Router {
    let in_flight = Arc::new(Semaphore::new(limits.requests_in_flight_max));
    app.layer(middleware::from_fn_with_state(in_flight, shed_load))
        .layer(middleware::from_fn_with_state(limits.request_timeout, time_limit))
        .layer(CatchPanicLayer::custom(panic_problem))
        .layer(middleware::from_fn(crate::request_id::observe))
}

/// A 500 problem for a panic; the panic's message goes to the log (through [`Problem::internal`]), not the client.
fn panic_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => text,
        (None, Some(text)) => text.as_str(),
        (None, None) => "a panic without a message",
    };
    Problem::internal(&format_args!("a handler panicked: {message}")).into_response()
}

async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?limit, "a request ran out of time");
            let detail = format!("The request did not complete within {} s.", limit.as_secs_f64());
            Problem::service_unavailable(detail, OVERLOADED_RETRY_AFTER).into_response()
        }
    }
}

async fn shed_load(State(in_flight): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    // The permit is held until the response's head is ready; a streamed body (a live stream of the log) is bounded
    // by its own limit.
    let Ok(_permit) = in_flight.try_acquire_owned() else {
        let detail = "The server is working on as many requests as it takes; try again shortly.";
        return Problem::service_unavailable(detail, OVERLOADED_RETRY_AFTER).into_response();
    };
    next.run(request).await
}

/// Refuses a body over [`REQUEST_BODY_BYTES_MAX`] with a 413 problem on every route, including those that read no
/// body. The client's bytes are read and discarded first, up to [`OVERSIZED_BODY_DRAIN_BYTES_MAX`]: a server that
/// answers and closes with unread bytes gets its connection reset by the kernel, and the client loses the 413. A
/// body streamed without a `Content-Length` is read up to the limit here, so that it is refused the same way.
pub(crate) async fn refuse_oversized_body(request: Request, next: Next) -> Response {
    match declared_length(request.headers()) {
        Some(length) if length > REQUEST_BODY_BYTES_MAX as u64 => {
            // A client waiting for `100 Continue` has sent no body: refuse before it does.
            if length > OVERSIZED_BODY_DRAIN_BYTES_MAX as u64 || expects_continue(request.headers()) {
                return refuse_and_close();
            }
            if drain(request.into_body(), OVERSIZED_BODY_DRAIN_BYTES_MAX).await {
                body_too_large().into_response()
            } else {
                refuse_and_close()
            }
        }
        Some(_) => next.run(request).await,
        None if request.body().is_end_stream() => next.run(request).await,
        None => {
            let (parts, body) = request.into_parts();
            match read_within_limit(body).await {
                Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
                Err(Unread::TooLarge(rest)) => {
                    let budget = OVERSIZED_BODY_DRAIN_BYTES_MAX - REQUEST_BODY_BYTES_MAX;
                    if drain(rest, budget).await { body_too_large().into_response() } else { refuse_and_close() }
                }
                Err(Unread::Broken) => Problem::bad_request("The request body could not be read.").into_response(),
            }
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers.get(EXPECT).is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// A 413 after which the server closes the connection: the rest of the body is more than it reads for nothing.
fn refuse_and_close() -> Response {
    let mut response = body_too_large().into_response();
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `response`, once `body` has been read and discarded; if it is longer than
/// [`OVERSIZED_BODY_DRAIN_BYTES_MAX`], with `Connection: close` instead.
async fn answer_after_body(body: Body, mut response: Response) -> Response {
    if !drain(body, OVERSIZED_BODY_DRAIN_BYTES_MAX).await {
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads `body` to its end, discarding it; `false` if it is longer than `budget` or breaks off.
async fn drain(body: Body, mut budget: usize) -> bool {
    let mut data = body.into_data_stream();
    while let Some(chunk) = data.next().await {
        let Ok(chunk) = chunk else { return false };
        match budget.checked_sub(chunk.len()) {
            Some(rest) => budget = rest,
            None => return false,
        }
    }
    true
}

/// Why a streamed body was not handed on.
enum Unread {
    /// It went past the limit; what is left of it.
    TooLarge(Body),
    /// The client broke it off, or sent an invalid chunk.
    Broken,
}

async fn read_within_limit(body: Body) -> Result<Vec<u8>, Unread> {
    let mut data = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|_| Unread::Broken)?;
        if bytes.len() + chunk.len() > REQUEST_BODY_BYTES_MAX {
            return Err(Unread::TooLarge(Body::from_stream(data)));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Limits each caller's commands (POST, PUT, PATCH, DELETE) on `api` to `rate`, with a 429 problem and
/// `Retry-After` past it. A caller is the subject of a valid bearer token, checked with `auth`; any other request
/// is counted against its peer's address (an IPv6 peer by its /64, which one host usually holds whole), taken from
/// [`ConnectInfo`], so the server must provide it (`server.rs` does). A request without either, such as one sent
/// in-process, shares one bucket with all others like it.
pub fn limit_commands(api: Router, auth: AuthState, rate: CommandRate) -> Router {
    let buckets = Buckets::new(rate, RATE_LIMITED_CALLERS_MAX);
    let limiter = CommandLimiter { auth, rate: buckets.rate, buckets: Arc::new(Mutex::new(buckets)) };
    api.layer(middleware::from_fn_with_state(limiter, rate_limit))
}

#[derive(Clone)]
struct CommandLimiter {
    auth: AuthState,
    rate: CommandRate,
    buckets: Arc<Mutex<Buckets>>,
}

/// Who a command is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum CallerKey {
    Subject(Uuid),
    Peer(IpAddr),
    Unknown,
}

async fn rate_limit(State(limiter): State<CommandLimiter>, request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
        return next.run(request).await;
    }
    let key = caller_key(&limiter.auth, &request);
    // The lock is held for a map lookup and a little arithmetic, never across an await; a panic while holding it
    // leaves the map consistent, so a poisoned lock is used as it is.
    let taken = limiter.buckets.lock().unwrap_or_else(PoisonError::into_inner).take(key, Instant::now());
    match taken {
        Ok(()) => next.run(request).await,
        // The refused command's body is read first, for the same reason as an oversized one's.
        Err(wait) => answer_after_body(request.into_body(), too_many_commands(limiter.rate, wait)).await,
    }
}

fn caller_key(auth: &AuthState, request: &Request) -> CallerKey {
    if let Some(subject) = bearer_subject(auth, request.headers()) {
        return CallerKey::Subject(subject);
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => CallerKey::Peer(network_of(peer.ip())),
        None => CallerKey::Unknown,
    }
}

/// The subject of a valid bearer token. An invalid one counts as no token: the request is counted by its peer, and
/// the handler answers it with a 401.
fn bearer_subject(auth: &AuthState, headers: &HeaderMap) -> Option<Uuid> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    auth.verifier()?.verify(token.trim(), SystemTime::now()).ok().map(|caller| caller.user_id)
}

/// An IPv4 address as it is; an IPv6 one by its /64 (an IPv4-mapped one as the IPv4 address).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

fn too_many_commands(rate: CommandRate, wait: Duration) -> Response {
    // Rounded up, and at least a second, so that a client never retries before the advice says.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let detail = format!(
        "Too many commands from this caller: at most {} a second, {} at once. Try again in {} s.",
        rate.per_second,
        rate.burst,
        seconds.max(1)
    );
    let mut response = Problem::new(StatusCode::TOO_MANY_REQUESTS, detail).into_response();
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// A token bucket per caller, in a map of at most `callers_max` callers.
#[derive(Debug)]
struct Buckets {
    rate: CommandRate,
    callers_max: usize,
    buckets: HashMap<CallerKey, Bucket>,
}

/// A caller's tokens at `updated`; one is spent per command, and they refill at the rate up to the burst.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Buckets {
    fn new(rate: CommandRate, callers_max: usize) -> Self {
        let rate = CommandRate { per_second: rate.per_second.max(1), burst: rate.burst.max(1) };
        Self { rate, callers_max: callers_max.max(1), buckets: HashMap::new() }
    }

    /// Spends one of `key`'s tokens at `now`, or says how long until it has one.
    fn take(&mut self, key: CallerKey, now: Instant) -> Result<(), Duration> {
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.callers_max {
            self.evict(now);
        }
        let (per_second, burst) = (f64::from(self.rate.per_second), f64::from(self.rate.burst));
        let bucket = self.buckets.entry(key).or_insert(Bucket { tokens: burst, updated: now });
        let refilled = bucket.tokens + now.saturating_duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = refilled.min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// Forgets every caller whose bucket is full again (it is no different from a new caller); if that frees
    /// nothing, the caller quiet the longest.
    fn evict(&mut self, now: Instant) {
        let (per_second, burst) = (f64::from(self.rate.per_second), f64::from(self.rate.burst));
        self.buckets.retain(|_, bucket| {
            bucket.tokens + now.saturating_duration_since(bucket.updated).as_secs_f64() * per_second < burst
        });
        if self.buckets.len() >= self.callers_max {
            let quietest = self.buckets.iter().min_by_key(|(_, bucket)| bucket.updated).map(|(key, _)| *key);
            if let Some(key) = quietest {
                self.buckets.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::http::Request;
    use axum::routing::{get, post};
    use tokio::sync::Notify;

    use super::*;
    use crate::auth::Verifier;
    use crate::test_support::{TEST_ISSUER, problem_body, send, test_secret, test_signer};

    fn get_request(path: &str) -> Request<Body> {
        Request::builder().uri(path).body(Body::empty()).expect("a literal request is valid")
    }

    async fn broken() -> &'static str {
        panic!("the handler broke")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_problem_and_the_next_request_is_served() {
        let app = Router::new().route("/panic", get(broken)).route("/fine", get(|| async { "fine" }));
        let app = with_edge(app, &EdgeLimits::default());

        let (status, headers, body) = send(app.clone(), get_request("/panic")).await;

        let problem = problem_body(status, &headers, &body);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!problem["detail"].as_str().unwrap_or_default().contains("broke"), "the cause stays in the log");
        let (status, _, body) = send(app, get_request("/fine")).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"fine"[..]));
    }

    #[tokio::test]
    async fn a_request_past_its_time_is_a_503_problem() {
        let app = Router::new().route("/slow", get(|| tokio::time::sleep(Duration::from_secs(60))));
        let limits = EdgeLimits { request_timeout: Duration::from_millis(50), ..EdgeLimits::default() };

        let (status, headers, body) = send(with_edge(app, &limits), get_request("/slow")).await;

        problem_body(status, &headers, &body);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(headers.contains_key(RETRY_AFTER));
    }

    #[tokio::test]
    async fn past_the_requests_in_flight_a_request_is_refused_with_a_503_at_once() {
        let release = Arc::new(Notify::new());
        let held = Arc::clone(&release);
        let app = Router::new()
            .route("/hold", get(move || async move { held.notified().await }))
            .route("/fine", get(|| async { "fine" }));
        let limits = EdgeLimits { requests_in_flight_max: 1, ..EdgeLimits::default() };
        let app = with_edge(app, &limits);
        let holding = tokio::spawn(send(app.clone(), get_request("/hold")));
        while Arc::strong_count(&release) < 3 {
            // The handler's clone of the `Notify` shows the request is in flight.
            tokio::task::yield_now().await;
        }

        let (status, headers, body) = send(app.clone(), get_request("/fine")).await;

        problem_body(status, &headers, &body);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[RETRY_AFTER], "1");
        release.notify_one();
        assert_eq!(holding.await.expect("the held request ends").0, StatusCode::OK);
        assert_eq!(send(app, get_request("/fine")).await.0, StatusCode::OK);
    }

    fn command(token: Option<&str>, peer: Option<[u8; 4]>) -> Request<Body> {
        let mut request = Request::builder().method(Method::POST).uri("/things");
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let mut request = request.body(Body::empty()).expect("a literal request is valid");
        if let Some(peer) = peer {
            request.extensions_mut().insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
        }
        request
    }

    fn rate_limited_app(rate: CommandRate) -> Router {
        let app = Router::new().route("/things", post(|| async { StatusCode::CREATED }).get(|| async { "things" }));
        limit_commands(app, AuthState::new(Verifier::new(&test_secret(), TEST_ISSUER)), rate)
    }

    fn token() -> String {
        test_signer().issue(Uuid::new_v4(), false, Duration::from_secs(600), SystemTime::now())
    }

    #[tokio::test]
    async fn a_caller_past_its_burst_gets_a_429_with_retry_after_while_another_is_served() {
        let app = rate_limited_app(CommandRate { per_second: 1, burst: 3 });
        let (eager, patient) = (token(), token());
        for _ in 0..3 {
            assert_eq!(send(app.clone(), command(Some(&eager), Some([10, 0, 0, 1]))).await.0, StatusCode::CREATED);
        }

        // The same subject from another address is the same caller.
        let (status, headers, body) = send(app.clone(), command(Some(&eager), Some([10, 0, 0, 2]))).await;

        let problem = problem_body(status, &headers, &body);
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "problem: {problem}");
        assert_eq!(headers[RETRY_AFTER], "1");
        let other = send(app.clone(), command(Some(&patient), Some([10, 0, 0, 1]))).await;
        assert_eq!(other.0, StatusCode::CREATED, "another caller from the same address is served");
        let read = Request::builder().uri("/things").header(AUTHORIZATION, format!("Bearer {eager}"));
        let read = read.body(Body::empty()).expect("a literal request is valid");
        assert_eq!(send(app, read).await.0, StatusCode::OK, "reads are not limited");
    }

    #[tokio::test]
    async fn callers_without_a_valid_token_are_counted_by_their_address() {
        let app = rate_limited_app(CommandRate { per_second: 1, burst: 2 });
        for _ in 0..2 {
            assert_eq!(send(app.clone(), command(None, Some([10, 0, 0, 1]))).await.0, StatusCode::CREATED);
        }

        let forged = send(app.clone(), command(Some("not-a-token"), Some([10, 0, 0, 1]))).await;

        assert_eq!(forged.0, StatusCode::TOO_MANY_REQUESTS, "an invalid token does not buy a fresh bucket");
        assert_eq!(send(app, command(None, Some([10, 0, 0, 2]))).await.0, StatusCode::CREATED);
    }

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let mut buckets = Buckets::new(CommandRate { per_second: 10, burst: 2 }, 16);
        let (caller, start) = (CallerKey::Unknown, Instant::now());
        assert_eq!(buckets.take(caller, start), Ok(()));
        assert_eq!(buckets.take(caller, start), Ok(()));

        let wait = buckets.take(caller, start).expect_err("the bucket is empty");

        assert_eq!(wait, Duration::from_millis(100));
        assert_eq!(buckets.take(caller, start + Duration::from_millis(100)), Ok(()));
        let later = start + Duration::from_secs(60);
        assert_eq!(buckets.take(caller, later), Ok(()));
        assert_eq!(buckets.take(caller, later), Ok(()));
        assert!(buckets.take(caller, later).is_err(), "a long quiet refills the burst, no more");
    }

    #[test]
    fn the_map_of_callers_stays_bounded_and_forgets_full_buckets_first() {
        let mut buckets = Buckets::new(CommandRate { per_second: 1, burst: 5 }, 2);
        let start = Instant::now();
        let [busy, idle, new] = [1, 2, 3].map(|n| CallerKey::Peer(IpAddr::from([10, 0, 0, n])));
        for _ in 0..5 {
            assert_eq!(buckets.take(busy, start + Duration::from_secs(1)), Ok(()));
        }
        assert_eq!(buckets.take(idle, start), Ok(()));

        let later = start + Duration::from_secs(2);
        assert_eq!(buckets.take(new, later), Ok(()));

        assert_eq!(buckets.buckets.len(), 2);
        assert!(buckets.buckets.contains_key(&busy), "a caller with an empty bucket is remembered");
        assert!(!buckets.buckets.contains_key(&idle), "a refilled bucket is forgotten");
    }

    #[test]
    fn an_ipv6_peer_is_counted_by_its_slash_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("an address");
        let other: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("an address");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("an address");

        assert_eq!(network_of(one), network_of(other));
        assert_eq!(network_of(mapped), IpAddr::from([192, 0, 2, 7]));
    }

    async fn oversized(body: Body, length: Option<usize>) -> (StatusCode, HeaderMap) {
        let app = crate::test_support::test_app();
        let mut request = Request::builder().method(Method::POST).uri("/test/echo");
        if let Some(length) = length {
            request = request.header(CONTENT_LENGTH, length);
        }
        let (status, headers, body) = send(app, request.body(body).expect("a literal request is valid")).await;
        problem_body(status, &headers, &body);
        (status, headers)
    }

    #[tokio::test]
    async fn an_oversized_body_within_the_drain_bound_is_read_before_the_413() {
        let length = 3 * REQUEST_BODY_BYTES_MAX;
        let body = Body::from(vec![b'x'; length]);

        let (status, headers) = oversized(body, Some(length)).await;

        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!headers.contains_key(CONNECTION), "the connection stays usable");
    }

    #[tokio::test]
    async fn a_body_declared_past_the_drain_bound_is_refused_at_once_and_the_connection_closed() {
        let length = OVERSIZED_BODY_DRAIN_BYTES_MAX + 1;

        let (status, headers) = oversized(Body::empty(), Some(length)).await;

        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers[CONNECTION], "close");
    }

    #[tokio::test]
    async fn a_streamed_body_past_the_limit_is_a_413() {
        let chunks = (0..3).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'x'; 32 * 1024])));
        let body = Body::from_stream(futures_util::stream::iter(chunks.collect::<Vec<_>>()));

        let (status, _) = oversized(body, None).await;

        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
