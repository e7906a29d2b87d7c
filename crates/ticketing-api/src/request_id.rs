//! Request ids, and what is written about each request. Every request gets an id, so that an answer, the log lines
//! written while it was served and a caller's report can be joined. A caller (or a proxy in front) may send its own
//! in `x-request-id`; it is kept when it is a plain token (1 to [`REQUEST_ID_CHARS_MAX`] characters of
//! `A-Z a-z 0-9 . _ -` and the base64 signs `+ / =`, as API Gateway's ids have), so that it can be written into logs
//! and headers as it is. Otherwise the server makes one.
//!
//! [`observe`] serves a request inside a span named `request` that carries the id, the method, the route's template
//! (never the path itself: a door's path holds the ticket code it checks in) and, once authenticated, the caller's
//! `sub`; every log line written meanwhile carries them. When the answer is ready it writes one INFO line with the
//! status and latency, records the latency in `cloudbash_http_request_duration_seconds` by method, route and
//! status, and puts the id on the answer. Problems written meanwhile name the id as their `instance`
//! ([`RequestId::current`]).
//!
//! A host wraps its whole application in [`observe`] (`edge::with_edge`), and the API's router wraps itself too,
//! for hosts that serve it bare (the Lambda function). The inner one sees the outer one's [`RequestId`] among the
//! request's extensions and steps aside, so a request is observed once; the pages' in-process calls to the API
//! pass the page request's id on the same way.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;
use uuid::Uuid;

/// The header that carries a request's id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id a caller may choose.
pub const REQUEST_ID_CHARS_MAX: usize = 64;

/// The route named for a request no route matched, so that unknown paths cannot grow the metrics without bound.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The latency histogram of every request served, by `method`, `route` and `status`.
pub const HTTP_REQUEST_DURATION: &str = "cloudbash_http_request_duration_seconds";

/// The id of one request: a plain token, safe to write into headers and logs as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

tokio::task_local! {
    static CURRENT: RequestId;
}

impl RequestId {
    /// The id `request` brings, if it is a plain token; else a fresh one.
    pub fn of(request: &Request) -> Self {
        let chosen = request.headers().get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok());
        match chosen.filter(|id| is_plain_token(id)) {
            Some(id) => Self(id.into()),
            None => Self(Uuid::now_v7().simple().to_string().into()),
        }
    }

    /// The id of the request being served by this task, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Middleware: serves the request under its id, inside its span, and writes down how it went (see the module's
/// docs). A request already observed further out passes straight through.
pub async fn observe(mut request: Request, next: Next) -> Response {
    if request.extensions().get::<RequestId>().is_some() {
        return next.run(request).await;
    }
    let id = RequestId::of(&request);
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED_ROUTE, MatchedPath::as_str).to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, %method, %route, sub = Empty);
    request.extensions_mut().insert(id.clone());
    let started = Instant::now();
    let mut response = CURRENT.scope(id.clone(), next.run(request)).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, latency_ms = latency.as_secs_f64() * 1e3, "request served"));
    metrics::histogram!(HTTP_REQUEST_DURATION, "method" => method.to_string(), "route" => route, "status" => status.to_string())
        .record(latency.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Names the authenticated caller in the current request's span (its `sub`: an opaque id, no personal data).
pub(crate) fn note_caller(sub: &Uuid) {
    tracing::Span::current().record("sub", tracing::field::display(sub));
}

fn is_plain_token(id: &str) -> bool {
    (1..=REQUEST_ID_CHARS_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'+' | b'/' | b'='))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::test_support::{problem_body, read, test_app};

    async fn answer_to(id: Option<&str>) -> Response {
        let mut request = Request::get("/no-such-route");
        if let Some(id) = id {
            request = request.header(REQUEST_ID_HEADER, id);
        }
        test_app().oneshot(request.body(Body::empty()).expect("a request")).await.expect("an answer")
    }

    fn id_of(response: &Response) -> String {
        response.headers().get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn a_plain_request_id_comes_back_on_the_answer_and_names_its_problem() {
        let response = answer_to(Some("checkout-7f3a.retry_2")).await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(id_of(&response), "checkout-7f3a.retry_2");
        let (status, headers, body) = read(response).await;
        assert_eq!(problem_body(status, &headers, &body)["instance"], "checkout-7f3a.retry_2");
    }

    #[tokio::test]
    async fn a_request_without_a_usable_id_gets_a_fresh_one() {
        let without = id_of(&answer_to(None).await);
        let odd = id_of(&answer_to(Some("two words")).await);
        let long = id_of(&answer_to(Some(&"x".repeat(REQUEST_ID_CHARS_MAX + 1))).await);

        for made in [&without, &odd, &long] {
            assert_eq!(made.len(), 32, "a UUID without hyphens: {made}");
            assert!(is_plain_token(made));
        }
        assert!(without != odd && odd != long, "each request gets its own");
        assert_eq!(id_of(&answer_to(Some(&"y".repeat(REQUEST_ID_CHARS_MAX))).await).len(), REQUEST_ID_CHARS_MAX);
    }

    #[tokio::test]
    async fn a_problem_outside_any_request_names_no_instance() {
        let response = axum::response::IntoResponse::into_response(crate::problem::Problem::not_found("Nothing here."));
        let (status, headers, body) = read(response).await;
        assert!(problem_body(status, &headers, &body).get("instance").is_none());
    }
}
