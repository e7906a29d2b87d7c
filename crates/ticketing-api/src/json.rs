//! Extractors that replace axum's `Json`, `Path` and `Query` so that every rejected request becomes a problem
//! (see `problem.rs`) instead of axum's plain-text errors, with a status that tells the client what to fix.
//!
//! The statuses, and why:
//!
//! - 415 when `Content-Type` is missing or not JSON: RFC 9110 (15.5.16) makes the media type the problem, not the
//!   content, and the client fixes it by changing a header.
//! - 400 when the body is not valid JSON (bad syntax, truncated, trailing data): the document cannot be read at
//!   all; `detail` gives the parser's line and column.
//! - 422 when the JSON is valid but of the wrong shape (missing field, wrong type, unknown field where the DTO
//!   denies them): readable but not acceptable; `errors` names the field by its path.
//! - 413 when the body is larger than [`REQUEST_BODY_BYTES_MAX`].
//! - 400 when a path parameter does not parse (a malformed UUID): the client built a wrong URL, a bug it can fix.
//!   A 404 would say "no such concert", which hides the bug and claims something we did not look up.
//! - 400 when a query parameter does not parse or is missing, for the same reason.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::limits::REQUEST_BODY_BYTES_MAX;
use crate::problem::{FieldError, Problem};

/// A JSON request body of type `T`, or a JSON response. Rejections are problems; see the module docs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(request.headers()) {
            return Err(Problem::unsupported_media_type(
                "The request body must be JSON, sent with `Content-Type: application/json`.",
            ));
        }
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body (`Option<ApiJson<T>>`): an empty body is none, whatever its `Content-Type`; any other
/// body is read as [`ApiJson`] reads it.
impl<T, S> axum::extract::OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let json = has_json_content_type(request.headers());
        let bytes = read_body(request, state).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        if !json {
            return Err(Problem::unsupported_media_type(
                "The request body must be JSON, sent with `Content-Type: application/json`.",
            ));
        }
        parse_json(&bytes).map(|value| Some(ApiJson(value)))
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response(),
            Err(error) => Problem::internal_error(&error).into_response(),
        }
    }
}

/// The request's body, or the problem of a body too large or cut short.
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            body_too_large()
        } else {
            Problem::bad_request(format!("The request body could not be read: {}", rejection.body_text()))
        }
    })
}

/// The 413 problem for a body over [`REQUEST_BODY_BYTES_MAX`], whichever layer noticed it.
pub(crate) fn body_too_large() -> Problem {
    Problem::payload_too_large(format!("The request body is larger than {REQUEST_BODY_BYTES_MAX} bytes."))
}

/// `application/json` or any `application/*+json`, parameters (`; charset=utf-8`) ignored, as axum's `Json` does.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(subtype) => subtype == "json" || subtype.ends_with("+json"),
        None => false,
    }
}

/// Parses a whole body, telling unreadable JSON (400) from JSON of the wrong shape (422).
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_problem(error.into_inner(), &path)
    })?;
    deserializer.end().map_err(|error| json_problem(error, ""))?;
    Ok(value)
}

fn json_problem(error: serde_json::Error, path: &str) -> Problem {
    match error.classify() {
        Category::Data => {
            let message = message_without_location(&error);
            let field = field_path(path, &message);
            Problem::unprocessable(
                format!("The request body does not have the expected shape: {message}."),
                vec![FieldError::new(field, message)],
            )
        }
        Category::Syntax | Category::Eof | Category::Io => {
            Problem::bad_request(format!("The request body is not valid JSON: {error}."))
        }
    }
}

/// serde_json appends " at line L column C"; for a shape error the field path says more than a position does.
fn message_without_location(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let location = format!(" at line {} column {}", error.line(), error.column());
    message.strip_suffix(&location).unwrap_or(&message).to_owned()
}

/// The path of the offending field. serde reports a missing field at the path of the object that lacks it, and
/// names the field only in its message, so the name is taken from there: a cosmetic aid, not a decision.
fn field_path(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
    match (parent, missing) {
        ("", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (parent, None) => parent.to_owned(),
    }
}

/// Path parameters of type `T` (a UUID, or a struct of named parameters). An unparsable one is a 400 problem
/// naming the parameter; see the module docs for why not 404.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_problem(rejection)),
        }
    }
}

fn path_problem(rejection: PathRejection) -> Problem {
    use axum::extract::path::ErrorKind;

    let PathRejection::FailedToDeserializePathParams(error) = rejection else {
        // The route and the extractor disagree about the parameters: a programming error, not the client's.
        return Problem::internal(&rejection.body_text());
    };
    if error.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return Problem::internal(&error.body_text());
    }
    let field_error = match error.kind() {
        ErrorKind::ParseErrorAtKey { key, value, expected_type } => {
            Some(FieldError::new(key, format!("`{value}` is not a valid {expected_type}")))
        }
        ErrorKind::DeserializeError { key, value, message } => {
            Some(FieldError::new(key, format!("`{value}` is not valid: {message}")))
        }
        _ => None,
    };
    let problem = Problem::bad_request(format!("A path parameter is invalid: {}", error.body_text()));
    match field_error {
        Some(field_error) => problem.with_errors(vec![field_error]),
        None => problem,
    }
}

/// Query parameters of type `T`. An unparsable or missing one is a 400 problem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> Problem {
    Problem::bad_request(format!("The query string is invalid: {}", rejection.body_text()))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Method;

    use super::*;
    use crate::test_support::{send_problem, test_app};

    fn post_json(body: impl Into<Body>) -> Request {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/test/echo")
            .header(CONTENT_TYPE, "application/json")
            .body(body.into())
            .expect("a literal request is valid")
    }

    #[tokio::test]
    async fn a_well_formed_body_reaches_the_handler() {
        let response = crate::test_support::send(test_app(), post_json(r#"{"name":"Main hall","capacity":300}"#)).await;

        assert_eq!(response.0, StatusCode::OK);
        let echoed: serde_json::Value = serde_json::from_slice(&response.2).expect("the echo route returns JSON");
        assert_eq!(echoed, serde_json::json!({"name": "Main hall", "capacity": 300}));
        assert_eq!(response.1[CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_problem_giving_line_and_column() {
        let problem =
            send_problem(test_app(), post_json("{\"name\":\n  \"Main hall\",,}"), StatusCode::BAD_REQUEST).await;

        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("line 2 column"), "detail should locate the error: {detail}");
    }

    #[tokio::test]
    async fn a_truncated_body_is_a_400_problem() {
        send_problem(test_app(), post_json(r#"{"name":"Main"#), StatusCode::BAD_REQUEST).await;
    }

    #[tokio::test]
    async fn trailing_data_after_the_document_is_a_400_problem() {
        let body = r#"{"name":"Main hall","capacity":300} {}"#;
        send_problem(test_app(), post_json(body), StatusCode::BAD_REQUEST).await;
    }

    #[tokio::test]
    async fn a_missing_field_is_a_422_problem_naming_the_field() {
        let problem =
            send_problem(test_app(), post_json(r#"{"name":"Main hall"}"#), StatusCode::UNPROCESSABLE_ENTITY).await;

        assert_eq!(problem["errors"][0]["field"], "capacity");
        assert_eq!(problem["errors"][0]["message"], "missing field `capacity`");
    }

    #[tokio::test]
    async fn a_field_of_the_wrong_type_is_a_422_problem_naming_the_field() {
        let body = r#"{"name":"Main hall","capacity":"many"}"#;
        let problem = send_problem(test_app(), post_json(body), StatusCode::UNPROCESSABLE_ENTITY).await;

        assert_eq!(problem["errors"][0]["field"], "capacity");
        let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("invalid type"), "message should say what is wrong: {message}");
    }

    #[tokio::test]
    async fn an_unknown_field_is_a_422_problem_naming_the_field() {
        let body = r#"{"name":"Main hall","capacity":300,"colour":"red"}"#;
        let problem = send_problem(test_app(), post_json(body), StatusCode::UNPROCESSABLE_ENTITY).await;

        assert_eq!(problem["errors"][0]["field"], "colour");
    }

    #[tokio::test]
    async fn a_body_without_a_json_content_type_is_a_415_problem() {
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/test/echo")
            .header(CONTENT_TYPE, "text/plain")
            .body(Body::from(r#"{"name":"Main hall","capacity":300}"#))
            .expect("a literal request is valid");

        send_problem(test_app(), request, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }

    #[tokio::test]
    async fn a_json_subtype_with_a_charset_is_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/merge-patch+json; charset=utf-8"));
        assert!(has_json_content_type(&headers));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/jsonx"));
        assert!(!has_json_content_type(&headers));
    }

    #[tokio::test]
    async fn a_streamed_body_one_byte_over_the_limit_is_a_413_problem() {
        let body = vec![b' '; REQUEST_BODY_BYTES_MAX + 1];

        send_problem(test_app(), post_json(body), StatusCode::PAYLOAD_TOO_LARGE).await;
    }

    #[tokio::test]
    async fn a_declared_length_one_byte_over_the_limit_is_a_413_problem_on_any_route() {
        let request = axum::http::Request::builder()
            .method(Method::GET)
            .uri("/health")
            .header(axum::http::header::CONTENT_LENGTH, REQUEST_BODY_BYTES_MAX + 1)
            .body(Body::from(vec![b' '; REQUEST_BODY_BYTES_MAX + 1]))
            .expect("a literal request is valid");

        send_problem(test_app(), request, StatusCode::PAYLOAD_TOO_LARGE).await;
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_limit_is_read() {
        let document = r#"{"name":"Main hall","capacity":300}"#;
        let mut body = document.as_bytes().to_vec();
        body.resize(REQUEST_BODY_BYTES_MAX, b' ');

        let (status, _, _) = crate::test_support::send(test_app(), post_json(body)).await;

        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_malformed_uuid_in_the_path_is_a_400_problem_naming_the_parameter() {
        let request = axum::http::Request::builder()
            .uri("/test/concerts/not-a-uuid")
            .body(Body::empty())
            .expect("a literal request is valid");

        let problem = send_problem(test_app(), request, StatusCode::BAD_REQUEST).await;

        assert_eq!(problem["errors"][0]["field"], "concert_id");
        let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("`not-a-uuid` is not valid"), "message should quote the value: {message}");
    }

    #[tokio::test]
    async fn a_valid_uuid_in_the_path_reaches_the_handler() {
        let id = uuid::Uuid::new_v4();
        let request = axum::http::Request::builder()
            .uri(format!("/test/concerts/{id}"))
            .body(Body::empty())
            .expect("a literal request is valid");

        let (status, _, body) = crate::test_support::send(test_app(), request).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, id.to_string().as_bytes());
    }

    #[tokio::test]
    async fn an_unparsable_query_parameter_is_a_400_problem() {
        let request = axum::http::Request::builder()
            .uri("/test/search?limit=lots")
            .body(Body::empty())
            .expect("a literal request is valid");

        let problem = send_problem(test_app(), request, StatusCode::BAD_REQUEST).await;

        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("limit"), "detail should name the parameter: {detail}");
    }

    #[tokio::test]
    async fn a_valid_query_reaches_the_handler() {
        let request = axum::http::Request::builder()
            .uri("/test/search?limit=5")
            .body(Body::empty())
            .expect("a literal request is valid");

        let (status, _, body) = crate::test_support::send(test_app(), request).await;

        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "5".as_bytes());
    }

    #[test]
    fn a_missing_nested_field_is_named_with_its_parent_path() {
        assert_eq!(field_path("seats[0]", "missing field `row`"), "seats[0].row");
        assert_eq!(field_path(".", "missing field `row`"), "row");
        assert_eq!(field_path("seats[0].row", "invalid type: string, expected u32"), "seats[0].row");
    }
}
