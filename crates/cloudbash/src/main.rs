//! The `cloudbash` binary: the composition root of the local and container
//! hosts. Configuration is read once here, into typed values, and passed down;
//! no library reads the environment.

mod aws;
mod aws_host;
mod bench;
mod delivery;
mod demo;
mod host;
mod operations;
mod payments;
mod ready;
mod rebuild;
mod serve;
mod status;
mod telemetry;
mod token;

use clap::{Parser, Subcommand};

/// Cloudbash: event-sourced ticket sales.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written to standard error: text, or one JSON object per line.
    #[arg(long, global = true, value_enum, env = "CLOUDBASH_LOG_FORMAT", default_value = "text")]
    log_format: telemetry::LogFormat,
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
    let cli = Cli::parse();
    // A server says what it serves; the other commands speak only when something is wrong.
    let (level, otlp_endpoint) = match &cli.command {
        Command::Serve(args) => ("info", args.otlp_endpoint()),
        _ => ("warn", None),
    };
    let traces = telemetry::init_logging(cli.log_format, level, otlp_endpoint)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let ran = match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Rebuild(args) => runtime.block_on(rebuild::run(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Status(args) => runtime.block_on(status::run(args)),
        Command::Token(args) => token::run(&args),
        Command::Aws(args) => runtime.block_on(aws::run(args)),
    };
    if let Some(traces) = traces {
        traces.finish();
    }
    ran
}
