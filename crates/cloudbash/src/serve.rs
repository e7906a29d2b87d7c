//! `cloudbash serve`: runs the whole shop in one process until Ctrl-C or
//! SIGTERM, then stops gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::io::Write;

use clap::Args;
use tokio::signal::unix::{Signal, SignalKind, signal};

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
    // Listen before announcing the address: whoever reads it may signal at once.
    let signals = Signals::listen()?;
    banner(&host, &args);
    signals.wait().await;
    tracing::info!("stopping");
    host.stop().await;
    Ok(())
}

fn banner(host: &Host, args: &ServeArgs) {
    // The first line is machine-readable: tests and scripts read the port from
    // it. A reader that has gone away must not stop the shop, so write errors
    // are ignored rather than panicking as `println!` would.
    let mut out = std::io::stdout().lock();
    let data_dir = args.data_dir.display();
    let _ = writeln!(out, "listening on http://{}", host.addr());
    let _ = writeln!(out, "shop:         http://{}/  (sign in at /shop/sign-in)", host.addr());
    let _ = writeln!(out, "data directory: {data_dir}");
    let _ = writeln!(out, "get a token:  cloudbash token --data-dir {data_dir} --sub <uuid> [--admin]");
    let _ = writeln!(out, "try:          curl http://{}/concerts", host.addr());
    let _ = out.flush();
}

/// Ctrl-C and SIGTERM, registered as soon as this is made.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn listen() -> anyhow::Result<Self> {
        Ok(Self { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
