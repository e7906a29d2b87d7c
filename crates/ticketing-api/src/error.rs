//! The one place where the application layer's errors become problems, so that every route answers a refusal
//! with the same status: the domain says what *kind* of "no" it is and this mapping never looks at variants.
//!
//! - a refusal of kind `Invalid` is 422: the command is wrong whatever the state;
//! - a refusal of kind `Conflict` is 409: the current state refuses it (sold out, not a draft, checked in);
//! - a refusal of kind `NotFound`, and `AppError::NotFound`, are 404;
//! - `Busy` is 503 with `Retry-After`: the aggregates kept conflicting; the same command may be retried;
//! - `Unavailable` is 503 with `Retry-After`: the backend cannot be reached; the same command may be retried;
//! - `Store` is 500: logged here with its causes (the error's sources), with a generic detail for the client.
//!
//! Read models' errors (`QueryError`) are mapped here too: an invalid cursor is 400, a store failure 500.

use ticketing::RefusalKind;
use ticketing_app::AppError;
use ticketing_app::queries::QueryError;

use crate::limits::{BUSY_RETRY_AFTER, UNAVAILABLE_RETRY_AFTER};
use crate::problem::{Chain, FieldError, Problem};

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Rejected { kind: RefusalKind::Invalid, message } => {
                Problem::unprocessable(format!("The command was refused: {message}."), Vec::new())
            }
            AppError::Rejected { kind: RefusalKind::Conflict, message } => {
                Problem::conflict(format!("The command conflicts with the current state: {message}."))
            }
            AppError::Rejected { kind: RefusalKind::NotFound, message } => {
                Problem::not_found(format!("The command names something that does not exist: {message}."))
            }
            AppError::Rejected { kind: RefusalKind::Forbidden, message } => {
                Problem::forbidden(format!("The command is not allowed: {message}."))
            }
            AppError::NotFound(what) => Problem::not_found(format!("The {what} does not exist.")),
            AppError::Busy => Problem::service_unavailable(
                "Too many concurrent changes to the same data; retry with the same Idempotency-Key.",
                BUSY_RETRY_AFTER,
            ),
            AppError::Unavailable(_) => {
                tracing::warn!(error = %Chain(&error), "answering 503: the backend is unavailable");
                Problem::service_unavailable(
                    "The shop's storage cannot be reached right now; retry with the same Idempotency-Key.",
                    UNAVAILABLE_RETRY_AFTER,
                )
            }
            AppError::Store(_) => Problem::internal_error(&error),
        }
    }
}

/// A read model's failure: a cursor the backend did not hand out is the client's mistake (400, naming `cursor`);
/// a store failure is ours (500).
impl From<QueryError> for Problem {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::InvalidCursor => Problem::bad_request("The query parameter `cursor` is invalid.")
                .with_errors(vec![FieldError::new("cursor", "is not a cursor this API handed out")]),
            QueryError::Store(_) => Problem::internal_error(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use axum::http::StatusCode;
    use axum::http::header::RETRY_AFTER;
    use axum::response::IntoResponse;
    use es_core::StoreError;

    use super::*;

    fn rejected(kind: RefusalKind) -> AppError {
        AppError::Rejected { kind, message: "no".to_owned() }
    }

    #[test]
    fn each_kind_of_refusal_has_its_own_status() {
        assert_eq!(Problem::from(rejected(RefusalKind::Invalid)).status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(Problem::from(rejected(RefusalKind::Conflict)).status(), StatusCode::CONFLICT);
        assert_eq!(Problem::from(rejected(RefusalKind::NotFound)).status(), StatusCode::NOT_FOUND);
        assert_eq!(Problem::from(rejected(RefusalKind::Forbidden)).status(), StatusCode::FORBIDDEN);
        assert_eq!(Problem::from(AppError::NotFound("venue".to_owned())).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_busy_shop_is_a_503_that_says_when_to_retry() {
        let response = Problem::from(AppError::Busy).into_response();

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], BUSY_RETRY_AFTER.as_secs().to_string().as_str());
    }

    #[test]
    fn unreachable_storage_is_a_503_that_says_when_to_retry_and_not_why() {
        let unavailable = AppError::unavailable(StoreError::Unavailable("throttled on table t".to_owned()));
        let response = Problem::from(unavailable.clone()).into_response();

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], UNAVAILABLE_RETRY_AFTER.as_secs().to_string().as_str());
        assert!(!Problem::from(unavailable).detail().contains("table t"));
    }

    #[test]
    fn a_store_failure_is_a_500_that_does_not_tell_its_cause() {
        let problem = Problem::from(AppError::store(io::Error::other("disk I/O error at /var/data/log.db")));

        assert_eq!(problem.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!problem.detail().contains("log.db"), "detail leaks the cause: {}", problem.detail());
    }

    /// A client error whose message leaves out its cause, as HTTP clients' do ("error sending request").
    #[derive(Debug)]
    struct Dispatch(io::Error);

    impl std::fmt::Display for Dispatch {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("dispatch failure")
        }
    }

    impl std::error::Error for Dispatch {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_store_failure_is_logged_with_every_cause_once() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
        let failure = AppError::store(StoreError::Backend(Box::new(Dispatch(refused))));

        assert!(std::error::Error::source(&failure).is_some_and(|source| source.is::<StoreError>()));
        assert_eq!(
            Chain(&failure).to_string(),
            "storage failure: event store failed: dispatch failure; caused by: connection refused"
        );
    }
}
