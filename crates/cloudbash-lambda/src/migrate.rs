//! The `migrate` function: brings the read-model database's schema up to date (`ticketing_postgres::migrate`,
//! embedded migrations, safe to run twice). CloudFormation calls it as the custom resource `DatabaseMigration` on
//! every deployment with new code; it may also be invoked by hand with any other payload (`{}`).
//!
//! A custom resource must always answer: CloudFormation waits for a PUT to the request's pre-signed `ResponseURL`
//! and, without one, holds the stack until the resource's `ServiceTimeout`. So every request is answered, SUCCESS
//! or FAILED with the reason, whatever happened before; the migration itself is cut off after
//! [`MIGRATION_DURATION_MAX`] so that the answer leaves before the function's time runs out. `Delete` changes
//! nothing: the schema belongs to the database, which outlives the resource.

use serde::{Deserialize, Serialize};
use ticketing_api::problem::Chain;

use crate::limits::{
    CLOUDFORMATION_ANSWER_ATTEMPTS_MAX, CLOUDFORMATION_ANSWER_TIMEOUT, CLOUDFORMATION_REASON_BYTES_MAX,
    MIGRATION_DURATION_MAX,
};
use crate::{Cause, LambdaError, Resources};

/// The physical id of the resource: there is one schema per database, whatever CloudFormation calls it.
pub const PHYSICAL_RESOURCE_ID: &str = "cloudbash-read-model-schema";

/// What CloudFormation sends a custom resource (the fields this function uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    /// `Create`, `Update` or `Delete`.
    pub request_type: String,
    /// Where the answer goes: a pre-signed S3 URL, valid for this request only.
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    /// The stack, echoed in the answer.
    #[serde(default)]
    pub stack_id: String,
    /// The request, echoed in the answer.
    #[serde(default)]
    pub request_id: String,
    /// The resource's name in the template, echoed in the answer.
    #[serde(default)]
    pub logical_resource_id: String,
    /// The id answered before (absent on `Create`).
    #[serde(default)]
    pub physical_resource_id: Option<String>,
}

/// The answer CloudFormation expects at the `ResponseURL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    /// `SUCCESS` or `FAILED`.
    pub status: String,
    /// Why, shown in the stack's events (required with `FAILED`).
    pub reason: String,
    /// The resource's id; the same on every answer, so an update never looks like a replacement.
    pub physical_resource_id: String,
    /// As in the request.
    pub stack_id: String,
    /// As in the request.
    pub request_id: String,
    /// As in the request.
    pub logical_resource_id: String,
}

/// Handles one invocation: a custom resource request is answered at its `ResponseURL`; anything else just
/// migrates. Returns what was done, as the function's result.
pub async fn handle(resources: &Resources, event: serde_json::Value) -> Result<serde_json::Value, LambdaError> {
    if event.get("ResponseURL").is_none() {
        migrate(resources).await?;
        return Ok(serde_json::json!({"migrated": true}));
    }
    let request: CustomResourceRequest =
        serde_json::from_value(event).map_err(|error| LambdaError::Event(format!("not a custom resource: {error}")))?;
    let client = reqwest::Client::builder()
        .timeout(CLOUDFORMATION_ANSWER_TIMEOUT)
        .build()
        .map_err(|error| LambdaError::Answer(Box::new(error)))?;
    let response = handle_custom_resource(resources, &client, &request).await?;
    Ok(serde_json::json!({"status": response.status, "reason": response.reason}))
}

/// Does what `request` asks and answers it at its `ResponseURL`. Fails only when the answer cannot be delivered
/// (then Lambda retries the invocation, and the migration, which is idempotent, runs again).
pub async fn handle_custom_resource(
    resources: &Resources,
    client: &reqwest::Client,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, LambdaError> {
    let outcome = match request.request_type.as_str() {
        "Create" | "Update" => match tokio::time::timeout(MIGRATION_DURATION_MAX, migrate(resources)).await {
            Ok(migrated) => migrated.map(|()| "the read-model schema is up to date"),
            Err(_) => Err(LambdaError::Event(format!(
                "the migration did not finish within {} s",
                MIGRATION_DURATION_MAX.as_secs()
            ))),
        },
        "Delete" => Ok("nothing to undo: the schema stays with the database"),
        other => Err(LambdaError::Event(format!("unknown RequestType {other:?}"))),
    };
    let (status, reason) = match outcome {
        Ok(reason) => ("SUCCESS", reason.to_owned()),
        Err(error) => {
            let error = Chain(&error).to_string();
            tracing::error!(%error, request_type = %request.request_type, "the migration failed");
            ("FAILED", cut(&error, CLOUDFORMATION_REASON_BYTES_MAX))
        }
    };
    let response = CustomResourceResponse {
        status: status.to_owned(),
        reason,
        physical_resource_id: request.physical_resource_id.clone().unwrap_or_else(|| PHYSICAL_RESOURCE_ID.to_owned()),
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
    };
    answer(client, &request.response_url, &response).await?;
    Ok(response)
}

/// Applies the migrations compiled into the binary.
pub async fn migrate(resources: &Resources) -> Result<(), LambdaError> {
    ticketing_postgres::migrate(resources.pool().await?).await?;
    tracing::info!("the read-model schema is up to date");
    Ok(())
}

/// PUTs `response` to the pre-signed `url`, a few times if it does not take it. No content type: the URL is signed
/// without one.
async fn answer(client: &reqwest::Client, url: &str, response: &CustomResourceResponse) -> Result<(), LambdaError> {
    let body = serde_json::to_string(response).map_err(|error| LambdaError::Answer(Box::new(error)))?;
    let mut last_error: Cause = "no attempt was made".into();
    for attempt in 0..CLOUDFORMATION_ANSWER_ATTEMPTS_MAX {
        match client.put(url).body(body.clone()).send().await {
            Ok(answered) if answered.status().is_success() => return Ok(()),
            Ok(answered) => last_error = format!("the ResponseURL answered {}", answered.status()).into(),
            Err(error) => last_error = Box::new(error),
        }
        tracing::warn!(attempt, error = %Chain(&*last_error), "CloudFormation did not take the answer; trying again");
        tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
    }
    Err(LambdaError::Answer(last_error))
}

/// `text`, cut at a character boundary to at most `bytes_max` bytes.
fn cut(text: &str, bytes_max: usize) -> String {
    let mut end = text.len().min(bytes_max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_cut_at_a_character_boundary() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("hello", 10), "hello");
    }

    #[test]
    fn a_cloudformation_request_is_read_with_its_response_url() {
        let request: CustomResourceRequest = serde_json::from_value(serde_json::json!({
            "RequestType": "Update",
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:migrate:live",
            "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/answer",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/1",
            "RequestId": "5d478078-13e9-baf0-464a-7ef285ecc786",
            "LogicalResourceId": "DatabaseMigration",
            "PhysicalResourceId": "cloudbash-read-model-schema",
            "ResourceType": "Custom::DatabaseMigration",
            "ResourceProperties": {"ServiceToken": "arn", "ServiceTimeout": "300", "FunctionVersion": "7"},
            "OldResourceProperties": {"ServiceToken": "arn", "ServiceTimeout": "300", "FunctionVersion": "6"}
        }))
        .expect("a custom resource request");

        assert_eq!(request.request_type, "Update");
        assert_eq!(request.logical_resource_id, "DatabaseMigration");
        assert_eq!(request.physical_resource_id.as_deref(), Some(PHYSICAL_RESOURCE_ID));
    }
}
