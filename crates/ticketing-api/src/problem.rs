//! Every error the API returns is an RFC 7807 (RFC 9457) `application/problem+json` document, so clients parse one
//! shape for every failure, whichever layer produced it: routing, extractors, auth or handlers.
//!
//! Problems use `type: "about:blank"` unless a handler names a more specific type, and then `title` is the HTTP
//! reason phrase, as the RFC asks. `detail` is written for the client; internal errors never put their cause there.

use std::fmt::{self, Display};
use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id::RequestId;

/// The media type of every problem response.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The problem type meaning "nothing more specific than the status code", per RFC 7807 section 4.2.
pub const ABOUT_BLANK: &str = "about:blank";

/// What a client is told when the server failed; the cause goes to the log, never to the client.
const INTERNAL_DETAIL: &str = "The server could not complete the request. The error has been logged.";

/// An RFC 7807 problem: the body and status of every error response, served as `application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` unless a handler has a more specific one.
    #[serde(rename = "type")]
    #[schema(examples("about:blank"))]
    problem_type: String,
    /// A short summary of the kind of problem: the status's reason phrase for `about:blank`.
    title: String,
    /// The HTTP status, repeated in the body so it survives proxies that rewrite the status line.
    #[serde(serialize_with = "serialize_status")]
    #[schema(value_type = u16, examples(404))]
    status: StatusCode,
    /// What went wrong with this request, for the client's developer.
    detail: String,
    /// One entry per invalid field, so a form can show each message next to its field.
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    #[schema(value_type = Vec<FieldError>)]
    errors: Box<[FieldError]>,
    /// This occurrence: the id of the request that met the problem (its `x-request-id`), to quote when reporting
    /// it. Absent only where no request is being served.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, examples("0193a5c1e3f27c2a8f1d4b6e9a0c3d5f"))]
    instance: Option<Box<str>>,
    /// The `WWW-Authenticate` challenge that RFC 6750 requires on every 401.
    #[serde(skip)]
    challenge: Option<Challenge>,
    /// The `Retry-After` of a 503 in whole seconds: when trying again is worth it. (Seconds, not a `Duration`, to
    /// keep `Problem` small enough to return by value.)
    #[serde(skip)]
    retry_after: Option<u32>,
}

/// The `WWW-Authenticate` challenges a 401 can carry; an enum rather than the text so that `Problem` stays small
/// enough to return by value (clippy's `result_large_err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// No credentials, or not a bearer token.
    Bearer,
    /// A bearer token that is malformed, expired or not ours (RFC 6750 section 3.1).
    InvalidToken,
}

impl Challenge {
    fn header(self) -> &'static str {
        match self {
            Challenge::Bearer => "Bearer",
            Challenge::InvalidToken => r#"Bearer error="invalid_token""#,
        }
    }
}

/// One invalid field of a request: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The path to the field, as `items[0].quantity`; empty when the problem is the document itself.
    pub field: String,
    /// What is wrong with the field.
    pub message: String,
}

impl FieldError {
    /// A problem with the field at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl Problem {
    /// A problem with `status`, type `about:blank` and the status's reason phrase as title.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            problem_type: ABOUT_BLANK.to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status,
            detail: detail.into(),
            errors: Box::default(),
            instance: None,
            challenge: None,
            retry_after: None,
        }
    }

    /// 400: the request is malformed (syntax, an unparsable path or query parameter).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401 for a request without credentials; carries the bare `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self { challenge: Some(Challenge::Bearer), ..Self::new(StatusCode::UNAUTHORIZED, detail) }
    }

    /// 401 for a bearer token that was present but is malformed, expired or not ours; the challenge says
    /// `error="invalid_token"` (RFC 6750 section 3.1) so clients know to get a new token rather than log in anew.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self { challenge: Some(Challenge::InvalidToken), ..Self::new(StatusCode::UNAUTHORIZED, detail) }
    }

    /// 403: the caller is known but may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404: nothing exists at this address.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 405: the address exists but not with this method. The router adds the `Allow` header.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, detail)
    }

    /// 409: the request conflicts with the current state (a version conflict, a sold-out seat).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// 413: the body is larger than [`crate::limits::REQUEST_BODY_BYTES_MAX`].
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, detail)
    }

    /// 415: the body is not in a media type the route reads.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
    }

    /// 422: the body is well-formed but some fields are missing or invalid, listed in `errors`.
    pub fn unprocessable(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self { errors: errors.into_boxed_slice(), ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail) }
    }

    /// 500: the server failed. The cause is logged here, once, and the client gets a generic detail, because
    /// internals (paths, SQL, backend names) help attackers and never help the client.
    pub fn internal(cause: &dyn Display) -> Self {
        tracing::error!(error = %cause, "request failed with an internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_DETAIL)
    }

    /// 500 for an error: as [`Problem::internal`], with what lies under it (its sources) in the log line.
    pub fn internal_error(error: &(dyn std::error::Error + 'static)) -> Self {
        Self::internal(&Chain(error))
    }

    /// 503: the server cannot serve the request now but may shortly; `Retry-After` says when to try again.
    pub fn service_unavailable(detail: impl Into<String>, retry_after: Duration) -> Self {
        // Rounded up so that a client never retries before the advice says.
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let seconds = u32::try_from(seconds).unwrap_or(u32::MAX);
        Self { retry_after: Some(seconds), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, detail) }
    }

    /// Names a more specific problem type than `about:blank`, with its own title.
    pub fn with_type(mut self, problem_type: impl Into<String>, title: impl Into<String>) -> Self {
        self.problem_type = problem_type.into();
        self.title = title.into();
        self
    }

    /// Adds per-field errors to any problem (a 400 for a path parameter, for example).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors.into_boxed_slice();
        self
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What the client is told went wrong.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The invalid fields, if any.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        if self.instance.is_none() {
            self.instance = RequestId::current().map(|id| id.as_str().into());
        }
        let body = serde_json::to_vec(&self).expect("a problem has only strings and a number, which always serialize");
        let mut response =
            (self.status, [(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE))], body).into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge.header()));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The fallback for addresses no route matches: a 404 problem instead of axum's empty body.
pub async fn not_found_fallback(uri: Uri) -> Problem {
    Problem::not_found(format!("No resource exists at {}.", uri.path()))
}

/// The fallback for a known address called with a method it does not serve: a 405 problem. axum adds `Allow`.
pub async fn method_not_allowed_fallback(method: Method, uri: Uri) -> Problem {
    Problem::method_not_allowed(format!("{} does not accept {method}.", uri.path()))
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u16(status.as_u16())
}

/// An error and the errors under it, for the log. Each source's text follows unless what is written already shows
/// it (most errors here end their message with their source's), so nothing is said twice and the words of the
/// innermost cause (the operating system's, the driver's) are never left out.
#[derive(Debug)]
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl Display for Chain<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = self.0.to_string();
        let mut source = self.0.source();
        while let Some(error) = source {
            let text = error.to_string();
            if !written.contains(&text) {
                written.push_str("; caused by: ");
                written.push_str(&text);
            }
            source = error.source();
        }
        formatter.write_str(&written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{problem_body, read};

    #[tokio::test]
    async fn a_problem_is_served_as_problem_json_with_its_status_in_the_body() {
        let response = Problem::conflict("The seat is taken.").into_response();
        let (status, headers, body) = read(response).await;
        let problem = problem_body(status, &headers, &body);

        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem["type"], "about:blank");
        assert_eq!(problem["title"], "Conflict");
        assert_eq!(problem["detail"], "The seat is taken.");
        assert!(problem.get("errors").is_none(), "no field errors means no `errors` member: {problem}");
    }

    #[tokio::test]
    async fn an_unprocessable_problem_lists_each_field_error() {
        let errors = vec![FieldError::new("name", "must not be empty"), FieldError::new("seats[2]", "too many")];
        let (status, headers, body) = read(Problem::unprocessable("Invalid concert.", errors).into_response()).await;
        let problem = problem_body(status, &headers, &body);

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "name");
        assert_eq!(problem["errors"][0]["message"], "must not be empty");
        assert_eq!(problem["errors"][1]["field"], "seats[2]");
    }

    #[tokio::test]
    async fn unauthorized_challenges_for_a_bearer_token_without_an_error_code() {
        let (status, headers, _) = read(Problem::unauthorized("No token.").into_response()).await;

        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[WWW_AUTHENTICATE], "Bearer");
    }

    #[tokio::test]
    async fn an_invalid_token_challenge_says_invalid_token() {
        let (status, headers, _) = read(Problem::invalid_token("Expired.").into_response()).await;

        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
    }

    #[tokio::test]
    async fn an_internal_problem_never_reveals_its_cause() {
        let cause = "disk I/O error at /var/lib/cloudbash/events.db";
        let (status, headers, body) = read(Problem::internal(&cause).into_response()).await;
        let problem = problem_body(status, &headers, &body);

        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(problem["detail"], INTERNAL_DETAIL);
        assert!(!String::from_utf8_lossy(&body).contains("events.db"));
    }

    #[tokio::test]
    async fn a_specific_problem_type_replaces_about_blank_and_its_title() {
        let problem = Problem::conflict("Sold out.").with_type("/problems/sold-out", "Sold out");
        let (status, headers, body) = read(problem.into_response()).await;
        let problem = problem_body(status, &headers, &body);

        assert_eq!(problem["type"], "/problems/sold-out");
        assert_eq!(problem["title"], "Sold out");
    }
}
