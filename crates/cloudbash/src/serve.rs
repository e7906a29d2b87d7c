//! `cloudbash serve`: runs the whole shop in one process until Ctrl-C or
//! SIGTERM, then stops gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::io::Write;

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, ValueEnum};
use ticketing_api::auth::TrustedIssuer;
use ticketing_api::edge::{CommandRate, EdgeLimits};
use ticketing_api::limits::{COMMAND_BURST, COMMANDS_PER_SECOND};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::aws::BackendArgs;
use crate::demo;
use crate::host::{Backends, Host, HostConfig, Identity};
use crate::ready::READ_MODEL_LAG_MAX_DEFAULT;
use crate::telemetry;

/// Options of `cloudbash serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, env = "CLOUDBASH_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Where the signing secret lives, and the log and read models of the embedded backends.
    #[arg(long, env = "CLOUDBASH_DATA_DIR", default_value = "./cloudbash-data")]
    data_dir: PathBuf,
    /// Seed a few venues and published concerts (only into an empty shop); implies `--dev-sign-in`.
    #[arg(long)]
    demo: bool,
    /// Offer the development sign-in at `/shop/sign-in`: anyone who reaches the port may sign in as a fan or an
    /// organiser. For a shop on one's own machine only; without it the route does not exist (404).
    #[arg(long, env = "CLOUDBASH_DEV_SIGN_IN")]
    dev_sign_in: bool,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    payments: crate::payments::PaymentArgs,
    #[command(flatten)]
    mail: crate::delivery::MailArgs,
    /// The Amazon Cognito user pool that signs the shop's tokens: disabling a customer also disables their account
    /// there, so that they cannot sign in again (the shop refuses their purchases either way).
    #[arg(long, env = "CLOUDBASH_USER_POOL_ID")]
    cognito_user_pool_id: Option<String>,
    #[command(flatten)]
    stores: StoreArgs,
    /// Where carts live: SQLite, or DynamoDB (`--carts-table`).
    #[arg(long, value_enum, env = "CLOUDBASH_CART_STORE", default_value = "sqlite")]
    cart_store: CartStore,
    /// How many buckets each concert published from now on sells from (0 to 8; default 8 on a DynamoDB log, 0 on
    /// SQLite): buyers on different buckets hold tickets at the same moment, however many processes share a
    /// DynamoDB log. One process on SQLite gains nothing from them (it shares appends already).
    #[arg(long, env = "CLOUDBASH_BUCKETS_PER_CONCERT", value_parser = clap::value_parser!(u16).range(0..=8))]
    buckets_per_concert: Option<u16>,
    /// Serve requests only, on the AWS backends: the log's indexer, the forwarder, the read models' consumers and
    /// hold expiry run in another process on the same log. One such process is enough for any number of serving
    /// ones; each more only repeats its work.
    #[arg(long, env = "CLOUDBASH_NO_BUS")]
    no_bus: bool,
    #[command(flatten)]
    aws: BackendArgs,
    /// Commands (POST, PUT, PATCH, DELETE of the API) each caller may send per second on average; a caller is the
    /// subject of a valid bearer token, else the client's address. Past it a command is a 429 with `Retry-After`.
    #[arg(long, env = "CLOUDBASH_COMMANDS_PER_SECOND", default_value_t = COMMANDS_PER_SECOND,
          value_parser = clap::value_parser!(u32).range(1..))]
    commands_per_second: u32,
    /// Commands each caller may send at once after a quiet spell.
    #[arg(long, env = "CLOUDBASH_COMMAND_BURST", default_value_t = COMMAND_BURST,
          value_parser = clap::value_parser!(u32).range(1..))]
    command_burst: u32,
    /// How long, in milliseconds, a client may take to send a request's headers before its connection is closed
    /// (default: `ticketing_api::limits::HEADER_READ_TIMEOUT`). Hidden: it exists so tests can watch silent
    /// connections being closed without waiting for the production value.
    #[arg(long, env = "CLOUDBASH_HEADER_TIMEOUT_MS", hide = true, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: Option<u64>,
    /// How long, in seconds, a request may take before it is answered with a 503 (default:
    /// `ticketing_api::limits::REQUEST_TIMEOUT`). Raise it where the services behind the shop are slow, such as
    /// the local emulators under a load test.
    #[arg(long, env = "CLOUDBASH_REQUEST_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout_secs: Option<u64>,
    /// Serve `/metrics` (Prometheus's text format) and `/status` (the read models' progress as JSON) on this
    /// address; keep it on a private network. Port 0 picks a free port. Without it no metrics are recorded.
    #[arg(long, env = "CLOUDBASH_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// How long, in seconds, a committed event may wait for a read model before `/ready` says the server should
    /// get no traffic (default 30).
    #[arg(long, env = "CLOUDBASH_READY_LAG_MAX_SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    ready_lag_max_secs: Option<u64>,
    /// Send traces (a span per request and per command) to the OpenTelemetry collector at this base address, as
    /// OTLP over HTTP (`http://collector:4318`; spans go to `/v1/traces`).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = NonEmptyStringValueParser::new())]
    otlp_endpoint: Option<String>,
}

impl ServeArgs {
    /// Where traces go, if anywhere.
    pub(crate) fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint.as_deref()
    }
}

/// Whose bearer tokens `serve` accepts: by default those signed with the secret in the data directory (`cloudbash
/// token`); with `--jwt-issuer`, only an identity provider's access tokens.
#[derive(Debug, Args)]
struct IdentityArgs {
    /// Accept only the RS256 access tokens of this issuer, named exactly as its tokens name it in `iss` (Amazon
    /// Cognito: `https://cognito-idp.<region>.amazonaws.com/<user pool id>`); locally signed tokens are refused.
    /// Needs `--jwt-client-id`; rules out `--dev-sign-in` and `--demo`.
    #[arg(long, env = "CLOUDBASH_JWT_ISSUER", value_parser = NonEmptyStringValueParser::new())]
    jwt_issuer: Option<String>,
    /// Where the issuer publishes its signing keys, a JSON Web Key Set (default: `<issuer>/.well-known/jwks.json`).
    #[arg(long, env = "CLOUDBASH_JWT_JWKS_URL", value_parser = NonEmptyStringValueParser::new())]
    jwt_jwks_url: Option<String>,
    /// The app client whose access tokens are accepted (their `client_id` claim).
    #[arg(long, env = "CLOUDBASH_JWT_CLIENT_ID", value_parser = NonEmptyStringValueParser::new())]
    jwt_client_id: Option<String>,
}

impl IdentityArgs {
    /// Whose tokens to accept. `dev_sign_in` says whether the development sign-in was asked for: it issues local
    /// tokens, which a server trusting an identity provider would refuse, so the two do not go together.
    fn identity(&self, dev_sign_in: bool) -> anyhow::Result<Identity> {
        let Some(issuer) = &self.jwt_issuer else {
            anyhow::ensure!(
                self.jwt_jwks_url.is_none() && self.jwt_client_id.is_none(),
                "--jwt-jwks-url and --jwt-client-id belong to --jwt-issuer (or CLOUDBASH_JWT_ISSUER)"
            );
            return Ok(Identity::Local);
        };
        let client_id = self.jwt_client_id.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "--jwt-issuer needs --jwt-client-id (or CLOUDBASH_JWT_CLIENT_ID): the app client whose tokens count"
            )
        })?;
        anyhow::ensure!(
            !dev_sign_in,
            "--jwt-issuer rules out --dev-sign-in and --demo: the development sign-in issues local tokens, \
             which a server trusting an identity provider refuses"
        );
        let trusted = TrustedIssuer::new(issuer, client_id);
        Ok(Identity::Trusted(match &self.jwt_jwks_url {
            Some(jwks_url) => trusted.with_jwks_url(jwks_url),
            None => trusted,
        }))
    }
}

/// Where the log and the relational read models live: what `serve` and
/// `rebuild` both take.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Where the log lives: SQLite in the data directory, or DynamoDB (`--events-table`).
    #[arg(long, value_enum, env = "CLOUDBASH_EVENT_STORE", default_value = "sqlite")]
    pub(crate) event_store: EventStoreKind,
    /// Where the catalogue, orders, attendees and sales live: SQLite, or PostgreSQL (`--database-url`).
    #[arg(long, value_enum, env = "CLOUDBASH_READ_DB", default_value = "sqlite")]
    pub(crate) read_db: ReadDb,
    /// The PostgreSQL read database, `postgres://user:password@host:port/database`.
    #[arg(long, env = "CLOUDBASH_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

impl StoreArgs {
    /// The PostgreSQL URL, which `--read-db postgres` cannot do without.
    pub(crate) fn database_url(&self) -> anyhow::Result<&str> {
        self.database_url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--read-db postgres needs --database-url (or CLOUDBASH_DATABASE_URL)"))
    }
}

/// Where the log lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EventStoreKind {
    Sqlite,
    Dynamodb,
}

/// Where the relational read models live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReadDb {
    Sqlite,
    Postgres,
}

/// Where carts live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CartStore {
    Sqlite,
    Dynamodb,
}

impl ServeArgs {
    /// The edge limits: the defaults of `ticketing_api::limits`, with what the flags change.
    fn edge_limits(&self) -> EdgeLimits {
        let defaults = EdgeLimits::default();
        EdgeLimits {
            header_read_timeout: self.header_timeout_ms.map_or(defaults.header_read_timeout, Duration::from_millis),
            request_timeout: self.request_timeout_secs.map_or(defaults.request_timeout, Duration::from_secs),
            commands: CommandRate { per_second: self.commands_per_second, burst: self.command_burst },
            ..defaults
        }
    }

    /// The AWS backends' names and settings (used by `aws provision` too).
    pub(crate) fn backend_args(&self) -> &BackendArgs {
        &self.aws
    }

    /// The two configurations there are: everything embedded, or everything
    /// on the AWS services. Read models in SQLite are fed by tailing the
    /// SQLite log, those on AWS by the bus fed from DynamoDB's stream, so a
    /// mix would leave some read models without a feed.
    fn backends(&self) -> anyhow::Result<Backends> {
        match (self.stores.event_store, self.stores.read_db, self.cart_store) {
            (EventStoreKind::Sqlite, ReadDb::Sqlite, CartStore::Sqlite) => {
                anyhow::ensure!(!self.no_bus, "--no-bus is for the AWS backends: the embedded ones run in one process");
                Ok(Backends::Embedded)
            }
            (EventStoreKind::Dynamodb, ReadDb::Postgres, CartStore::Dynamodb) => Ok(Backends::Aws {
                args: self.aws.clone(),
                database_url: self.stores.database_url()?.to_owned(),
                bus: !self.no_bus,
            }),
            _ => anyhow::bail!(
                "the backends go together: either all embedded (the default), or \
                 --event-store dynamodb --read-db postgres --cart-store dynamodb"
            ),
        }
    }
}

/// Serves until a shutdown signal.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = HostConfig {
        addr: args.addr,
        data_dir: args.data_dir.clone(),
        backends: args.backends()?,
        dev_sign_in: args.dev_sign_in || args.demo,
        buckets_per_concert: args.buckets_per_concert,
        operations: match args.metrics_addr {
            Some(addr) => Some((addr, telemetry::install_prometheus()?)),
            None => None,
        },
        ready_lag_max: args.ready_lag_max_secs.map_or(READ_MODEL_LAG_MAX_DEFAULT, Duration::from_secs),
        payments: args.payments.provider()?,
        mail: args.mail.mailer()?,
        user_pool_id: args.cognito_user_pool_id.clone(),
    };
    let identity = args.identity.identity(config.dev_sign_in)?;
    let host = Host::start_with(&config, &args.edge_limits(), &identity).await?;
    if args.demo {
        let seeded = demo::seed(host.shop()).await?;
        tracing::info!(seeded, "demo data");
    }
    // Listen before announcing the address: whoever reads it may signal at once.
    let signals = Signals::listen()?;
    banner(&host, &args, config.dev_sign_in, &identity);
    signals.wait().await;
    tracing::info!("stopping");
    host.stop().await;
    Ok(())
}

fn banner(host: &Host, args: &ServeArgs, dev_sign_in: bool, identity: &Identity) {
    // The first line is machine-readable: tests and scripts read the port from
    // it. A reader that has gone away must not stop the shop, so write errors
    // are ignored rather than panicking as `println!` would.
    let mut out = std::io::stdout().lock();
    let data_dir = args.data_dir.display();
    let _ = writeln!(out, "listening on http://{}", host.addr());
    if dev_sign_in {
        let _ = writeln!(out, "shop:         http://{}/  (development sign-in at /shop/sign-in)", host.addr());
    } else if let Identity::Trusted(_) = identity {
        let _ = writeln!(out, "shop:         http://{}/  (no sign-in page)", host.addr());
    } else {
        let _ = writeln!(out, "shop:         http://{}/  (no sign-in page: --dev-sign-in offers one)", host.addr());
    }
    if let Some(operations) = host.operations_addr() {
        let _ = writeln!(out, "metrics:      http://{operations}/metrics  (and /status)");
    }
    let _ = match host.shop().payments() {
        Some(provider) => writeln!(out, "payments:     {}", provider.name()),
        None => writeln!(out, "payments:     the built-in test provider: orders are paid at checkout"),
    };
    let _ = writeln!(out, "data directory: {data_dir}");
    match identity {
        Identity::Local => {
            let _ = writeln!(out, "get a token:  cloudbash token --data-dir {data_dir} --sub <uuid> [--admin]");
        }
        Identity::Trusted(trusted) => {
            let (issuer, client_id) = (trusted.issuer(), trusted.client_id());
            let _ = writeln!(out, "tokens:       access tokens of {issuer} for app client {client_id}");
        }
    }
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The identity flags alone, as `serve` parses them.
    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        identity: IdentityArgs,
    }

    fn identity(flags: &[&str], dev_sign_in: bool) -> anyhow::Result<Identity> {
        let parsed = Flags::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))?;
        parsed.identity.identity(dev_sign_in)
    }

    const POOL: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123";

    #[test]
    fn without_an_issuer_the_local_tokens_count() {
        assert!(matches!(identity(&[], false), Ok(Identity::Local)));
        assert!(matches!(identity(&[], true), Ok(Identity::Local)));
    }

    #[test]
    fn an_issuer_with_its_client_is_trusted_with_its_keys_at_the_well_known_address() {
        let identity = identity(&["--jwt-issuer", POOL, "--jwt-client-id", "app"], false);

        match identity {
            Ok(Identity::Trusted(trusted)) => {
                assert_eq!(trusted, TrustedIssuer::new(POOL, "app"));
                assert_eq!(trusted.jwks_url(), format!("{POOL}/.well-known/jwks.json"));
            }
            other => panic!("an issuer is trusted: {other:?}"),
        }
    }

    #[test]
    fn the_key_set_address_may_be_given() {
        let flags = ["--jwt-issuer", POOL, "--jwt-client-id", "app", "--jwt-jwks-url", "http://127.0.0.1:5000/keys"];

        match identity(&flags, false) {
            Ok(Identity::Trusted(trusted)) => assert_eq!(trusted.jwks_url(), "http://127.0.0.1:5000/keys"),
            other => panic!("an issuer is trusted: {other:?}"),
        }
    }

    #[test]
    fn an_issuer_without_a_client_is_refused() {
        let refused = identity(&["--jwt-issuer", POOL], false);

        assert!(refused.is_err_and(|error| error.to_string().contains("--jwt-client-id")));
    }

    #[test]
    fn a_client_or_key_set_without_an_issuer_is_refused() {
        assert!(identity(&["--jwt-client-id", "app"], false).is_err());
        assert!(identity(&["--jwt-jwks-url", "http://127.0.0.1:5000/keys"], false).is_err());
    }

    #[test]
    fn an_issuer_rules_out_the_development_sign_in() {
        let refused = identity(&["--jwt-issuer", POOL, "--jwt-client-id", "app"], true);

        assert!(refused.is_err_and(|error| error.to_string().contains("--dev-sign-in")));
    }

    #[test]
    fn an_empty_issuer_is_refused() {
        assert!(identity(&["--jwt-issuer", "", "--jwt-client-id", "app"], false).is_err());
    }
}
