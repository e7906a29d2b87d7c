//! SDK failures mapped onto the kernel's [`StoreError`]: what a caller may
//! retry (throttling, timeouts, an unreachable endpoint) is `Unavailable`,
//! anything else is a backend failure carrying the SDK's error.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use es_core::StoreError;

/// Error codes DynamoDB uses for "too fast, try again".
const THROTTLING_CODES: [&str; 5] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Maps any SDK error onto the kernel's store error.
pub(crate) fn store_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(service) => service.err().code().is_some_and(|code| THROTTLING_CODES.contains(&code)),
        _ => false,
    };
    let context = aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string();
    if retryable { StoreError::Unavailable(context) } else { StoreError::backend(Described { context, source: error }) }
}

/// An SDK error that says what happened: the SDK's own `Display` is only
/// "service error", its context (code and message) is in the chain.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
struct Described<E: std::error::Error + 'static> {
    context: String,
    #[source]
    source: E,
}

/// The code DynamoDB answers when a write's condition does not hold.
const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

/// Whether a conditional write went through (`true`) or its condition did
/// not hold (`false`); any other failure is a store error.
pub(crate) fn written<O, E, R>(sent: Result<O, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match sent {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().and_then(ProvideErrorMetadata::code) == Some(CONDITION_FAILED) => {
            Ok(false)
        }
        Err(error) => Err(store_error(error)),
    }
}

/// A request the SDK refused to build (a missing required field): a bug in
/// this crate, reported instead of panicking.
pub(crate) fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::backend(error)
}
