//! Readiness, beside liveness: `GET /health` says the process serves HTTP
//! and checks nothing, so that a slow dependency never gets the process
//! restarted; `GET /ready` says whether it should get traffic: its log
//! takes appends and its read models are not far behind. The host knows
//! what to check ([`Readiness`]); a host that gives nothing is ready when
//! it serves.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use es_core::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::json::ApiJson;
use crate::limits::NOT_READY_RETRY_AFTER;
use crate::problem::Problem;

/// What a host checks before it takes traffic.
#[async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// How far behind the log each read model of the host is; `Err` says why the host should not get traffic now.
    async fn check(&self) -> Result<Vec<ReadModelLag>, String>;
}

/// How far one read model trails the log.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadModelLag {
    /// The read model.
    #[schema(examples("orders"))]
    pub name: String,
    /// Events of the log it has not applied yet.
    pub lag_events: u64,
    /// How long the oldest of those has been in the log, in seconds.
    pub lag_seconds: f64,
}

/// The body of `GET /ready`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Ready {
    /// Always `ready`.
    #[schema(value_type = String, examples("ready"))]
    status: &'static str,
    /// How far each read model this host keeps trails the log (none where the read models live elsewhere).
    read_models: Vec<ReadModelLag>,
}

/// Readiness: the log takes appends and the read models keep up.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    summary = "Readiness: the log takes appends and the read models keep up.",
    responses(
        (status = 200, description = "Ready for traffic.", body = Ready),
        (status = 503, description = "Not ready; the problem says why.", body = Problem,
            content_type = "application/problem+json")
    )
)]
pub(crate) async fn ready(State(readiness): State<Option<Arc<dyn Readiness>>>) -> Response {
    let checked = match readiness {
        Some(readiness) => readiness.check().await,
        None => Ok(Vec::new()),
    };
    match checked {
        Ok(read_models) => ApiJson(Ready { status: "ready", read_models }).into_response(),
        Err(reason) => {
            Problem::service_unavailable(format!("Not ready: {reason}."), NOT_READY_RETRY_AFTER).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;

    use super::*;

    struct Stopped;

    #[async_trait]
    impl Readiness for Stopped {
        async fn check(&self) -> Result<Vec<ReadModelLag>, String> {
            Err("the log stopped after a failed sync".to_owned())
        }
    }

    async fn ask(readiness: Option<Arc<dyn Readiness>>) -> (StatusCode, Option<String>, String) {
        let app: Router = Router::new().route("/ready", get(ready)).with_state(readiness);
        let request = Request::builder().uri("/ready").body(Body::empty()).expect("a literal request");
        let response = tower::ServiceExt::oneshot(app, request).await.expect("answers");
        let status = response.status();
        let retry =
            response.headers().get(header::RETRY_AFTER).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.expect("a body");
        (status, retry, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_host_that_is_not_ready_says_why_with_a_503_problem() {
        let (status, retry, body) = ask(Some(Arc::new(Stopped))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(body.contains("failed sync"), "{body}");

        let (status, _, body) = ask(None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"status":"ready","readModels":[]}"#));
    }
}
