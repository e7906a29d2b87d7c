//! `cloudbash bench <scenario>`: the shop's figures on this machine, one
//! scenario at a time, so that each figure comes with the exact command that
//! produced it.
//!
//! Every scenario runs the real code path in a fresh temporary directory —
//! repository, encode, group commit into SQLite with the chosen durability,
//! projections, and for the flash sale the whole HTTP server — and prints
//! one line per run: a JSON object with `--json` (for scripts and the smoke
//! test), a table row otherwise. With `--runs N` a last line holds the
//! median of every figure (and the worst of every failure count).
//!
//! | scenario | what one run measures |
//! |---|---|
//! | `append` | W writers, one event per command, distinct aggregates |
//! | `append-batch` | the same with ten events per command |
//! | `contended` | W writers on K hot aggregates: conflicts and retries |
//! | `replay` | the whole log read and folded into a projection |
//! | `rehydrate` | cold loads of 10- and 100,000-event concerts |
//! | `lag` | commit → visible in the shop's read models at a fixed rate |
//! | `flash-sale` | buyers reserving and checking out over HTTP |
//! | `http-floor` | the same load generator against a trivial handler |

mod append;
mod contended;
mod flash_sale;
mod http_floor;
mod lag;
mod rehydrate;
mod replay;
mod report;
mod workload;

use clap::{Args, Subcommand, ValueEnum};
use es_sqlite::Durability;

use report::Reporter;

/// Options of `cloudbash bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
    #[command(flatten)]
    common: Common,
}

/// Options every scenario takes, before or after its name.
#[derive(Clone, Debug, Args)]
pub(crate) struct Common {
    /// Runs of the scenario; with more than one, a last line holds the medians.
    #[arg(long, global = true, default_value_t = 1)]
    runs: usize,
    /// Sync mode of the log: full (an append is answered once durable) or
    /// normal (no sync per commit). The flash sale always runs durable, as
    /// `cloudbash serve` does.
    #[arg(long, global = true, value_enum, default_value_t = SyncMode::Full)]
    sync: SyncMode,
    /// One JSON object per line instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// W writers on distinct aggregates, one event per command.
    Append(append::AppendArgs),
    /// W writers on distinct aggregates, ten events per command.
    AppendBatch(append::AppendBatchArgs),
    /// W writers on a few hot aggregates; reports conflicts and retries.
    Contended(contended::ContendedArgs),
    /// Reads the whole log and folds it into an in-memory projection.
    Replay(replay::ReplayArgs),
    /// Cold loads of a short and a long concert, with and without snapshots.
    Rehydrate(rehydrate::RehydrateArgs),
    /// Commit-to-visible lag of the shop's read models at a fixed rate.
    Lag(lag::LagArgs),
    /// A flash sale over HTTP: many buyers, few tickets, one concert.
    FlashSale(flash_sale::FlashSaleArgs),
    /// The flash sale's load generator against a trivial axum handler.
    HttpFloor(http_floor::HttpFloorArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SyncMode {
    Full,
    Normal,
}

impl SyncMode {
    fn durability(self) -> Durability {
        match self {
            SyncMode::Full => Durability::Full,
            SyncMode::Normal => Durability::Normal,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Normal => "normal",
        }
    }
}

/// Runs the chosen scenario `--runs` times and prints its lines.
pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.common.runs >= 1, "--runs must be at least 1");
    let mut reporter = Reporter::new(&args.common);
    match args.scenario {
        Scenario::Append(scenario) => append::run(&scenario.into(), &args.common, &mut reporter).await?,
        Scenario::AppendBatch(scenario) => append::run(&scenario.into(), &args.common, &mut reporter).await?,
        Scenario::Contended(scenario) => contended::run(&scenario, &args.common, &mut reporter).await?,
        Scenario::Replay(scenario) => replay::run(&scenario, &args.common, &mut reporter).await?,
        Scenario::Rehydrate(scenario) => rehydrate::run(&scenario, &args.common, &mut reporter).await?,
        Scenario::Lag(scenario) => lag::run(&scenario, &args.common, &mut reporter).await?,
        Scenario::FlashSale(scenario) => flash_sale::run(&scenario, &args.common, &mut reporter).await?,
        Scenario::HttpFloor(scenario) => http_floor::run(&scenario, &args.common, &mut reporter).await?,
    }
    reporter.finish()
}
