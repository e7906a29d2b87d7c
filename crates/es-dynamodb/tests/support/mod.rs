//! Connects the tests to the local DynamoDB emulator, and refuses to run
//! against anything else: a test must never reach a real account.

use aws_sdk_dynamodb::Client;

/// A client for the emulator named by `AWS_ENDPOINT_URL_DYNAMODB`.
pub(crate) async fn client() -> Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "AWS_ENDPOINT_URL_DYNAMODB must point at the local emulator (got {endpoint:?}); \
         run the tests through scripts/test.sh, or `. scripts/services.sh` first"
    );
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&config)
}

/// A table name no other test uses.
pub(crate) fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
