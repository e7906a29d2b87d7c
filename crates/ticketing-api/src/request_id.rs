//! Request ids: every request gets one, so that an answer, the log lines written while it was served and a
//! caller's report can be joined. A caller (or a proxy in front) may send its own in `x-request-id`; it is kept when
//! it is a plain token (1 to [`REQUEST_ID_CHARS_MAX`] characters of `A-Z a-z 0-9 . _ -`), so that it can be written
//! into logs and headers as it is. Otherwise the server makes one. Every answer carries it back in `x-request-id`,
//! and the request's span carries it into every log line written while the request is served.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

/// The header that carries a request's id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id a caller may choose.
pub const REQUEST_ID_CHARS_MAX: usize = 64;

/// Middleware: gives the request its id, serves it inside a span that names it, and puts it on the answer.
pub(crate) async fn with_request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_plain_token(id))
        .map_or_else(|| Uuid::now_v7().simple().to_string(), str::to_owned);
    // The path is left out: a door's path holds the ticket code it checks in.
    let span = tracing::info_span!("request", request_id = %id, method = %request.method());
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

fn is_plain_token(id: &str) -> bool {
    (1..=REQUEST_ID_CHARS_MAX).contains(&id.len())
        && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::test_support::test_app;

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
    async fn a_plain_request_id_comes_back_on_the_answer_even_a_problem() {
        let response = answer_to(Some("checkout-7f3a.retry_2")).await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(id_of(&response), "checkout-7f3a.retry_2");
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
}
