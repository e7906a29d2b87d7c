//! The `cloudbash` binary: the composition root of the local and container
//! hosts. Configuration is read once here, into typed values, and passed down;
//! no library reads the environment.

mod aws;
mod aws_host;
mod bench;
mod demo;
mod host;
mod ready;
mod rebuild;
mod serve;
mod status;
mod token;

use clap::{Parser, Subcommand};

/// Cloudbash: event-sourced ticket sales.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the shop: log, read models, hold expiry and the HTTP API.
    Serve(serve::ServeArgs),
    /// Builds read models again from the log and swaps them in.
    Rebuild(rebuild::RebuildArgs),
    /// Measures the event log on this machine (release build recommended).
    Bench(bench::BenchArgs),
    /// Shows how far each read model has followed the log, without disturbing a running shop.
    Status(status::StatusArgs),
    /// Prints a bearer token for the local mode.
    Token(token::TokenArgs),
    /// Prepares the AWS backends on the configured endpoint.
    Aws(aws::AwsArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Rebuild(args) => runtime.block_on(rebuild::run(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Status(args) => runtime.block_on(status::run(args)),
        Command::Token(args) => token::run(&args),
        Command::Aws(args) => runtime.block_on(aws::run(args)),
    }
}
