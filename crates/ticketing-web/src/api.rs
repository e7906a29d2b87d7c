//! The pages' only way to the shop's data: requests to the REST API's router, sent in-process with
//! `tower::ServiceExt::oneshot`. A page is thus a client of the API like the browser's scripts or any other
//! program: it sees the same documents, the same authorisation (the signed-in user's token is forwarded as
//! `Authorization: Bearer`) and the same problems, and the API stays the one place that checks requests. Going
//! in-process saves a socket and a serialisation of the request line, nothing else.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, Request, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ticketing_api::request_id::RequestId;
use tower::ServiceExt;
use uuid::Uuid;

use crate::limits::{API_RESPONSE_BYTES_MAX, LIST_PAGE_ITEMS};
use crate::model::{Page, Problem};

/// The request header that makes a command idempotent (as the API names it).
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Why a call to the API did not give the document a page wanted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The API refused the request with a problem: the user's input, the shop's state or their rights. Shown to
    /// the user as a message (`messages.rs`).
    #[error("the API answered with a problem: {0}")]
    Problem(Problem),
    /// The API failed without a problem document: a bug in the API or here. Logged, and shown as a generic error.
    #[error("the API answered {0} without a problem document")]
    Unexpected(StatusCode),
    /// The API's answer could not be read, or was larger than [`API_RESPONSE_BYTES_MAX`].
    #[error("the API's answer could not be read: {0}")]
    Body(axum::Error),
    /// The answer is not the document the page expected: the API and the pages disagree on its shape.
    #[error("the API's answer is not the expected document: {0}")]
    Decode(serde_json::Error),
    /// The request could not be built: a path with characters a URI cannot hold.
    #[error("the request to the API could not be built: {0}")]
    Request(axum::http::Error),
    /// A request body could not be written as JSON.
    #[error("the request body could not be written: {0}")]
    Encode(serde_json::Error),
}

impl ApiError {
    /// The problem, if the API refused the request with one.
    pub(crate) fn problem(&self) -> Option<&Problem> {
        match self {
            ApiError::Problem(problem) => Some(problem),
            _ => None,
        }
    }

    /// Whether the API answered with this status.
    pub(crate) fn is_status(&self, status: StatusCode) -> bool {
        self.problem().is_some_and(|problem| problem.status == status.as_u16())
    }
}

/// The REST API, reached in-process.
#[derive(Clone)]
pub(crate) struct Api {
    router: Router,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Api").finish_non_exhaustive()
    }
}

/// A command to the API: its method and path, the caller's token, an optional JSON body and idempotency key.
#[derive(Debug)]
pub(crate) struct Command<'a, B> {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) token: &'a str,
    pub(crate) body: Option<&'a B>,
    /// Sent as `Idempotency-Key`, so that a form submitted twice (a double click, a reload) acts once.
    pub(crate) key: Option<Uuid>,
}

impl Api {
    /// Calls to `router`, which must be the REST API's (`ticketing_api::router`), not one that includes these pages.
    pub(crate) fn new(router: Router) -> Self {
        Self { router }
    }

    /// `GET path` (with its query string), as the holder of `token` or anonymously; the JSON document it answers.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> Result<T, ApiError> {
        let mut request = Request::builder().method(Method::GET).uri(path).header(ACCEPT, "application/json");
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, bearer(token)?);
        }
        let request = request.body(Body::empty()).map_err(ApiError::Request)?;
        let body = self.send(request).await?;
        serde_json::from_slice(&body).map_err(ApiError::Decode)
    }

    /// Every item of the paged list at `path` (without a query string), read page after page: for the pages that
    /// show a whole list.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<Vec<T>, ApiError> {
        #[derive(Serialize)]
        struct PageQuery<'a> {
            limit: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            cursor: Option<&'a str>,
        }
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = PageQuery { limit: LIST_PAGE_ITEMS, cursor: cursor.as_deref() };
            let page: Page<T> = self.get(&with_query(path, &query), token).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// Sends a command; the answer's body (empty for most commands).
    pub(crate) async fn command<B: Serialize>(&self, command: Command<'_, B>) -> Result<Bytes, ApiError> {
        let mut request = Request::builder()
            .method(command.method)
            .uri(&command.path)
            .header(ACCEPT, "application/json")
            .header(AUTHORIZATION, bearer(command.token)?);
        if let Some(key) = command.key {
            request = request.header(IDEMPOTENCY_KEY, key.to_string());
        }
        let body = match command.body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(body).map_err(ApiError::Encode)?)
            }
            None => Body::empty(),
        };
        self.send(request.body(body).map_err(ApiError::Request)?).await
    }

    /// Sends a command that answers with a JSON document, and reads it.
    pub(crate) async fn command_json<B: Serialize, T: DeserializeOwned>(
        &self,
        command: Command<'_, B>,
    ) -> Result<T, ApiError> {
        let body = self.command(command).await?;
        serde_json::from_slice(&body).map_err(ApiError::Decode)
    }

    /// Sends one request through the API's router; the body of a success, or the problem of a failure. It is part
    /// of the page request being served: it carries that request's id, so the API observes no request of its own.
    async fn send(&self, mut request: Request<Body>) -> Result<Bytes, ApiError> {
        if let Some(id) = RequestId::current() {
            request.extensions_mut().insert(id);
        }
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), API_RESPONSE_BYTES_MAX).await.map_err(ApiError::Body)?;
        if status.is_success() {
            return Ok(body);
        }
        match serde_json::from_slice::<Problem>(&body) {
            Ok(problem) => Err(ApiError::Problem(problem)),
            Err(_) => Err(ApiError::Unexpected(status)),
        }
    }
}

/// The `Authorization` value for a token. A token with characters a header cannot hold did not come from a
/// signer; it is refused as a request that cannot be built.
fn bearer(token: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::try_from(format!("Bearer {token}")).map_err(|error| ApiError::Request(axum::http::Error::from(error)))
}

/// `path?query` with the query written from `query`'s fields (`None` fields are left out).
pub(crate) fn with_query(path: &str, query: &impl Serialize) -> String {
    match serde_urlencoded::to_string(query) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        // A query of plain strings and numbers always encodes; without one the path alone is the request.
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;

    use super::*;

    #[derive(Serialize)]
    struct Search<'a> {
        q: Option<&'a str>,
        limit: u32,
    }

    #[test]
    fn a_query_leaves_out_absent_fields_and_encodes_the_rest() {
        assert_eq!(
            with_query("/concerts", &Search { q: Some("rock & roll"), limit: 5 }),
            "/concerts?q=rock+%26+roll&limit=5"
        );
        assert_eq!(with_query("/concerts", &Search { q: None, limit: 5 }), "/concerts?limit=5");
    }

    #[tokio::test]
    async fn a_problem_answer_becomes_a_problem_error() {
        let router = Router::new().route(
            "/thing",
            get(|| async {
                (
                    StatusCode::CONFLICT,
                    [(CONTENT_TYPE, "application/problem+json")],
                    r#"{"type":"about:blank","title":"Conflict","status":409,"detail":"Sold out."}"#,
                )
            }),
        );

        let error = Api::new(router).get::<serde_json::Value>("/thing", None).await.expect_err("a 409");

        assert!(error.is_status(StatusCode::CONFLICT));
        assert_eq!(error.problem().map(|problem| problem.detail.as_str()), Some("Sold out."));
    }

    #[tokio::test]
    async fn a_whole_list_is_read_page_after_page() {
        let router = Router::new().route(
            "/things",
            get(|axum::extract::RawQuery(query): axum::extract::RawQuery| async move {
                let page = match query.as_deref() {
                    Some("limit=100") => serde_json::json!({"items": [1, 2], "nextCursor": "c2"}),
                    Some("limit=100&cursor=c2") => serde_json::json!({"items": [3], "nextCursor": null}),
                    other => serde_json::json!({"unexpected": other}),
                };
                axum::Json(page)
            }),
        );

        let items: Vec<u32> = Api::new(router).get_all("/things", None).await.expect("every page");

        assert_eq!(items, [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_failure_without_a_problem_is_unexpected() {
        let router = Router::new().route("/thing", get(|| async { (StatusCode::BAD_GATEWAY, "upstream down") }));

        let error = Api::new(router).get::<serde_json::Value>("/thing", None).await.expect_err("a 502");

        assert!(matches!(error, ApiError::Unexpected(StatusCode::BAD_GATEWAY)));
    }

    #[tokio::test]
    async fn the_token_is_forwarded_as_a_bearer_token() {
        let router = Router::new().route(
            "/me",
            get(|headers: axum::http::HeaderMap| async move {
                let authorization = headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok()).unwrap_or("");
                axum::Json(serde_json::json!({ "authorization": authorization }))
            }),
        );

        let answer: serde_json::Value = Api::new(router).get("/me", Some("abc.def.ghi")).await.expect("an answer");

        assert_eq!(answer["authorization"], "Bearer abc.def.ghi");
    }
}
