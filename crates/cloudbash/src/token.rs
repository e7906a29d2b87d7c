//! `cloudbash token`: prints a bearer token for the local mode, signed with
//! the data directory's secret (created on first use), carrying the claims
//! Amazon Cognito issues so that the API treats it like a real one.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;
use ticketing_api::auth::{LOCAL_ISSUER, LocalSigner, Secret};
use ticketing_api::limits::TOKEN_LIFETIME_DEFAULT;

/// Options of `cloudbash token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The data directory of the shop (holds the signing secret).
    #[arg(long, env = "CLOUDBASH_DATA_DIR", default_value = "./cloudbash-data")]
    data_dir: PathBuf,
    /// The user id (the token's `sub`), a UUID.
    #[arg(long)]
    sub: uuid::Uuid,
    /// Put the user in the `admin` group (the organiser).
    #[arg(long)]
    admin: bool,
    /// How long the token is valid, in seconds.
    #[arg(long, default_value_t = TOKEN_LIFETIME_DEFAULT.as_secs())]
    lifetime_seconds: u64,
}

/// Prints one token on one line.
pub(crate) fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let secret = Secret::load_or_create(&args.data_dir)?;
    let signer = LocalSigner::new(&secret, LOCAL_ISSUER);
    let token = signer.issue(args.sub, args.admin, Duration::from_secs(args.lifetime_seconds), SystemTime::now());
    #[allow(clippy::print_stdout)]
    {
        println!("{token}");
    }
    Ok(())
}
