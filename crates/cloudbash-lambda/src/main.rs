//! `bootstrap`, the one executable of every Cloudbash function (see the library's docs): reads the configuration,
//! sets up logging and metrics, and serves invocations until Lambda ends the container.

use cloudbash_lambda::logging::{LogSettings, init_logging};
use cloudbash_lambda::{Config, EmfRecorder, InvocationMetrics, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging(&LogSettings::from_env());
    let config = Config::from_env()?;
    tracing::info!(function = ?config.function, "starting");
    // The process's only recorder: nothing can have installed another before `main`.
    let recorder = EmfRecorder::install().expect("the first metrics recorder of the process");
    // Shared by every invocation for the container's life, so they are never dropped.
    let metrics: &'static InvocationMetrics =
        Box::leak(Box::new(InvocationMetrics::new(recorder, config.function, Box::new(std::io::stdout()))));
    let resources: &'static Resources = Box::leak(Box::new(Resources::new(config)));
    cloudbash_lambda::serve(resources, metrics).await
}
