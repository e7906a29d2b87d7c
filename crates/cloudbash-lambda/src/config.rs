//! The configuration of a function, read once from its environment when the container starts: deploy/template.yaml
//! sets the same variables on every function, and `CLOUDBASH_FUNCTION` says which one this is. Nothing is
//! connected here; the variables a function does not use may be absent (for a local run), and a missing one is
//! reported by the first piece of work that needs it. The names are `cloudbash serve`'s where both read one
//! (`CLOUDBASH_EVENTS_TABLE`, `CLOUDBASH_STREAM`, `CLOUDBASH_CARTS_TABLE`, `CLOUDBASH_DATABASE_URL`,
//! `CLOUDBASH_BUCKETS_PER_CONCERT`), and mean the same there, so one environment describes a stack for either host.

use crate::LambdaError;

/// The role of this container, from `CLOUDBASH_FUNCTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The REST API behind API Gateway.
    Api,
    /// The events table's stream to the Kinesis bus.
    Forwarder,
    /// The events table's stream to the log's index: positions for new events.
    Indexer,
    /// The Kinesis bus to the read models.
    Projector,
    /// The scheduled release of run-out holds.
    HoldExpiry,
    /// The database migrations, as a CloudFormation custom resource.
    Migrate,
}

impl Function {
    /// The function named `name`, as the template names it.
    pub fn parse(name: &str) -> Result<Self, LambdaError> {
        match name {
            "api" => Ok(Self::Api),
            "forwarder" => Ok(Self::Forwarder),
            "indexer" => Ok(Self::Indexer),
            "projector" => Ok(Self::Projector),
            "hold-expiry" => Ok(Self::HoldExpiry),
            "migrate" => Ok(Self::Migrate),
            other => Err(LambdaError::UnknownFunction(other.to_owned())),
        }
    }

    /// The function's name, as the template names it (and [`Function::parse`] reads it).
    pub fn name(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Forwarder => "forwarder",
            Self::Indexer => "indexer",
            Self::Projector => "projector",
            Self::HoldExpiry => "hold-expiry",
            Self::Migrate => "migrate",
        }
    }
}

/// Where the read-model database is and how to sign in.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// A full URL with its password (`CLOUDBASH_DATABASE_URL`): local runs and tests.
    Url(String),
    /// RDS: the address, and the master user's credentials in Secrets Manager (read on first use).
    Rds {
        /// `CLOUDBASH_DATABASE_SECRET_ARN`: a secret whose JSON holds `username` and `password`.
        secret_arn: String,
        /// `CLOUDBASH_DATABASE_HOST`.
        host: String,
        /// `CLOUDBASH_DATABASE_PORT`.
        port: u16,
        /// `CLOUDBASH_DATABASE_NAME`.
        name: String,
    },
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // A URL may carry a password: never in logs.
            Self::Url(_) => formatter.write_str("Url(..)"),
            Self::Rds { secret_arn, host, port, name } => formatter
                .debug_struct("Rds")
                .field("secret_arn", secret_arn)
                .field("host", host)
                .field("port", port)
                .field("name", name)
                .finish(),
        }
    }
}

/// Everything a function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `CLOUDBASH_FUNCTION`.
    pub function: Function,
    /// `CLOUDBASH_EVENTS_TABLE`: the log's events table.
    pub events_table: Option<String>,
    /// `CLOUDBASH_LOG_TABLE`: command results, index cursors, checkpoints and snapshots (default: the events table's
    /// name plus `-log`).
    pub log_table: Option<String>,
    /// `CLOUDBASH_INDEX_TABLE`: the log's order, as the indexer writes it (default: the events table's name plus
    /// `-index`).
    pub index_table: Option<String>,
    /// `CLOUDBASH_CARTS_TABLE`: the carts read model.
    pub carts_table: Option<String>,
    /// `CLOUDBASH_STREAM`: the Kinesis stream of the bus.
    pub stream_name: Option<String>,
    /// `CLOUDBASH_DATABASE_URL`, or `CLOUDBASH_DATABASE_SECRET_ARN` with `CLOUDBASH_DATABASE_HOST`,
    /// `CLOUDBASH_DATABASE_PORT` and `CLOUDBASH_DATABASE_NAME`.
    pub database: Option<DatabaseConfig>,
    /// `CLOUDBASH_BUCKETS_PER_CONCERT`: the buckets a concert is published with, so that containers sell it side by
    /// side (`ticketing::bucket`; default and most: [`ticketing_app::BUCKETS_PER_CONCERT_MAX`]; 0 sells from the
    /// concert's own stream).
    pub buckets_per_concert: u16,
    /// `CLOUDBASH_USER_POOL_ID`: the Cognito user pool whose accounts an organiser disables with a customer.
    pub user_pool_id: Option<String>,
}

impl Config {
    /// The configuration in the process's environment.
    pub fn from_env() -> Result<Self, LambdaError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration in the variables `lookup` finds (empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LambdaError> {
        let get = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let function = Function::parse(&get("CLOUDBASH_FUNCTION").unwrap_or_default())?;
        let database = match (get("CLOUDBASH_DATABASE_URL"), get("CLOUDBASH_DATABASE_SECRET_ARN")) {
            (Some(url), _) => Some(DatabaseConfig::Url(url)),
            (None, Some(secret_arn)) => {
                let host = get("CLOUDBASH_DATABASE_HOST").ok_or(LambdaError::missing("CLOUDBASH_DATABASE_HOST"))?;
                let name = get("CLOUDBASH_DATABASE_NAME").ok_or(LambdaError::missing("CLOUDBASH_DATABASE_NAME"))?;
                let port = match get("CLOUDBASH_DATABASE_PORT") {
                    None => 5432,
                    Some(port) => port.parse().map_err(|_| LambdaError::Config {
                        name: "CLOUDBASH_DATABASE_PORT",
                        problem: format!("is {port:?}, not a port number"),
                    })?,
                };
                Some(DatabaseConfig::Rds { secret_arn, host, port, name })
            }
            (None, None) => None,
        };
        let buckets_per_concert = match get("CLOUDBASH_BUCKETS_PER_CONCERT") {
            None => ticketing_app::BUCKETS_PER_CONCERT_MAX,
            Some(buckets) => {
                buckets.parse().ok().filter(|buckets| *buckets <= ticketing_app::BUCKETS_PER_CONCERT_MAX).ok_or_else(
                    || LambdaError::Config {
                        name: "CLOUDBASH_BUCKETS_PER_CONCERT",
                        problem: format!("is {buckets:?}, not 0 to {}", ticketing_app::BUCKETS_PER_CONCERT_MAX),
                    },
                )?
            }
        };
        Ok(Self {
            function,
            events_table: get("CLOUDBASH_EVENTS_TABLE"),
            log_table: get("CLOUDBASH_LOG_TABLE"),
            index_table: get("CLOUDBASH_INDEX_TABLE"),
            carts_table: get("CLOUDBASH_CARTS_TABLE"),
            stream_name: get("CLOUDBASH_STREAM"),
            database,
            buckets_per_concert,
            user_pool_id: get("CLOUDBASH_USER_POOL_ID"),
        })
    }
}

/// The value of a variable a piece of work needs.
pub(crate) fn required<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, LambdaError> {
    value.as_deref().ok_or(LambdaError::missing(name))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(variables: &[(&str, &str)]) -> Result<Config, LambdaError> {
        let variables: HashMap<String, String> =
            variables.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        Config::from_lookup(|name| variables.get(name).cloned())
    }

    #[test]
    fn the_template_s_variables_make_an_rds_configuration() {
        let config = config(&[
            ("CLOUDBASH_FUNCTION", "projector"),
            ("CLOUDBASH_EVENTS_TABLE", "shop-events"),
            ("CLOUDBASH_LOG_TABLE", "shop-events-log"),
            ("CLOUDBASH_INDEX_TABLE", "shop-events-index"),
            ("CLOUDBASH_CARTS_TABLE", "shop-carts"),
            ("CLOUDBASH_STREAM", "shop-bus"),
            ("CLOUDBASH_DATABASE_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1"),
            ("CLOUDBASH_DATABASE_HOST", "db.internal"),
            ("CLOUDBASH_DATABASE_PORT", "5432"),
            ("CLOUDBASH_DATABASE_NAME", "cloudbash"),
        ])
        .expect("a complete configuration");

        assert_eq!(config.function, Function::Projector);
        assert_eq!(config.events_table.as_deref(), Some("shop-events"));
        assert_eq!(config.index_table.as_deref(), Some("shop-events-index"));
        assert_eq!(
            config.database,
            Some(DatabaseConfig::Rds {
                secret_arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1".to_owned(),
                host: "db.internal".to_owned(),
                port: 5432,
                name: "cloudbash".to_owned(),
            })
        );
    }

    #[test]
    fn concerts_sell_from_every_bucket_unless_told_otherwise() {
        let buckets = |value: &str| config(&[("CLOUDBASH_FUNCTION", "api"), ("CLOUDBASH_BUCKETS_PER_CONCERT", value)]);

        assert_eq!(buckets("").expect("unset").buckets_per_concert, ticketing_app::BUCKETS_PER_CONCERT_MAX);
        assert_eq!(buckets("0").expect("none").buckets_per_concert, 0);
        assert_eq!(buckets("3").expect("three").buckets_per_concert, 3);
        for wrong in ["9", "-1", "many"] {
            let error = buckets(wrong).expect_err("out of range");
            assert!(
                matches!(error, LambdaError::Config { name: "CLOUDBASH_BUCKETS_PER_CONCERT", .. }),
                "{wrong}: {error}"
            );
        }
    }

    #[test]
    fn a_database_url_wins_over_the_secret_and_never_shows_in_debug_output() {
        let config = config(&[
            ("CLOUDBASH_FUNCTION", "api"),
            ("CLOUDBASH_DATABASE_URL", "postgres://user:hunter2@localhost/shop"),
            ("CLOUDBASH_DATABASE_SECRET_ARN", "arn"),
        ])
        .expect("a configuration");

        assert_eq!(config.database, Some(DatabaseConfig::Url("postgres://user:hunter2@localhost/shop".to_owned())));
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn every_function_of_the_template_is_known_and_nothing_else() {
        for name in ["api", "forwarder", "indexer", "projector", "hold-expiry", "migrate"] {
            let function = Function::parse(name).expect("a function of the template");
            assert_eq!(function.name(), name, "the name its metrics carry is the template's");
        }
        assert!(matches!(config(&[]), Err(LambdaError::UnknownFunction(name)) if name.is_empty()));
        assert!(matches!(Function::parse("holdexpiry"), Err(LambdaError::UnknownFunction(_))));
    }

    #[test]
    fn a_secret_without_its_host_or_with_a_bad_port_is_refused() {
        let missing_host = config(&[("CLOUDBASH_FUNCTION", "api"), ("CLOUDBASH_DATABASE_SECRET_ARN", "arn")]);
        assert!(matches!(missing_host, Err(LambdaError::Config { name: "CLOUDBASH_DATABASE_HOST", .. })));

        let bad_port = config(&[
            ("CLOUDBASH_FUNCTION", "api"),
            ("CLOUDBASH_DATABASE_SECRET_ARN", "arn"),
            ("CLOUDBASH_DATABASE_HOST", "db"),
            ("CLOUDBASH_DATABASE_NAME", "cloudbash"),
            ("CLOUDBASH_DATABASE_PORT", "fifty"),
        ]);
        assert!(matches!(bad_port, Err(LambdaError::Config { name: "CLOUDBASH_DATABASE_PORT", .. })));
    }
}
