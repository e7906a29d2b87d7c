//! # cloudbash-lambda: the AWS composition root
//!
//! deploy/template.yaml deploys one binary, `bootstrap`, as every function of the stack; the environment variable
//! `CLOUDBASH_FUNCTION` picks what a container does:
//!
//! | function | invoked by | does |
//! |---|---|---|
//! | `api` | API Gateway (HTTP API, payload 2.0) | the REST API: `ticketing_api::router` over the DynamoDB log and the PostgreSQL read models ([`api`]) |
//! | `forwarder` | the events table's stream | puts new events on the Kinesis bus ([`forwarder`]) |
//! | `indexer` | the events table's stream | gives new events their positions in the log's index table ([`indexer`]) |
//! | `projector` | the Kinesis bus | applies events to the read models, reporting partial batch failures ([`projector`]) |
//! | `hold-expiry` | EventBridge Scheduler, every minute | expires run-out holds, a bounded amount per run ([`hold_expiry`]) |
//! | `migrate` | the CloudFormation custom resource `DatabaseMigration` | applies the database migrations and answers CloudFormation ([`migrate`]) |
//!
//! One binary rather than six keeps one build and one artefact, and the functions can never disagree about the
//! event format. This is the only place besides `cloudbash` that picks backends: everything below it holds ports.
//! A container makes its clients and pools on first use ([`Resources`]), so a cold start costs only what its first
//! invocation needs. Every invocation's metrics are written after it as CloudWatch's embedded metric format
//! ([`emf`]); its log lines are JSON when Lambda asks for JSON ([`logging`]).

pub mod api;
pub mod config;
pub mod emf;
mod error;
pub mod figures;
pub mod forwarder;
pub mod hold_expiry;
pub mod indexer;
pub mod limits;
pub mod logging;
pub mod migrate;
pub mod projector;
mod resources;

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use ticketing_api::problem::Chain;

pub use config::{Config, Function};
pub use emf::{EmfRecorder, InvocationMetrics};
pub use error::{Cause, LambdaError};
pub use resources::Resources;

/// Serves invocations as `resources`' function until the runtime stops the process, writing each invocation's
/// metrics with `metrics` once it is done. Both live as long as the process: every invocation shares them. Each
/// invocation's future is boxed: the handlers' first-use set-up (SDK, store, shop, pool) nests deep enough to
/// exceed the compiler's layout depth inside the runtime's loop.
pub async fn serve(
    resources: &'static Resources,
    metrics: &'static InvocationMetrics,
) -> Result<(), lambda_runtime::Error> {
    match resources.config().function {
        Function::Api => {
            let handler = service_fn(move |request| async move {
                metrics.around(Box::pin(api::handle(resources, request))).await.map_err(fail)
            });
            lambda_http::run(handler).await
        }
        Function::Forwarder => {
            let handler = service_fn(move |event: LambdaEvent<DynamoDbEvent>| async move {
                metrics.around(Box::pin(forwarder::handle(resources, event.payload))).await.map_err(fail)
            });
            lambda_runtime::run(handler).await
        }
        Function::Indexer => {
            let handler = service_fn(move |event: LambdaEvent<DynamoDbEvent>| async move {
                metrics.around(Box::pin(indexer::handle(resources, event.payload))).await.map_err(fail)
            });
            lambda_runtime::run(handler).await
        }
        Function::Projector => {
            let handler = service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
                metrics.around(Box::pin(projector::handle(resources, event.payload))).await.map_err(fail)
            });
            lambda_runtime::run(handler).await
        }
        Function::HoldExpiry => {
            // The schedule's payload says nothing the run needs; the time is read here.
            let handler = service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
                metrics.around(Box::pin(hold_expiry::handle(resources, chrono::Utc::now()))).await.map_err(fail)
            });
            lambda_runtime::run(handler).await
        }
        Function::Migrate => {
            let handler = service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
                metrics.around(Box::pin(migrate::handle(resources, event.payload))).await.map_err(fail)
            });
            lambda_runtime::run(handler).await
        }
    }
}

/// Logs a failed invocation once and hands it to the runtime, which reports it to Lambda.
fn fail(error: LambdaError) -> lambda_runtime::Error {
    tracing::error!(error = %Chain(&error), "the invocation failed");
    Box::new(error)
}
