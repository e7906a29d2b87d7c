//! The `api` function: API Gateway's HTTP API events, turned into `http` requests by `lambda_http`, served by the
//! very router `cloudbash serve` uses. The gateway's JWT authorizer has verified the token before the function is
//! called, so the function verifies nothing: it copies the verified claims from the request context into the
//! request's [`GatewayClaims`] extension, and the API (in [`AuthState::gateway`] mode) takes the caller from there.
//! The gateway's audience check lets an ID token of the app client through (its `aud` is the client id), so the
//! claims count only when their `token_use` is `access`: [`GatewayClaims::caller`] refuses any other with a 401
//! problem, on every route.
//!
//! A request the caller gave no `x-request-id` is served under the gateway's own request id (`$context.requestId`),
//! so that the API's access log, the function's log lines and a problem's `instance` all name it alike.
//!
//! [`AuthState::gateway`]: ticketing_api::auth::AuthState::gateway

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{Extensions, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use ticketing_api::auth::GatewayClaims;
use ticketing_api::problem::Problem;
use ticketing_api::request_id::REQUEST_ID_HEADER;
use tower::ServiceExt;

use crate::{LambdaError, Resources};

/// Answers one request of API Gateway (already converted by `lambda_http`). A container that cannot set itself up
/// (the database's secret unreadable, a variable missing) answers a 503 problem, like the API's own errors, rather
/// than failing the invocation, which API Gateway would turn into a bare 500.
pub async fn handle(resources: &Resources, request: lambda_http::Request) -> Result<Response, LambdaError> {
    let router = match set_up(resources).await {
        Ok(router) => router,
        Err(error) => {
            tracing::error!(%error, "the API cannot set itself up");
            let detail = "The shop cannot reach its storage right now; try again shortly.";
            return Ok(Problem::service_unavailable(detail, SET_UP_RETRY_AFTER).into_response());
        }
    };
    let response = router.oneshot(request).await;
    // An axum router answers every request (its error type is `Infallible`).
    Ok(response.unwrap_or_else(|never| match never {}))
}

/// When a client may try again after a failed set-up (the next invocation tries again).
const SET_UP_RETRY_AFTER: Duration = Duration::from_secs(1);

async fn set_up(resources: &Resources) -> Result<Router, LambdaError> {
    let router = resources.api().await?.clone();
    // Keeps the database password current (RDS rotates it); a no-op between refreshes.
    resources.pool().await?;
    Ok(router)
}

/// `router`, with the gateway's verified claims copied into each request's extensions first, and the gateway's
/// request id as the request's own unless the caller sent one.
pub(crate) fn behind_the_gateway(router: Router) -> Router {
    router.layer(middleware::from_fn(copy_verified_claims))
}

async fn copy_verified_claims(mut request: Request, next: Next) -> Response {
    if !request.headers().contains_key(REQUEST_ID_HEADER)
        && let Some(RequestContext::ApiGatewayV2(context)) = request.extensions().get::<RequestContext>()
        && let Some(id) = context.request_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok())
    {
        request.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    // Whatever the extension held before is replaced: only the gateway's word counts.
    match verified_claims(request.extensions()) {
        Some(claims) => {
            request.extensions_mut().insert(claims);
        }
        None => {
            request.extensions_mut().remove::<GatewayClaims>();
        }
    }
    next.run(request).await
}

/// The claims of `requestContext.authorizer.jwt`, when the route has the JWT authorizer; `None` on public routes.
pub fn verified_claims(extensions: &Extensions) -> Option<GatewayClaims> {
    match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => {
            let jwt = context.authorizer.as_ref()?.jwt.as_ref()?;
            Some(GatewayClaims::from_text(jwt.claims.iter().map(|(name, value)| (name.as_str(), value.as_str()))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::json;
    use ticketing_api::auth::{AuthError, AuthState, Caller};

    use super::*;
    use crate::{Config, Function};

    fn event(authorizer: Option<serde_json::Value>) -> lambda_http::Request {
        let mut event = json!({
            "version": "2.0",
            "routeKey": "GET /cart",
            "rawPath": "/cart",
            "rawQueryString": "",
            "headers": {"host": "r4nd0m1d.execute-api.eu-west-1.amazonaws.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "r4nd0m1d",
                "domainName": "r4nd0m1d.execute-api.eu-west-1.amazonaws.com",
                "http": {"method": "GET", "path": "/cart", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
                "requestId": "Bx2fGhJ0joEEMxQ=",
                "routeKey": "GET /cart",
                "stage": "$default",
                "timeEpoch": 1_795_971_600_000_i64
            },
            "isBase64Encoded": false
        });
        if let Some(authorizer) = authorizer {
            event["requestContext"]["authorizer"] = authorizer;
        }
        lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
    }

    #[test]
    fn the_claims_of_the_jwt_authorizer_are_taken_from_the_request_context() {
        let sub = "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b";
        let claims = json!({"sub": sub, "token_use": "access", "cognito:groups": "[admin]"});
        let request = event(Some(json!({"jwt": {"claims": claims, "scopes": null}})));

        let caller = verified_claims(request.extensions()).expect("claims").caller().expect("a caller");

        assert_eq!(caller.user_id.to_string(), sub);
        assert!(caller.admin);
    }

    /// The claims API Gateway passes on for a Cognito ID token of the app client: `aud` holds the client id, which
    /// satisfies the authorizer's audience check.
    fn id_token_authorizer() -> serde_json::Value {
        let claims = json!({
            "sub": "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
            "aud": "6vf9hd3uvkqa8bo2k9j1q0r1fv",
            "token_use": "id",
            "cognito:groups": "[admin]",
        });
        json!({"jwt": {"claims": claims, "scopes": null}})
    }

    #[test]
    fn the_claims_of_an_id_token_name_no_caller() {
        let request = event(Some(id_token_authorizer()));

        let caller = verified_claims(request.extensions()).expect("claims").caller();

        assert!(matches!(caller, Err(AuthError::NotAccessToken)), "{caller:?}");
    }

    #[test]
    fn claims_without_a_token_use_name_no_caller() {
        let claims = json!({"sub": "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", "cognito:groups": "[admin]"});
        let request = event(Some(json!({"jwt": {"claims": claims, "scopes": null}})));

        let caller = verified_claims(request.extensions()).expect("claims").caller();

        assert!(matches!(caller, Err(AuthError::NotAccessToken)), "{caller:?}");
    }

    #[tokio::test]
    async fn an_id_token_let_through_by_the_gateway_is_a_401_problem() {
        async fn cart(caller: Caller) -> String {
            caller.user_id.to_string()
        }
        let router = Router::new().route("/cart", get(cart)).with_state(AuthState::gateway());

        let response = behind_the_gateway(router).oneshot(event(Some(id_token_authorizer()))).await.expect("an answer");

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }

    #[tokio::test]
    async fn a_request_is_served_under_the_gateways_request_id_unless_the_caller_chose_one() {
        let router = Router::new()
            .route("/cart", get(|| async { "a cart" }))
            .layer(middleware::from_fn(ticketing_api::request_id::observe));
        let answer = behind_the_gateway(router.clone()).oneshot(event(None)).await.expect("an answer");
        assert_eq!(answer.headers()[REQUEST_ID_HEADER], "Bx2fGhJ0joEEMxQ=");

        let mut chosen = event(None);
        chosen.headers_mut().insert(REQUEST_ID_HEADER, HeaderValue::from_static("caller-1"));
        let answer = behind_the_gateway(router).oneshot(chosen).await.expect("an answer");
        assert_eq!(answer.headers()[REQUEST_ID_HEADER], "caller-1");
    }

    #[test]
    fn a_public_route_has_no_claims() {
        assert_eq!(verified_claims(event(None).extensions()), None);
    }

    #[tokio::test]
    async fn a_container_that_cannot_set_itself_up_answers_a_503_problem() {
        let config = Config {
            function: Function::Api,
            events_table: None,
            log_table: None,
            index_table: None,
            carts_table: None,
            stream_name: None,
            database: None,
            buckets_per_concert: 0,
            user_pool_id: None,
        };

        let response = handle(&Resources::new(config), event(None)).await.expect("an answer");

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
}
