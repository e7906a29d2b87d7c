//! The `migrate` function as CloudFormation's custom resource: every request is answered at its `ResponseURL`,
//! SUCCESS or FAILED with the reason, since a resource that never answers holds its stack until it times out. A
//! local HTTP server stands in for the pre-signed S3 URL and keeps what it was sent.

mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::put;
use cloudbash_lambda::config::DatabaseConfig;
use cloudbash_lambda::migrate::{CustomResourceResponse, PHYSICAL_RESOURCE_ID};
use cloudbash_lambda::{Config, Function, LambdaError, Resources};
use serde_json::{Value, json};
use sqlx_core::connection::Connection;
use sqlx_postgres::{PgConnectOptions, PgConnection};

/// One PUT the stand-in received: its content type and body.
type Answer = (Option<String>, Value);

/// What the stand-in for the ResponseURL received, in order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Answer>>>);

impl Received {
    fn answers(&self) -> Vec<Answer> {
        self.0.lock().expect("no test panics while holding the lock").clone()
    }
}

/// A local server answering PUTs on `/answer` with `status`; returns its URL and what it receives.
async fn response_url(status: StatusCode) -> (String, Received) {
    async fn take(
        State((received, status)): State<(Received, StatusCode)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let content_type = headers.get("content-type").map(|value| value.to_str().unwrap_or_default().to_owned());
        let body = serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
        received.0.lock().expect("no test panics while holding the lock").push((content_type, body));
        status
    }
    let received = Received::default();
    let app = Router::new().route("/answer", put(take)).with_state((received.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    // The query string of a pre-signed URL, as S3's would carry it.
    (format!("http://{addr}/answer?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc"), received)
}

fn request(request_type: &str, url: &str) -> Value {
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:shop-MigrateFunction:live",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/0a1b2c3d",
        "RequestId": "5d478078-13e9-baf0-464a-7ef285ecc786",
        "LogicalResourceId": "DatabaseMigration",
        "ResourceType": "Custom::DatabaseMigration",
        "ResourceProperties": {"ServiceToken": "arn", "ServiceTimeout": "300", "FunctionVersion": "1"}
    })
}

fn resources(database: Option<DatabaseConfig>) -> Resources {
    Resources::new(Config {
        function: Function::Migrate,
        events_table: None,
        log_table: None,
        index_table: None,
        carts_table: None,
        stream_name: None,
        database,
        buckets_per_concert: 0,
        user_pool_id: None,
    })
}

fn the_one_answer(received: &Received) -> CustomResourceResponse {
    let answers = received.answers();
    assert_eq!(answers.len(), 1, "exactly one answer: {answers:?}");
    let (content_type, body) = answers.into_iter().next().expect("one answer");
    assert_eq!(content_type, None, "the pre-signed URL is signed without a content type");
    serde_json::from_value(body).expect("the answer CloudFormation expects")
}

#[tokio::test]
async fn a_create_migrates_the_database_and_answers_success() {
    let url = support::fresh_database().await;
    let (answer_url, received) = response_url(StatusCode::OK).await;
    let resources = resources(Some(DatabaseConfig::Url(url.clone())));

    let result = cloudbash_lambda::migrate::handle(&resources, request("Create", &answer_url)).await.expect("answered");

    let answer = the_one_answer(&received);
    assert_eq!(answer.status, "SUCCESS", "{answer:?}");
    assert_eq!(answer.physical_resource_id, PHYSICAL_RESOURCE_ID);
    assert_eq!(answer.logical_resource_id, "DatabaseMigration");
    assert_eq!(answer.request_id, "5d478078-13e9-baf0-464a-7ef285ecc786");
    assert_eq!(answer.stack_id, "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/0a1b2c3d");
    assert_eq!(result["status"], json!("SUCCESS"));
    let options: PgConnectOptions = url.parse().expect("a URL");
    let mut connection = PgConnection::connect_with(&options).await.expect("connects");
    let tables: i64 = sqlx_core::query_scalar::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('catalogue', 'bus_checkpoints')",
    )
    .fetch_one(&mut connection)
    .await
    .expect("counts");
    assert_eq!(tables, 2, "the schema is there");
}

#[tokio::test]
async fn an_update_runs_the_migrations_again_and_keeps_the_physical_id() {
    let url = support::fresh_database().await;
    let resources = resources(Some(DatabaseConfig::Url(url)));
    for request_type in ["Create", "Update"] {
        let (answer_url, received) = response_url(StatusCode::OK).await;
        let mut request = request(request_type, &answer_url);
        request["PhysicalResourceId"] = json!(PHYSICAL_RESOURCE_ID);

        cloudbash_lambda::migrate::handle(&resources, request).await.expect("answered");

        let answer = the_one_answer(&received);
        assert_eq!((answer.status.as_str(), answer.physical_resource_id.as_str()), ("SUCCESS", PHYSICAL_RESOURCE_ID));
    }
}

#[tokio::test]
async fn a_delete_answers_success_without_touching_the_database() {
    let (answer_url, received) = response_url(StatusCode::OK).await;
    // No database at all: a delete must not need one (the stack may be going because the database is broken).
    let mut request = request("Delete", &answer_url);
    request["PhysicalResourceId"] = json!(PHYSICAL_RESOURCE_ID);

    cloudbash_lambda::migrate::handle(&resources(None), request).await.expect("answered");

    assert_eq!(the_one_answer(&received).status, "SUCCESS");
}

#[tokio::test]
async fn a_migration_that_cannot_run_answers_failed_with_the_reason() {
    let (answer_url, received) = response_url(StatusCode::OK).await;
    // Nothing listens on port 1: the pool cannot connect.
    let resources = resources(Some(DatabaseConfig::Url("postgres://postgres@127.0.0.1:1/none".to_owned())));

    let result = cloudbash_lambda::migrate::handle(&resources, request("Create", &answer_url)).await;

    assert!(result.is_ok(), "the function succeeds once CloudFormation has its answer: {result:?}");
    let answer = the_one_answer(&received);
    assert_eq!(answer.status, "FAILED");
    assert!(answer.reason.contains("database"), "the reason says what failed: {}", answer.reason);
}

#[tokio::test]
async fn a_missing_database_configuration_answers_failed_naming_the_variable() {
    let (answer_url, received) = response_url(StatusCode::OK).await;

    cloudbash_lambda::migrate::handle(&resources(None), request("Update", &answer_url)).await.expect("answered");

    let answer = the_one_answer(&received);
    assert_eq!(answer.status, "FAILED");
    assert!(answer.reason.contains("CLOUDBASH_DATABASE_SECRET_ARN"), "{}", answer.reason);
}

#[tokio::test]
async fn an_unknown_request_type_answers_failed() {
    let (answer_url, received) = response_url(StatusCode::OK).await;

    cloudbash_lambda::migrate::handle(&resources(None), request("Rollback", &answer_url)).await.expect("answered");

    assert_eq!(the_one_answer(&received).status, "FAILED");
}

#[tokio::test]
async fn an_answer_the_response_url_refuses_fails_the_invocation_so_that_lambda_retries_it() {
    let (answer_url, received) = response_url(StatusCode::FORBIDDEN).await;
    let mut request = request("Delete", &answer_url);
    request["PhysicalResourceId"] = json!(PHYSICAL_RESOURCE_ID);

    let result = cloudbash_lambda::migrate::handle(&resources(None), request).await;

    assert!(matches!(result, Err(LambdaError::Answer(_))), "{result:?}");
    assert!(received.answers().len() > 1, "the answer is tried more than once");
}
