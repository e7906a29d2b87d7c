//! Where a flash sale's tokens come from: signed here with the server's
//! secret (a server started in this process, or `--data-dir`), or handed
//! over on the command line (`--token`, `--buyer-tokens`).

use std::time::SystemTime;

use anyhow::Context;
use ticketing_api::auth::{LOCAL_ISSUER, LocalSigner, Secret};
use ticketing_api::limits::TOKEN_LIFETIME_DEFAULT;

use super::FlashSaleArgs;

pub(super) fn signer(data_dir: &std::path::Path) -> anyhow::Result<LocalSigner> {
    let secret = Secret::load_or_create(data_dir).context("reading the signing secret")?;
    Ok(LocalSigner::new(&secret, LOCAL_ISSUER))
}

/// Where the tokens come from.
pub(super) enum Tokens {
    /// Signed here with the server's secret.
    Signer(LocalSigner),
    /// Handed over on the command line.
    Given { admin: String, buyers: Vec<String> },
}

impl Tokens {
    pub(super) fn for_running_server(args: &FlashSaleArgs) -> anyhow::Result<Self> {
        if let Some(data_dir) = &args.data_dir {
            return Ok(Tokens::Signer(signer(data_dir)?));
        }
        let (Some(admin), Some(file)) = (&args.token, &args.buyer_tokens) else {
            anyhow::bail!("--url needs --data-dir, or --token with --buyer-tokens");
        };
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let buyers: Vec<String> =
            text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect();
        anyhow::ensure!(
            buyers.len() >= args.buyers as usize,
            "{} holds {} tokens, fewer than --buyers",
            file.display(),
            buyers.len()
        );
        Ok(Tokens::Given { admin: admin.clone(), buyers })
    }

    pub(super) fn admin(&self) -> String {
        match self {
            Tokens::Signer(signer) => {
                signer.issue(uuid::Uuid::now_v7(), true, TOKEN_LIFETIME_DEFAULT, SystemTime::now())
            }
            Tokens::Given { admin, .. } => admin.clone(),
        }
    }

    pub(super) fn buyers(&self, count: usize) -> Vec<String> {
        match self {
            Tokens::Signer(signer) => (0..count)
                .map(|_| signer.issue(uuid::Uuid::now_v7(), false, TOKEN_LIFETIME_DEFAULT, SystemTime::now()))
                .collect(),
            Tokens::Given { buyers, .. } => buyers[..count].to_vec(),
        }
    }
}
