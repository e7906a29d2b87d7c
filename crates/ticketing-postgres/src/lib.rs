//! # ticketing-postgres: the shop's relational read models on PostgreSQL
//!
//! In the AWS configuration the log lives in DynamoDB and reaches the read
//! models over the bus (`es-aws-bus`). What is searched, listed, joined and
//! summed lives here, in PostgreSQL: the catalogue, venues, ticket types
//! with their availability, orders, attendees and daily sales. Carts are
//! read by key only and live in DynamoDB (`ticketing-dynamodb`); this crate
//! does not know them.
//!
//! **One sink per read model.** Each [`ReadModel`] is its own
//! [`es_aws_bus::sink::BusSink`] ([`PostgresSink`]) with its own tables,
//! applied versions and checkpoints, as the embedded mode has one projector
//! per read model: each can be rebuilt, fall behind or fail alone, and a
//! bug in one does not stop the others. The price is that a delivery is
//! applied once per read model, in six short transactions instead of one.
//!
//! **Safe whatever the bus does.** A delivery is applied in one transaction
//! with its bus checkpoint. Every row is guarded by the last applied
//! version of its source aggregate (`applied_versions`): an event at or
//! below it changes nothing, so duplicates, redeliveries and consumers
//! racing each other are harmless, and `sink::prepare` hands over each
//! aggregate's versions without gaps. Nothing depends on the order of two
//! aggregates' events, which the bus does not keep: the catalogue joins a
//! concert to its venue when read, whichever arrived first.
//!
//! **Answers as in the embedded mode.** [`PostgresQueries`] implements the
//! read model ports of `ticketing_app::queries` (all but the carts') with
//! the paging, ordering, cursors and search of
//! `ticketing_sqlite::SqliteQueries`; the tests hold both to the same
//! answers for the same log. It has no log position to offer (its
//! `ReadProgress::position` is `Position::START`); read-your-writes asks
//! it per aggregate instead (`ReadProgress::shown`, built on
//! [`PostgresQueries::applied_versions`]).
//!
//! **Rebuilt from the log.** [`rebuild`] empties read models and applies
//! the whole log to them again, in one transaction.
//!
//! SQL about tickets on PostgreSQL lives here and nowhere else. The schema
//! is in `migrations/`, embedded and applied by [`migrate`].

mod error;
mod holds;
pub mod limits;
mod projectors;
mod queries;
mod rows;
mod sinks;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use es_aws_bus::sink::BusSink;
use sqlx_core::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx_postgres::{PgPool, PgPoolOptions};

pub use error::PostgresError;
pub use projectors::ReadModel;
pub use queries::PostgresQueries;
pub use sinks::{PostgresSink, rebuild};

/// Opens a pool of [`limits::POOL_CONNECTIONS_MAX`] connections to `url`
/// (`postgres://user:password@host:port/database`).
pub async fn connect(url: &str) -> Result<PgPool, PostgresError> {
    let pool = PgPoolOptions::new()
        .max_connections(limits::POOL_CONNECTIONS_MAX)
        .acquire_timeout(Duration::from_secs(limits::POOL_ACQUIRE_SECONDS_MAX))
        .connect(url)
        .await?;
    Ok(pool)
}

/// Brings the read models' schema up to date (safe to run from several
/// processes at once: sqlx serializes them with an advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), PostgresError> {
    Migrator::new(Embedded).await?.run(pool).await?;
    Ok(())
}

/// The migrations in `migrations/`, compiled in.
#[derive(Debug)]
struct Embedded;

const MIGRATIONS: [(i64, &str, &str); 6] = [
    (1, "read models", include_str!("../migrations/0001_read_models.sql")),
    (2, "holds", include_str!("../migrations/0002_holds.sql")),
    (3, "hold keepers", include_str!("../migrations/0003_hold_keepers.sql")),
    (4, "concert profile", include_str!("../migrations/0004_concert_profile.sql")),
    (5, "order payments", include_str!("../migrations/0005_order_payments.sql")),
    (6, "refunds", include_str!("../migrations/0006_refunds.sql")),
];

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<Vec<Migration>, Box<dyn std::error::Error + Send + Sync>>> + Send + 'static>,
    > {
        let migrations = MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// Every read model of the shop on one database: the sinks to feed from
/// the bus, the queries over them, and their rebuild.
#[derive(Clone, Debug)]
pub struct PostgresReadModels {
    pool: PgPool,
}

impl PostgresReadModels {
    /// The read models in the database behind `pool`, migrating its schema
    /// first.
    pub async fn open(pool: PgPool) -> Result<Self, PostgresError> {
        migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool it uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The sink of one read model.
    pub fn sink(&self, model: ReadModel) -> PostgresSink {
        PostgresSink::new(self.pool.clone(), model)
    }

    /// Every read model's sink, to feed from the bus (each with its own
    /// checkpoints).
    pub fn sinks(&self) -> Vec<Arc<dyn BusSink>> {
        ReadModel::ALL.into_iter().map(|model| Arc::new(self.sink(model)) as Arc<dyn BusSink>).collect()
    }

    /// The queries over these read models.
    pub fn queries(&self) -> PostgresQueries {
        PostgresQueries::new(self.pool.clone())
    }

    /// Rebuilds every read model from `log` (see [`rebuild`]).
    pub async fn rebuild_all(&self, log: &dyn es_core::EventStore) -> Result<es_core::Position, PostgresError> {
        rebuild(&self.pool, &ReadModel::ALL, log).await
    }
}
