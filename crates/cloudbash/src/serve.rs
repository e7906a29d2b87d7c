//! `cloudbash serve`: runs the whole shop in one process until Ctrl-C or
//! SIGTERM, then stops gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::demo;
use crate::host::{Host, HostConfig};

/// Options of `cloudbash serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, env = "CLOUDBASH_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Where the log, the read models and the signing secret live.
    #[arg(long, env = "CLOUDBASH_DATA_DIR", default_value = "./cloudbash-data")]
    data_dir: PathBuf,
    /// Seed a few venues and published concerts (only into an empty shop).
    #[arg(long)]
    demo: bool,
}

/// Serves until a shutdown signal.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = HostConfig { addr: args.addr, data_dir: args.data_dir.clone() };
    let host = Host::start(&config).await?;
    if args.demo {
        let seeded = demo::seed(host.shop()).await?;
        tracing::info!(seeded, "demo data");
    }
    banner(&host, &args);
    shutdown_signal().await;
    eprintln!("stopping…");
    host.stop().await;
    Ok(())
}

#[allow(clippy::print_stdout)]
fn banner(host: &Host, args: &ServeArgs) {
    // The first line is machine-readable: tests and scripts read the port from it.
    println!("listening on http://{}", host.addr());
    println!("data directory: {}", args.data_dir.display());
    println!("get a token:  cloudbash token --data-dir {} --sub $(uuidgen) [--admin]", args.data_dir.display());
    println!("try:          curl http://{}/concerts", host.addr());
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
