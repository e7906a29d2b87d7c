//! What the function tests share: the local emulators and the throwaway PostgreSQL server (the tests fail, never
//! skip, without them), fresh tables, stream and database per test, and API Gateway events shaped like real ones.

#![allow(dead_code, unreachable_pub)]

pub mod bus;
pub mod streams;

use std::time::Duration;

use aws_config::SdkConfig;
use axum::body::Bytes;
use axum::http::StatusCode;
use cloudbash_lambda::config::DatabaseConfig;
use cloudbash_lambda::{Config, Function, Resources};
use es_dynamodb::{Tables, create_tables};
use serde_json::{Value, json};
use ticketing_testkit::services::{self, assert_local};
use uuid::Uuid;

/// Largest response body a test reads.
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;

/// The AWS configuration of the emulators.
pub async fn sdk_config() -> SdkConfig {
    for variable in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "AWS_ENDPOINT_URL_KINESIS"] {
        assert_local(variable);
    }
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// The URL of a fresh, empty database on the test server (not migrated).
pub async fn fresh_database() -> String {
    services::fresh_database("lambda").await
}

/// Everything the stack's template would create, fresh on the emulators: the log's tables (with their stream), the
/// carts table, a Kinesis stream of two shards, and a database. Returns the configuration the functions would see.
pub async fn fresh_stack(sdk: &SdkConfig) -> Config {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let events = unique_name("lambda-events");
    create_tables(&dynamodb, &Tables::named(&events)).await.expect("the log's tables");
    let carts = unique_name("lambda-carts");
    ticketing_dynamodb::create_carts_table(&dynamodb, &carts).await.expect("the carts table");
    let stream = unique_name("lambda-bus");
    let kinesis = aws_sdk_kinesis::Client::new(sdk);
    kinesis.create_stream().stream_name(&stream).shard_count(2).send().await.expect("the stream");
    wait_until_active(&kinesis, &stream).await;
    Config {
        function: Function::Api,
        events_table: Some(events),
        log_table: None,
        index_table: None,
        carts_table: Some(carts),
        stream_name: Some(stream),
        database: Some(DatabaseConfig::Url(fresh_database().await)),
        buckets_per_concert: ticketing_app::BUCKETS_PER_CONCERT_MAX,
        user_pool_id: None,
    }
}

async fn wait_until_active(kinesis: &aws_sdk_kinesis::Client, stream: &str) {
    for _ in 0..100 {
        let summary = kinesis.describe_stream_summary().stream_name(stream).send().await.expect("describe");
        let active = summary
            .stream_description_summary()
            .is_some_and(|summary| summary.stream_status() == &aws_sdk_kinesis::types::StreamStatus::Active);
        if active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stream {stream} did not become active");
}

/// Who calls the API: the claims API Gateway's JWT authorizer would pass on, or none (a public route).
#[derive(Debug, Clone)]
pub enum Identity {
    /// No authorizer on the route: no claims.
    Anonymous,
    /// A verified Cognito access token of `sub`, in the groups as the gateway writes them (`"[admin]"`).
    Verified { sub: Uuid, groups: Option<String> },
}

impl Identity {
    pub fn admin() -> Self {
        Self::Verified { sub: Uuid::new_v4(), groups: Some("[admin]".to_owned()) }
    }

    pub fn customer() -> Self {
        Self::Verified { sub: Uuid::new_v4(), groups: None }
    }
}

/// An API Gateway HTTP API event (payload format 2.0) as the gateway sends it to a function, for `method` on
/// `route` (the route key's path, with `{parameters}`) filled with `parameters`, with a JSON `body`.
pub fn http_api_event(
    identity: &Identity,
    method: &str,
    route: &str,
    parameters: &[(&str, &str)],
    query: &str,
    body: Option<&Value>,
) -> Value {
    let mut path = route.to_owned();
    for (name, value) in parameters {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    let domain = "r4nd0m1d.execute-api.eu-west-1.amazonaws.com";
    let mut headers = json!({
        "accept": "application/json",
        "host": domain,
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-6745d2c0-0c1d2e3f4a5b6c7d8e9f0a1b",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    });
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r4nd0m1d",
            "domainName": domain,
            "domainPrefix": "r4nd0m1d",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "Bx2fGhJ0joEEMxQ=",
            "routeKey": format!("{method} {route}"),
            "stage": "$default",
            "time": "27/Nov/2026:17:00:00 +0000",
            "timeEpoch": 1_795_971_600_000_i64,
        },
        "isBase64Encoded": false,
    });
    if !parameters.is_empty() {
        let parameters: serde_json::Map<String, Value> =
            parameters.iter().map(|(name, value)| ((*name).to_owned(), json!(value))).collect();
        event["pathParameters"] = Value::Object(parameters);
    }
    if !query.is_empty() {
        let parameters: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), json!(value)))
            .collect();
        event["queryStringParameters"] = Value::Object(parameters);
    }
    if let Some(body) = body {
        headers["content-type"] = json!("application/json");
        event["headers"] = headers.clone();
        event["body"] = json!(body.to_string());
    }
    if let Identity::Verified { sub, groups } = identity {
        // The gateway passes every claim as text, lists included.
        let mut claims = json!({
            "sub": sub.to_string(),
            "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
            "client_id": "4qfn0kbvh2c5n1example",
            "token_use": "access",
            "scope": "openid email",
            "auth_time": "1795971000",
            "iat": "1795971000",
            "exp": "1795974600",
            "jti": Uuid::new_v4().to_string(),
            "username": sub.to_string(),
        });
        if let Some(groups) = groups {
            claims["cognito:groups"] = json!(groups);
        }
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
        event["headers"]["authorization"] = json!("Bearer eyJraWQiOiJleGFtcGxlIiwiYWxnIjoiUlMyNTYifQ.e30.c2ln");
    }
    event
}

/// Sends an API Gateway event to the `api` function, in-process, and returns the status and JSON body.
pub async fn call_api(resources: &Resources, event: &Value) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
    let response = cloudbash_lambda::api::handle(resources, request).await.expect("the function answers");
    let status = response.status();
    let bytes: Bytes =
        axum::body::to_bytes(response.into_body(), RESPONSE_BYTES_MAX).await.expect("the body is readable");
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") };
    (status, body)
}

/// As [`call_api`], asserting the status.
pub async fn expect_api(resources: &Resources, event: &Value, expected: StatusCode) -> Value {
    let (status, body) = call_api(resources, event).await;
    assert_eq!(status, expected, "{} {}: {body}", event["requestContext"]["http"]["method"], event["rawPath"]);
    body
}

/// Creates a venue and a published concert with one ticket type through the `api` function; returns the ids of
/// the concert and the ticket type.
pub async fn concert_on_sale(resources: &Resources, admin: &Identity, quantity: u32) -> (String, String) {
    let venue = json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1500});
    let venue =
        expect_api(resources, &http_api_event(admin, "POST", "/venues", &[], "", Some(&venue)), StatusCode::CREATED)
            .await;
    let concert = json!({"name": "Night of the Crabs", "venueId": venue["id"], "genre": "rock"});
    let concert = expect_api(
        resources,
        &http_api_event(admin, "POST", "/concerts", &[], "", Some(&concert)),
        StatusCode::CREATED,
    )
    .await;
    let concert_id = concert["id"].as_str().expect("an id").to_owned();
    let at = [("concertId", concert_id.as_str())];
    let ticket_type = json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": quantity});
    let ticket_type = http_api_event(admin, "POST", "/concerts/{concertId}/ticket-types", &at, "", Some(&ticket_type));
    let ticket_type = expect_api(resources, &ticket_type, StatusCode::CREATED).await;
    let dates = json!({"startsAt": "2031-06-01T20:00:00Z", "endsAt": "2031-06-01T23:00:00Z"});
    let schedule = http_api_event(admin, "POST", "/concerts/{concertId}/schedule", &at, "", Some(&dates));
    expect_api(resources, &schedule, StatusCode::OK).await;
    let publish = http_api_event(admin, "POST", "/concerts/{concertId}/publish", &at, "", None);
    expect_api(resources, &publish, StatusCode::OK).await;
    (concert_id, ticket_type["id"].as_str().expect("an id").to_owned())
}
