//! `bootstrap`, the one executable of every Cloudbash function (see the library's docs): reads the configuration,
//! sets up logging, and serves invocations until Lambda ends the container.

use cloudbash_lambda::logging::{LogSettings, init_logging};
use cloudbash_lambda::{Config, Resources};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging(&LogSettings::from_env());
    let config = Config::from_env()?;
    tracing::info!(function = ?config.function, "starting");
    // Shared by every invocation for the container's life, so it is never dropped.
    let resources: &'static Resources = Box::leak(Box::new(Resources::new(config)));
    cloudbash_lambda::serve(resources).await
}
